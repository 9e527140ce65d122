"""The demo's child processes (worker, sink, live simulator) and what they cost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from common.errors import UserError

IOC: Final = str(Path(sys.executable).parent / "ioc")
"""The ``ioc`` command of this installation."""


@dataclass
class Children:
    """Processes started by the demo, each logging to ``<log_dir>/<name>.log``."""

    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        """Start ``argv`` as ``name`` in its own session (Ctrl-C reaches the demo only)."""
        log = (self.log_dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def check(self) -> None:
        """Fail with the log path when a child died."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise UserError(
                    f"the {name} exited with code {proc.returncode}; "
                    f"see its log: {self.log_dir / (name + '.log')}"
                )

    def interrupt(self, name: str, timeout: float = 30.0) -> int | None:
        """Stop child ``name`` with SIGTERM, which ``ioc simulate`` takes as Ctrl-C (even
        where SIGINT is ignored, as in a background job); kill it after ``timeout``."""
        proc = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def stop(self) -> None:
        """Terminate every child still running (kill after 20 s)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass(frozen=True)
class Usage:
    """CPU time and resident memory of one process, from /proc (Linux)."""

    cpu_seconds: float
    rss_bytes: int

    @classmethod
    def of(cls, pid: int) -> Usage | None:
        """The usage of ``pid`` now; None when /proc cannot tell (gone, not Linux)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return None
        fields = stat.rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)
        rss = next(
            (line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")), "0"
        )
        return cls(ticks / os.sysconf("SC_CLK_TCK"), int(rss) * 1024)

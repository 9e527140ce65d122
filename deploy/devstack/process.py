"""Background server processes: where their logs and pid files live, start, find, stop."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.config import cache_dir

HOST = "127.0.0.1"


def dev_dir() -> Path:
    """Directory of the local servers' logs, pid files and data (under the cache)."""
    path = cache_dir() / "dev"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path(name: str) -> Path:
    """Log file of server ``name``."""
    path = dev_dir() / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def pid_path(name: str) -> Path:
    """Pid file of server ``name`` (written only for processes ``ioc dev up`` started)."""
    return dev_dir() / f"{name}.pid"


@contextlib.contextmanager
def stack_lock() -> Iterator[None]:
    """Serialise concurrent ``ioc dev up/down`` calls (e.g. parallel pytest sessions)."""
    with (dev_dir() / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def port_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class PidFile:
    """What ``ioc dev up`` remembers about a process it started."""

    pid: int
    program: str

    def alive(self) -> bool:
        """The process still runs and is the program we started (not a recycled pid)."""
        try:
            raw = Path(f"/proc/{self.pid}/cmdline").read_bytes()
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        argv0 = raw.split(b"\0", 1)[0].decode(errors="replace")
        return state != "Z" and Path(argv0).name == self.program


def read_pidfile(name: str) -> PidFile | None:
    """The pid file of ``name``, or None when absent or unreadable."""
    try:
        data = json.loads(pid_path(name).read_text())
        return PidFile(pid=int(data["pid"]), program=str(data["program"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def spawn(name: str, argv: Sequence[str], program: str, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` detached (own session, output to the log) and write its pid file.

    ``program`` is the basename the process runs as once started (after chroot/exec).
    """
    log = log_path(name)
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=dev_dir(),
        )
    pid_path(name).write_text(json.dumps({"pid": proc.pid, "program": program}))
    return proc.pid


def exited(pid: int) -> bool:
    """Whether ``pid`` is gone (reaps it when it is our child)."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def stop(pid: int, grace: float = 20.0, first: signal.Signals = signal.SIGINT) -> bool:
    """``first`` (SIGINT: clean for postgres and prometheus), then SIGTERM, then SIGKILL.

    Returns True when the process had to be killed.
    """
    steps = ((first, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))
    for sig, wait in steps:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if exited(pid):
                return sig == signal.SIGKILL
            time.sleep(0.1)
    return True


def tail(path: Path, lines: int = 15) -> str:
    """Last lines of a log file (empty when missing)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])

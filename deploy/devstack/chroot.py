"""The TimescaleDB chroot: built once by debootstrap into the machine cache, then reused."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from common.config import cache_dir, load
from common.errors import UserError
from deploy.devstack.server import Progress

#: Bump when the build recipe changes: an older chroot is then rebuilt.
RECIPE = "trixie-minbase-postgresql-17-timescaledb-1"
MARKER = ".ioc-recipe"
BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "local" / "build-timescaledb-chroot.sh"
MIRROR_ENV = "IOC_DEBIAN_MIRROR"


def chroot_root() -> Path:
    """Where the finished chroot lives."""
    return cache_dir() / "timescaledb-trixie"


def is_built(root: Path) -> bool:
    """Whether ``root`` holds a finished chroot of the current recipe."""
    try:
        return (root / MARKER).read_text().strip() == RECIPE
    except OSError:
        return False


def require_root(what: str) -> None:
    """Refuse early, with a hint, when not running as root."""
    if os.geteuid() != 0:
        raise UserError(
            f"{what} needs root (debootstrap and chroot): run `sudo .venv/bin/ioc dev up`, "
            "or point IOC_DATABASE_URL / IOC_PG_PORT at a TimescaleDB you already run"
        )


def ensure_chroot(progress: Progress) -> Path:
    """Build the chroot unless a finished one of this recipe exists; return its path.

    Builds into a temporary sibling and renames it at the end, so an interrupted build is
    never reused. Callers hold the stack lock.
    """
    root = chroot_root()
    if is_built(root):
        return root
    require_root("building the TimescaleDB chroot")
    for tool in ("debootstrap", "chroot"):
        if shutil.which(tool) is None:
            raise UserError(f"`{tool}` is missing: apt-get install debootstrap coreutils")
    root.parent.mkdir(parents=True, exist_ok=True)
    for stale in root.parent.glob(f"{root.name}.partial-*"):
        progress(f"postgres: removing interrupted build {stale}")
        shutil.rmtree(stale, ignore_errors=True)
    partial = root.parent / f"{root.name}.partial-{os.getpid()}"
    argv = [str(BUILD_SCRIPT), str(partial)]
    if mirror := load().debian_mirror:
        argv.append(mirror)
    progress(f"postgres: building the TimescaleDB chroot in {root} (once; ~40 s, ~0.5 GB)")
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    output: list[str] = []
    for line in proc.stdout:
        output.append(line.rstrip())
        if line.startswith("[chroot]"):
            progress(f"postgres: {line.rstrip()}")
    if proc.wait() != 0:
        shutil.rmtree(partial, ignore_errors=True)
        detail = "\n".join(output[-20:])
        raise UserError(
            f"building the TimescaleDB chroot failed ({BUILD_SCRIPT}); is "
            f"deb.debian.org reachable (or set {MIRROR_ENV})?\n{detail}"
        )
    (partial / MARKER).write_text(RECIPE + "\n")
    if root.exists():
        old = root.parent / f"{root.name}.partial-old-{os.getpid()}"
        root.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    partial.rename(root)
    progress(f"postgres: chroot ready in {time.monotonic() - started:.0f} s")
    return root


def numeric_ids(root: Path, user: str = "postgres") -> tuple[int, int]:
    """uid and gid of ``user`` inside the chroot."""
    ids = []
    for flag in ("-u", "-g"):
        out = subprocess.run(
            ["chroot", str(root), "id", flag, user], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise UserError(f"no user {user} in the chroot {root}: delete it and run ioc dev up")
        ids.append(int(out.stdout.strip()))
    return ids[0], ids[1]


def in_chroot_as(root: Path, uid: int, gid: int, argv: list[str]) -> list[str]:
    """argv that runs ``argv`` inside the chroot as uid:gid with a clean environment."""
    return [
        "chroot",
        f"--userspec={uid}:{gid}",
        str(root),
        "env",
        "-i",
        "LANG=C.UTF-8",
        "PATH=/usr/bin:/bin",
        *argv,
    ]

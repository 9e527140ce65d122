"""``ioc dev up | down | status``: the local servers, without Docker."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from common.config import cache_dir
from deploy.devstack import process, stack


def _names(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    return [name.strip() for name in raw.split(",") if name.strip()]


def _up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    record_to = Path(args.record_started) if args.record_started else None
    outcomes = stack.up(_names(args.only), build_only=args.build_only, record_to=record_to)
    for outcome in outcomes:
        server = outcome.server
        if outcome.state == "started":
            extra = f"(pid {outcome.pid}, log {process.log_path(server.name)})"
        elif outcome.state == "built":
            extra = "(installed, not started)"
        else:
            extra = ""
        print(f"{server.name:<13} {server.address:<16} {outcome.state} {extra}".rstrip())
    print(f"ready in {time.monotonic() - started:.1f} s; cache {cache_dir()}")
    return 0


def _down(args: argparse.Namespace) -> int:
    only = _names(args.only)
    if args.only_recorded:
        only = stack.recorded(Path(args.only_recorded))
        if not only:
            print("nothing recorded: no server to stop")
            return 0
    for server, state in stack.down(only):
        print(f"{server.name:<13} {server.address:<16} {state}")
    return 0


def _status(args: argparse.Namespace) -> int:
    lines, all_up = stack.status_lines()
    print("\n".join(lines))
    return 0 if all_up else 1


def register(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``ioc dev`` and its subcommands."""
    dev = add_parser(
        "dev",
        help="local servers without Docker (Apache Kafka, TimescaleDB, Prometheus, ...)",
        description=(
            "Run the local development servers on 127.0.0.1: Apache Kafka (KRaft, jars from "
            "Maven Central), TimescaleDB from a Debian chroot, Prometheus and Alertmanager. "
            f"Logs, pid files and data live under {cache_dir() / 'dev'} (IOC_CACHE_DIR)."
        ),
    )
    sub = dev.add_subparsers(dest="dev_command", metavar="ACTION", required=True)
    names = ",".join(stack.NAMES)

    up = sub.add_parser(
        "up",
        help="start every server that is not answering (idempotent)",
        description="Start the servers that are not answering; answering ones are left alone.",
    )
    up.add_argument("--only", metavar="NAME[,NAME]", help=f"just these servers ({names})")
    up.add_argument(
        "--build-only",
        action="store_true",
        help="only install what starting needs (Kafka jars, TimescaleDB chroot), start nothing",
    )
    up.add_argument(
        "--record-started",
        metavar="FILE",
        help="append the names of the servers this call starts to FILE",
    )
    up.set_defaults(handler=_up)

    down = sub.add_parser(
        "down",
        help="stop the servers that `ioc dev up` started",
        description="Stop servers whose pid file `ioc dev up` wrote; others are left alone.",
    )
    down.add_argument("--only", metavar="NAME[,NAME]", help=f"just these servers ({names})")
    down.add_argument(
        "--only-recorded",
        metavar="FILE",
        help="stop just the servers named in FILE (written by up --record-started)",
    )
    down.set_defaults(handler=_down)

    status = sub.add_parser(
        "status",
        help="one line per server: name, address, up/down, version (exit 1 if any is down)",
        description="Show name, address, up/down and version of each local server.",
    )
    status.set_defaults(handler=_status)

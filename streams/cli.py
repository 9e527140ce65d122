"""The ``ioc`` command: one entry point, one subcommand per job.

Each subcommand lives in its own module, which exposes ``register(subparsers)``; the
registered handler returns the process exit code (0 ok, 1 a finding such as a replay
difference, 2 an error the user can act on).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from streams.errors import UserError

SUBCOMMAND_MODULES: tuple[str, ...] = (
    "deploy.devstack.cli",
    "streams.worker_cli",
    "streams.demo",
    "sinks.cli",
    "dashboards.cli",
    "streams.simulator.cli",
    "streams.replay.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="ioc",
        description="smartcity-ioc: stream-processing core of the provincial operations center.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ioc``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args))
    except UserError as error:
        print(f"ioc {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

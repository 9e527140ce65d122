"""The ``ioc`` command: one entry point, one subcommand per job.

Each subcommand lives in its own module, which exposes ``register(subparsers)``; the
registered handler returns the process exit code (0 ok, 1 a finding such as a replay
difference, 2 an error the user can act on).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from common.errors import UserError
from dashboards import cli as dashboards_cli
from deploy.devstack import cli as dev_cli
from ioc import demo
from simulator import cli as simulator_cli
from sinks import cli as sink_cli
from streams.replay import cli as replay_cli
from streams.worker import cli as worker_cli

SUBCOMMANDS = (dev_cli, worker_cli, demo, sink_cli, dashboards_cli, simulator_cli, replay_cli)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="ioc",
        description="smartcity-ioc: stream-processing core of the provincial operations center.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers.add_parser)
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

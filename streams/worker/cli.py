"""``ioc worker``: start a stream worker (the app of ``faust -A streams.worker.app worker``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from common import metrics
from common.config import load
from schemas.topics import RAW_TOPICS
from streams.worker import garbage
from streams.worker.preflight import check_partitions


def register(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``worker`` subcommand."""
    parser = add_parser(
        "worker",
        help="run a stream worker: raw topics -> windows -> city.kpi.v1",
        description=(
            "Consume the three raw topics, validate, aggregate into event-time windows and "
            "produce final KPI rows to city.kpi.v1. Connection settings come from IOC_* "
            "environment variables (see README)."
        ),
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="port of /metrics (default IOC_METRICS_PORT or 9464; 0 disables)",
    )
    parser.add_argument("--loglevel", default="warning", help="faust log level (default warning)")
    parser.set_defaults(handler=run)


def run(args: Any) -> int:
    """Run the worker until it is stopped (SIGINT/SIGTERM)."""
    import faust

    settings = load()
    problems = check_partitions(settings.kafka_bootstrap, RAW_TOPICS, settings.partitions)
    for problem in problems:
        print(f"ioc worker: {problem}", file=sys.stderr)
    if problems:
        return 2
    port = settings.ports.worker_metrics if args.metrics_port is None else args.metrics_port
    if port:
        metrics.serve(metrics.WORKER_REGISTRY, port, settings.metrics_addr)
    from streams.worker.app import app

    logging.basicConfig(level=args.loglevel.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLogger().level))
    garbage.take_over()
    worker = faust.Worker(app, loglevel=args.loglevel)
    worker.execute_from_commandline()
    return 0

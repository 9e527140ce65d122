"""Simulator throughput (generator alone, to a JSONL file, to the local Kafka broker) and
the cost of ``schemas.decode.decode`` per event of each source.

Usage: ``.venv/bin/python bench/simulator_bench.py [--events 300000] [--repeat 3]``
(the broker must be up: ``.venv/bin/ioc dev up``). Each figure is the median of the runs,
measured through ``ioc simulate`` itself (generation, fault injection, summary, I/O).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import statistics
import sys
import tempfile
import time
import uuid
from itertools import islice
from pathlib import Path

import orjson

from common import config
from ioc.cli import main as ioc
from schemas.decode import decode
from simulator.faults import FaultRates
from simulator.generator import SimConfig, generate

START = "2025-03-14T01:00:00Z"
FAULTS = ["--malformed", "0.001", "--invalid", "0.001", "--duplicates", "0.001"]


def _generator_rate(events: int) -> float:
    sim = SimConfig(start_ms=1_741_914_000_000, faults=FaultRates(malformed=0.001, invalid=0.001))
    started = time.perf_counter()
    count = sum(1 for _ in islice(generate(sim), events))
    return count / (time.perf_counter() - started)


def _decode_micros(repeat: int) -> dict[str, float]:
    """Median microseconds per ``decode`` call, per topic, over one simulated hour."""
    sim = SimConfig(start_ms=1_741_914_000_000, end_ms=1_741_914_000_000 + 3_600_000)
    by_topic: dict[str, list[tuple[bytes | None, int]]] = {}
    for message in generate(sim):
        by_topic.setdefault(message.topic, []).append((message.value, message.sim_ms))
    result = {}
    for topic, values in sorted(by_topic.items()):
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            for value, stamp in values:
                decode(topic, value, produced_at_ms=stamp)
            runs.append((time.perf_counter() - started) / len(values) * 1e6)
        result[topic] = statistics.median(runs)
    return result


def _run(argv: list[str], summary: Path) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        code = ioc([*argv, "--summary-json", str(summary)])
    if code != 0:
        raise SystemExit(f"ioc {' '.join(argv)} failed")
    document = orjson.loads(summary.read_bytes())
    return float(document["totals"]["messages"]) / float(document["elapsed_seconds"])


async def _topics(bootstrap: str, prefix: str, delete: bool) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    names = [
        f"{prefix}city.{name}"
        for name in ("portal.dossier.v1", "network.probe.v1", "farm.sensor.v1")
    ]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if delete:
            await admin.delete_topics(names)
        else:
            await admin.create_topics(
                [NewTopic(name=n, num_partitions=4, replication_factor=1) for n in names]
            )
    finally:
        await admin.close()


def main() -> int:
    """Print events/s of the generator, the file output and the Kafka output."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bootstrap", default=config.load().kafka_bootstrap)
    parser.add_argument("--acks", choices=("1", "all"), default="all")
    args = parser.parse_args()
    base = ["simulate", "--events", str(args.events), "--start", START, *FAULTS]
    generator, to_file, to_kafka = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "summary.json"
        for _ in range(args.repeat):
            generator.append(_generator_rate(args.events))
            out = Path(tmp) / "events.jsonl"
            to_file.append(_run([*base, "--out", str(out)], summary))
            prefix = f"bench-{uuid.uuid4().hex[:8]}."
            asyncio.run(_topics(args.bootstrap, prefix, delete=False))
            try:
                to_kafka.append(
                    _run(
                        [
                            *base,
                            "--bootstrap",
                            args.bootstrap,
                            "--acks",
                            args.acks,
                            "--topic-prefix",
                            prefix,
                        ],
                        summary,
                    )
                )
            finally:
                asyncio.run(_topics(args.bootstrap, prefix, delete=True))
    print(f"events per run: {args.events}, runs: {args.repeat}, acks={args.acks}")
    for topic, micros in _decode_micros(args.repeat).items():
        print(f"decode {topic:26s} {micros:5.2f} us/event")
    for label, rates in (
        ("generator only", generator),
        ("ioc simulate --out FILE", to_file),
        ("ioc simulate -> Kafka", to_kafka),
    ):
        print(
            f"{label:26s} median {statistics.median(rates):>9,.0f} events/s  "
            f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Helpers for worker integration tests: a private Apache Kafka, worker processes, topic I/O.

The product's topic names are fixed, so a test that runs ``ioc worker`` on them gets a
broker of its own (:class:`PrivateBroker`, ready in about 5 s); tests of generic topics share
the dev broker (``new_topic`` in tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from common.metrics import scrape, total
from deploy.devstack.kafka import broker_answers
from deploy.devstack.kafka_node import KafkaNode
from schemas.topics import CLOCK_TOPIC, DEADLETTER_TOPIC, KPI_TOPIC, LATE_TOPIC, RAW_TOPICS
from tests.support.kafka import Message

IOC = Path(sys.executable).parent / "ioc"
PRODUCT_TOPICS = (*RAW_TOPICS, KPI_TOPIC, DEADLETTER_TOPIC, LATE_TOPIC, CLOCK_TOPIC)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_formatted: list[Path] = []


def _formatted_data() -> Path:
    """A freshly formatted KRaft data directory, made once per test session and copied
    (formatting starts a JVM: about 2 s)."""
    if not _formatted:
        home = Path(tempfile.mkdtemp(prefix="ioc-kafka-template-"))
        atexit.register(shutil.rmtree, home, True)
        KafkaNode(home, free_port(), free_port()).prepare()
        _formatted.append(home / "data")
    return _formatted[0]


async def create_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    """Create topics and wait until each partition has a leader in the metadata."""
    wanted = list(names)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in wanted])
        deadline = time.monotonic() + 30
        while True:
            described = await admin.describe_topics(wanted)
            ready = [
                t
                for t in described
                if not t.get("error_code")
                and len(t["partitions"]) == partitions
                and all(p["leader"] >= 0 for p in t["partitions"])
            ]
            if len(ready) == len(wanted):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"topics {wanted} have no leaders after 30 s on {bootstrap}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


class PrivateBroker:
    """An Apache Kafka node of its own on free ports, data in ``log_dir``, with the
    product's topics created."""

    def __init__(self, log_dir: Path, partitions: int = 4) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.partitions = partitions
        self.node = KafkaNode(
            log_dir / f"kafka-{self.port}", self.port, free_port(), partitions, heap="512m"
        )
        shutil.copytree(_formatted_data(), self.node.data_dir)
        self.node.prepare()
        self.log = open(log_dir / f"kafka-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = self._start()
        asyncio.run(create_topics(self.bootstrap, PRODUCT_TOPICS, partitions))

    def _start(self) -> subprocess.Popen[bytes]:
        """Run the node on its data dir and port; return once it answers (90 s at most)."""
        proc = subprocess.Popen(self.node.command(), stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while not broker_answers(self.bootstrap):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                self.log.close()
                raise RuntimeError(f"Kafka did not start on {self.bootstrap}; see {self.log.name}")
            time.sleep(0.2)
        return proc

    def kill9(self) -> None:
        """SIGKILL the node: no clean shutdown, its data dir stays for :meth:`restart`."""
        self.proc.kill()
        self.proc.wait()

    def restart(self) -> float:
        """Start the node again on the same data dir and port (after :meth:`kill9`); the
        seconds until it answers."""
        started = time.monotonic()
        self.proc = self._start()
        return time.monotonic() - started

    def stop(self) -> None:
        """Stop the broker at once (SIGKILL: its data is thrown away with the test)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()

    def __enter__(self) -> PrivateBroker:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class WorkerProcess:
    """``ioc worker`` as a child process against a given broker."""

    def __init__(
        self, bootstrap: str, app_id: str, log_path: Path, **env: str | float | int
    ) -> None:
        self.metrics_port = free_port()
        self.env = {
            **os.environ,
            "IOC_KAFKA_BOOTSTRAP": bootstrap,
            "IOC_APP_ID": app_id,
            "IOC_IDLE_TIMEOUT_SECONDS": "8",
            "IOC_STATE_DIR": str(log_path.parent / "state"),
            **{k: str(v) for k, v in env.items()},
        }
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        """Start (or restart) the worker."""
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                str(IOC),
                "worker",
                "--metrics-port",
                str(self.metrics_port),
                "--loglevel",
                self.env.get("IOC_TEST_LOGLEVEL", "warning"),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def kill9(self) -> None:
        """SIGKILL: no clean shutdown, no commit, no flush."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        """Clean stop (SIGTERM), SIGKILL after 20 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def metrics(self, *names: str) -> dict[str, float]:
        """Current /metrics samples (name{labels} -> value), {} when not answering; only
        the metrics ``names`` when given."""
        return scrape(self.metrics_port, names=names)


metric_sum = total


def read_jsonl(path: Path) -> list[Message]:
    """Messages of a simulator ``--out`` file."""
    out: list[Message] = []
    for line in path.read_bytes().splitlines():
        item = orjson.loads(line)
        key = item.get("key")
        value = item.get("value")
        out.append(
            (
                item["topic"],
                None if key is None else str(key).encode(),
                None if value is None else str(value).encode(),
            )
        )
    return out


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> None:
    """Poll ``predicate`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def province_messages(
    seed: int, minutes: int, start: str = "2026-03-10T06:00:00+00:00"
) -> list[Message]:
    """A deterministic small province: sensors, sites and dossiers in all districts, one
    reading or probe per entity per minute, with duplicates, late and malformed records."""
    import datetime as dt
    import random

    from schemas.places import District
    from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC

    rng = random.Random(seed)
    t0 = dt.datetime.fromisoformat(start)
    out: list[Message] = []
    serial = 0
    for minute in range(minutes):
        for district in District:
            d = district.value
            key = d.encode()
            for s in range(6):
                serial += 1
                at = t0 + dt.timedelta(minutes=minute, seconds=rng.uniform(0, 59))
                event = {
                    "event_id": f"f{serial}",
                    "source": "test",
                    "occurred_at": at.isoformat(),
                    "schema_version": 1,
                    "district": d,
                    "sensor_id": f"{d}-sal-{s}",
                    "farm_id": f"{d}-farm",
                    "zone": "z1",
                    "kind": "salinity",
                    "value": round(rng.uniform(0, 8), 3),
                    "battery_pct": round(rng.uniform(10, 100), 1),
                }
                out.append((FARM_TOPIC, key, orjson.dumps(event)))
            for s in range(4):
                serial += 1
                at = t0 + dt.timedelta(minutes=minute, seconds=rng.uniform(0, 59))
                up = rng.random() > 0.05
                event = {
                    "event_id": f"n{serial}",
                    "source": "test",
                    "occurred_at": at.isoformat(),
                    "schema_version": 1,
                    "district": d,
                    "site_id": f"{d}-4g-{s}",
                    "technology": rng.choice(["2G", "4G", "5G"]),
                    "up": up,
                    "latency_ms": round(rng.uniform(5, 200), 2) if up else None,
                    "loss_pct": round(rng.uniform(0, 3), 2) if up else None,
                    "downlink_mbps": round(rng.uniform(10, 200), 1) if up else None,
                    "uplink_mbps": 5.0 if up else None,
                    "subscribers": rng.randint(0, 500),
                }
                out.append((NETWORK_TOPIC, key, orjson.dumps(event)))
            serial += 1
            at = t0 + dt.timedelta(minutes=minute, seconds=rng.uniform(0, 59))
            dossier = {
                "event_id": f"p{serial}",
                "source": "test",
                "occurred_at": at.isoformat(),
                "schema_version": 1,
                "district": d,
                "dossier_id": f"hs{serial}",
                "procedure_code": "1.001",
                "agency_id": f"{d}-ubnd",
                "level": "district",
                "channel": rng.choice(["online", "counter"]),
                "status": "submitted",
                "received_at": at.isoformat(),
                "components_total": 3,
                "components_reused": rng.randint(0, 3),
            }
            out.append((PORTAL_TOPIC, key, orjson.dumps(dossier)))
        for _ in range(3):
            roll = rng.random()
            if roll < 0.4 and out:
                out.append(out[rng.randrange(max(0, len(out) - 200), len(out))])
            elif roll < 0.7 and out:
                topic, key, value = out[rng.randrange(max(0, len(out) - 400), len(out))]
                if value is None or value.startswith(b'{"event_id": 42'):
                    continue
                late = orjson.loads(value)
                late["event_id"] += "-late"
                late["occurred_at"] = (
                    dt.datetime.fromisoformat(late["occurred_at"]) - dt.timedelta(minutes=10)
                ).isoformat()
                out.append((topic, key, orjson.dumps(late)))
            else:
                out.append((FARM_TOPIC, b"vi-thanh", b'{"event_id": 42'))
    return out

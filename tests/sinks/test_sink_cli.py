"""`ioc sink` as a process: writes rows, serves /metrics (its own series only), stops cleanly
on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

import pytest
from sink_support import count_rows, kpi_row, message

from common.config import Settings
from sinks.migrate import migrate
from tests.support.kafka import on, produce

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return str(r.read().decode())
    except OSError:
        return ""


def test_ioc_sink_process(
    settings: Settings, new_topic: Callable[..., str], new_database: Callable[..., str]
) -> None:
    topic, dead = new_topic("sink.cli"), new_topic("sink.cli.dead", partitions=1)
    url = new_database("sink_cli")
    migrate(url)
    asyncio.run(
        produce(settings.kafka_bootstrap, on(topic, [message(kpi_row(i)) for i in range(50)]))
    )
    port = free_port()
    env = {**os.environ, "IOC_SINK_METRICS_PORT": str(port), "IOC_SINK_GROUP": f"g-{topic}"}
    argv = [sys.executable, "-m", "ioc.cli", "sink", "--topic", topic]
    argv += ["--deadletter-topic", dead, "--database-url", url]
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wanted = 'ioc_sink_rows_written_total{table="kpi"} 50.0'
        deadline = time.monotonic() + 60
        while wanted not in scrape(port):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "sink never reported 50 rows on /metrics"
            time.sleep(0.3)
        page = scrape(port)
        assert "ioc_sink_database_up 1.0" in page
        exported = set(re.findall(r"^(ioc_[a-z0-9_]+)", page, flags=re.MULTILINE))
        assert exported and all(name.startswith("ioc_sink_") for name in exported), exported
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "50 rows written" in out
    assert count_rows(url) == 50


def test_ioc_sink_without_schema_says_what_to_do(
    settings: Settings, new_database: Callable[..., str]
) -> None:
    url = new_database("sink_cli_bare")
    proc = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "sink", "--no-metrics", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "schema version 0" in proc.stderr and "ioc migrate" in proc.stderr

"""A Prometheus of its own for one test: samples backfilled with promtool, nothing scraped.

``promtool tsdb create-blocks-from openmetrics`` writes TSDB blocks from an OpenMetrics
file into an empty data directory; a ``prometheus`` started on that directory (an empty
scrape config, a free port) answers queries on exactly those samples. Started in about a
second; stopped by SIGTERM when the context ends.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.devstack.prom import http_get
from tests.alerting.support import tool
from tests.streams.support import free_port

READY_TIMEOUT = 30.0


@contextmanager
def private_prometheus(openmetrics: str, workdir: Path) -> Iterator[str]:
    """Base URL of a Prometheus holding exactly the samples of ``openmetrics``."""
    data = workdir / "tsdb"
    data.mkdir(parents=True)
    source = workdir / "samples.om.txt"
    source.write_text(openmetrics)
    backfill = subprocess.run(
        [tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if backfill.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {backfill.stderr or backfill.stdout}")
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 5s\nscrape_configs: []\n")
    port = free_port()
    log = (workdir / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=10y",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while http_get(f"{url}/-/ready")[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"private Prometheus did not start: {(workdir / 'prometheus.log').read_text()}"
                )
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()

"""End to end: metrics -> real Prometheus -> our rules -> real Alertmanager -> team webhooks.

The test starts its own Prometheus and Alertmanager (free ports, temporary storage), with
copies of deploy/prometheus/rules (SalinityHigh `for:` 10m -> 5s, WorkerDown 1m -> 2s) and of
deploy/alertmanager/alertmanager.yml (webhook URLs pointed at a receiver in this test, group
waits 1s). Two stand-in workers expose the metric names of streams/metrics.py from a
prometheus_client registry; when the real worker can be driven to a salinity spike in a
test, it should replace worker A here.

Checks: a salinity spike reaches the agriculture and duty-desk webhooks with its labels and
Vietnamese summary; stopping worker B makes WorkerDown reach platform and duty-desk; a new
salinity alert while WorkerDown fires is inhibited (suppressed in Alertmanager, never
delivered). The spike-to-webhook and stop-to-webhook times are printed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams import metrics
from tests.alerting.support import ALERTMANAGER_CONFIG, load_yaml, rule_files, tool

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHORT_FOR = {"SalinityHigh": "5s", "WorkerDown": "2s"}
WAIT_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- stand-in worker --------------------------------------------------------------------


class FakeWorker(Collector):
    """Salinity KPI gauges of farm sensors, with fresh window ends and last-seen times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._salinity: dict[tuple[str, str], float] = {}

    def set_salinity(self, sensor_id: str, district: str, grams_per_litre: float) -> None:
        """Last closed 1-minute max salinity of one sensor."""
        with self._lock:
            self._salinity[(sensor_id, district)] = grams_per_litre

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges, as the worker would export them right now."""
        now = time.time()
        kpi_labels = ["kpi", "entity_kind", "entity_id", "district"]
        value = GaugeMetricFamily(metrics.KPI_LAST_VALUE._name, "kpi", labels=kpi_labels)
        end = GaugeMetricFamily(metrics.KPI_LAST_WINDOW_END._name, "end", labels=kpi_labels)
        seen = GaugeMetricFamily(
            metrics.SENSOR_LAST_SEEN._name, "seen", labels=["sensor_id", "district"]
        )
        with self._lock:
            readings = dict(self._salinity)
        for (sensor_id, district), grams in readings.items():
            labels = ["farm.salinity_max_gl", "sensor", sensor_id, district]
            value.add_metric(labels, grams)
            end.add_metric(labels, now)
            seen.add_metric([sensor_id, district], now)
        yield from (value, end, seen)


@dataclass
class Exporter:
    """A /metrics endpoint on 127.0.0.1 serving one FakeWorker."""

    worker: FakeWorker
    port: int
    server: WSGIServer

    @classmethod
    def start(cls) -> Exporter:
        """Serve a new FakeWorker on a free port."""
        worker = FakeWorker()
        registry = CollectorRegistry()
        registry.register(worker)
        port = _free_port()
        server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
        return cls(worker, port, server)

    def stop(self) -> None:
        """Stop answering (the port refuses connections afterwards)."""
        self.server.shutdown()
        self.server.server_close()


# ---- webhook receiver -------------------------------------------------------------------


@dataclass
class Delivery:
    """One notification as received: when, on which path, the Alertmanager payload."""

    at: float
    path: str
    payload: dict[str, Any]


@dataclass
class Webhook:
    """Collects Alertmanager webhook notifications."""

    port: int = field(default_factory=_free_port)
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """A request handler class bound to this receiver."""
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                delivery = Delivery(time.monotonic(), self.path, json.loads(body))
                with hook.lock:
                    hook.deliveries.append(delivery)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def firing(self, alertname: str, **labels: str) -> list[tuple[Delivery, dict[str, Any]]]:
        """(delivery, alert) pairs of firing alerts with that name and those labels."""
        with self.lock:
            deliveries = list(self.deliveries)
        return [
            (d, a)
            for d in deliveries
            for a in d.payload["alerts"]
            if a["status"] == "firing"
            and a["labels"].get("alertname") == alertname
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]


# ---- servers ----------------------------------------------------------------------------


def _http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())


def _wait_for(what: str, check: Callable[[], bool], diagnose: Callable[[], str]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out after {WAIT_SECONDS:.0f}s waiting for {what}\n{diagnose()}")


def _test_rules(directory: Path) -> None:
    directory.mkdir()
    for path in rule_files():
        data = load_yaml(path)
        for group in data["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") in SHORT_FOR:
                    rule["for"] = SHORT_FOR[rule["alert"]]
        (directory / path.name).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def _test_alertmanager_config(path: Path, webhook_port: int) -> None:
    text = ALERTMANAGER_CONFIG.read_text("utf-8").replace(
        "http://127.0.0.1:19095/", f"http://127.0.0.1:{webhook_port}/"
    )
    assert f":{webhook_port}/" in text, "alertmanager.yml has no webhook on 127.0.0.1:19095"
    config = yaml.safe_load(text)

    def speed_up(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = "1s"
        for child in route.get("routes", []):
            speed_up(child)

    config["route"]["group_wait"] = config["route"]["group_interval"] = "1s"
    speed_up(config["route"])
    path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")


@dataclass
class Stack:
    """Prometheus + Alertmanager + webhook + two stand-in workers, all on 127.0.0.1."""

    prometheus: str
    alertmanager: str
    webhook: Webhook
    worker_a: Exporter
    worker_b: Exporter

    def diagnose(self) -> str:
        """What Prometheus and Alertmanager hold, and what the webhook got."""
        parts = []
        for name, url in (
            ("prometheus alerts", f"{self.prometheus}/api/v1/alerts"),
            ("alertmanager alerts", f"{self.alertmanager}/api/v2/alerts"),
        ):
            try:
                parts.append(f"{name}: {json.dumps(_http_json(url))[:3000]}")
            except OSError as error:
                parts.append(f"{name}: {error}")
        with self.webhook.lock:
            got = [
                (d.path, [a["labels"] for a in d.payload["alerts"]])
                for d in self.webhook.deliveries
            ]
        parts.append(f"webhook: {got}")
        return "\n".join(parts)


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Everything started on free ports; stopped (only what this fixture started) at the end."""
    webhook = Webhook()
    receiver = ThreadingHTTPServer(("127.0.0.1", webhook.port), webhook.handler())
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    worker_a, worker_b = Exporter.start(), Exporter.start()
    am_port, prom_port = _free_port(), _free_port()

    _test_alertmanager_config(tmp_path / "alertmanager.yml", webhook.port)
    _test_rules(tmp_path / "rules")
    prometheus_config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules" / "*.yml")],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "worker",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{worker_a.port}", f"127.0.0.1:{worker_b.port}"]}
                ],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config), "utf-8")

    processes = [
        _start(
            [
                tool("prometheus-alertmanager"),
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            tmp_path / "alertmanager.log",
        ),
        _start(
            [
                tool("prometheus"),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path / "prometheus.log",
        ),
    ]
    stack = Stack(
        f"http://127.0.0.1:{prom_port}",
        f"http://127.0.0.1:{am_port}",
        webhook,
        worker_a,
        worker_b,
    )
    try:
        yield stack
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        receiver.shutdown()
        receiver.server_close()
        worker_a.stop()
        if worker_b.server.socket.fileno() != -1:
            worker_b.stop()
        for log in ("prometheus.log", "alertmanager.log"):
            text = (tmp_path / log).read_text("utf-8", errors="replace")
            print(f"--- {log} (last lines)\n" + "\n".join(text.splitlines()[-5:]))


def _targets_up(stack: Stack) -> bool:
    query = urllib.parse.quote('count(up{job="worker"} == 1) == 2')
    data = _http_json(f"{stack.prometheus}/api/v1/query?query={query}")
    return bool(data["data"]["result"])


def _suppressed(stack: Stack, alertname: str, **labels: str) -> bool:
    for alert in _http_json(f"{stack.alertmanager}/api/v2/alerts"):
        if alert["labels"].get("alertname") != alertname:
            continue
        if all(alert["labels"].get(k) == v for k, v in labels.items()):
            status = alert["status"]
            return bool(status["state"] == "suppressed" and status["inhibitedBy"])
    return False


def test_salinity_spike_and_worker_down_reach_the_team_webhooks(stack: Stack) -> None:
    worker = stack.worker_a.worker
    worker.set_salinity("sal-vt-01", "vi-thanh", 3.0)
    worker.set_salinity("sal-vt-02", "vi-thanh", 3.0)
    _wait_for("both stand-in workers scraped", lambda: _targets_up(stack), stack.diagnose)
    _wait_for(
        "Alertmanager ready",
        lambda: urllib.request.urlopen(f"{stack.alertmanager}/-/ready", timeout=2).status == 200,
        stack.diagnose,
    )

    spike = time.monotonic()
    worker.set_salinity("sal-vt-01", "vi-thanh", 5.2)
    salinity = {"entity_id": "sal-vt-01"}
    _wait_for(
        "SalinityHigh at /agriculture and /duty-desk",
        lambda: (
            {d.path for d, _ in stack.webhook.firing("SalinityHigh", **salinity)}
            >= {"/agriculture", "/duty-desk"}
        ),
        stack.diagnose,
    )
    delivered = [
        (d, a)
        for d, a in stack.webhook.firing("SalinityHigh", **salinity)
        if d.path == "/agriculture"
    ]
    first, alert = min(delivered, key=lambda pair: pair[0].at)
    assert alert["labels"] == {
        "alertname": "SalinityHigh",
        "severity": "critical",
        "team": "agriculture",
        "kpi": "farm.salinity_max_gl",
        "entity_kind": "sensor",
        "entity_id": "sal-vt-01",
        "district": "vi-thanh",
    }
    assert alert["annotations"]["summary"].startswith("Độ mặn cao tại cảm biến sal-vt-01")
    assert first.payload["groupLabels"] == {
        "alertname": "SalinityHigh",
        "team": "agriculture",
        "district": "vi-thanh",
    }
    assert not stack.webhook.firing("SalinityHigh", entity_id="sal-vt-02")
    spike_to_webhook = first.at - spike

    stopped = time.monotonic()
    stack.worker_b.stop()
    down = {"instance": f"127.0.0.1:{stack.worker_b.port}"}
    _wait_for(
        "WorkerDown at /platform and /duty-desk",
        lambda: (
            {d.path for d, _ in stack.webhook.firing("WorkerDown", **down)}
            >= {"/platform", "/duty-desk"}
        ),
        stack.diagnose,
    )
    first_down = min(d.at for d, _ in stack.webhook.firing("WorkerDown", **down))
    stop_to_webhook = first_down - stopped

    worker.set_salinity("sal-vt-02", "vi-thanh", 6.0)
    _wait_for(
        "SalinityHigh of sal-vt-02 suppressed by WorkerDown in Alertmanager",
        lambda: _suppressed(stack, "SalinityHigh", entity_id="sal-vt-02"),
        stack.diagnose,
    )
    time.sleep(2.0)  # group_wait is 1s: a notification would have gone out by now
    assert not stack.webhook.firing("SalinityHigh", entity_id="sal-vt-02")

    print(
        f"\nspike -> webhook: {spike_to_webhook:.1f}s (for: 5s, scrape/eval 1s, group_wait 1s)"
        f"\nworker stopped -> WorkerDown webhook: {stop_to_webhook:.1f}s (for: 2s)"
    )
    assert spike_to_webhook < 30
    assert stop_to_webhook < 30

"""End to end: real worker -> real Prometheus -> our rules -> real Alertmanager -> webhooks.

The test starts a private Apache Kafka broker, a real `ioc worker` (free metrics port), its
own Prometheus and Alertmanager (free ports, temporary storage) with copies of
deploy/prometheus/rules (SalinityHigh `for:` 10m -> 5s, WorkerDown 1m -> 2s) and of
deploy/alertmanager/alertmanager.yml (webhook URLs pointed at a receiver in this test, group
waits 1s). The worker is fed the simulator's salinity-intrusion scenario over the 25 minutes
ending now, so its last closed 1-minute windows are fresh enough for the recording rules.

Checks: SalinityHigh of a long-my sensor reaches the agriculture and duty-desk webhooks with
its labels and annotations; stopping the worker makes WorkerDown reach platform and
duty-desk; an agriculture alert posted to Alertmanager while WorkerDown fires is inhibited
(suppressed, never delivered). The produce/export-to-webhook and stop-to-webhook times are
printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
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

import pytest
import yaml

from tests.alerting.support import ALERTMANAGER_CONFIG, alert_rules, load_yaml, rule_files, tool
from tests.streams.support import IOC, PrivateBroker, WorkerProcess, read_jsonl
from tests.support.kafka import produce

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHORT_FOR = {"SalinityHigh": "5s", "WorkerDown": "2s"}
WAIT_SECONDS = 60.0
SALINITY_DISTRICT = "long-my"
SALINITY_SAMPLE = re.compile(
    r'^ioc_kpi_last_value\{(?=[^}]*kpi="farm\.salinity_max_gl")(?=[^}]*entity_kind="sensor")'
    r'(?=[^}]*district="(?P<district>[^"]+)")(?=[^}]*entity_id="(?P<entity>[^"]+)")[^}]*\}$'
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _salinity(samples: dict[str, float]) -> dict[tuple[str, str], float]:
    """(district, sensor id) -> last closed 1-minute max salinity, from worker samples."""
    out: dict[tuple[str, str], float] = {}
    for name, value in samples.items():
        match = SALINITY_SAMPLE.match(name)
        if match:
            out[(match["district"], match["entity"])] = value
    return out


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


def _http_json(url: str, data: Any = None) -> Any:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=2) as response:
        text = response.read()
    return json.loads(text) if text else None


def _wait_for(
    what: str, check: Callable[[], bool], diagnose: Callable[[], str], timeout: float = WAIT_SECONDS
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{diagnose()}")


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


def _tail(path: Path, lines: int = 8) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])


@dataclass
class Stack:
    """Broker + real worker + Prometheus + Alertmanager + webhook, all on 127.0.0.1."""

    prometheus: str
    alertmanager: str
    webhook: Webhook
    broker: PrivateBroker
    worker: WorkerProcess
    tmp_path: Path

    @property
    def worker_instance(self) -> str:
        """The worker's `instance` label in Prometheus."""
        return f"127.0.0.1:{self.worker.metrics_port}"

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Result vector of an instant query."""
        url = f"{self.prometheus}/api/v1/query?query={urllib.parse.quote(promql)}"
        return list(_http_json(url)["data"]["result"])

    def diagnose(self) -> str:
        """What the worker exports, what Prometheus and Alertmanager hold, what the webhook got."""
        parts = [f"worker salinity > 4: {_high_salinity(self.worker)}"]
        for name, call in (
            ("prometheus fresh salinity", lambda: self.query(_FRESH_SALINITY)),
            ("prometheus alerts", lambda: _http_json(f"{self.prometheus}/api/v1/alerts")),
            ("alertmanager alerts", lambda: _http_json(f"{self.alertmanager}/api/v2/alerts")),
        ):
            try:
                parts.append(f"{name}: {json.dumps(call())[:3000]}")
            except OSError as error:
                parts.append(f"{name}: {error}")
        with self.webhook.lock:
            got = [
                (d.path, [a["labels"] for a in d.payload["alerts"]])
                for d in self.webhook.deliveries
            ]
        parts.append(f"webhook: {str(got)[:3000]}")
        parts.append(f"worker log:\n{_tail(self.worker.log_path)}")
        return "\n".join(parts)


_FRESH_SALINITY = 'ioc:kpi_last_value:fresh{kpi="farm.salinity_max_gl", entity_kind="sensor"} > 4'


def _high_salinity(worker: WorkerProcess) -> dict[str, float]:
    """Sensor id -> exported salinity, for the scenario district's sensors above 4 g/L."""
    return {
        sensor: value
        for (district, sensor), value in _salinity(worker.metrics()).items()
        if district == SALINITY_DISTRICT and value > 4
    }


def _start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Everything started on free ports; stopped (only what this fixture started) at the end."""
    webhook = Webhook()
    receiver = ThreadingHTTPServer(("127.0.0.1", webhook.port), webhook.handler())
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    broker = PrivateBroker(tmp_path)
    worker = WorkerProcess(
        broker.bootstrap, "alert-delivery", tmp_path / "worker.log", IOC_IDLE_TIMEOUT_SECONDS=3
    )
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
                "static_configs": [{"targets": [f"127.0.0.1:{worker.metrics_port}"]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config), "utf-8")

    processes = []
    try:
        worker.start()
        processes.append(
            _start(
                [
                    tool("prometheus-alertmanager"),
                    f"--config.file={tmp_path / 'alertmanager.yml'}",
                    f"--storage.path={tmp_path / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}",
                    "--cluster.listen-address=",
                ],
                tmp_path / "alertmanager.log",
            )
        )
        processes.append(
            _start(
                [
                    tool("prometheus"),
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                tmp_path / "prometheus.log",
            )
        )
        yield Stack(
            f"http://127.0.0.1:{prom_port}",
            f"http://127.0.0.1:{am_port}",
            webhook,
            broker,
            worker,
            tmp_path,
        )
    finally:
        worker.stop()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        broker.stop()
        receiver.shutdown()
        receiver.server_close()
        for log in ("prometheus.log", "alertmanager.log", "worker.log"):
            print(f"--- {log} (last lines)\n{_tail(tmp_path / log, 5)}")


def _worker_up(stack: Stack) -> bool:
    return bool(stack.query('up{job="worker"} == 1'))


def _feed_salinity_intrusion(stack: Stack) -> int:
    """The simulator's salinity-intrusion scenario over the 30 minutes ending now, produced.

    The ramp passes 4 g/L after about 24 minutes: the last five whole minutes are above it,
    so windows the event watermark closes (not only the last one, which waits for the
    wall-clock idle advance) carry the alert value.
    """
    events = stack.tmp_path / "farm.jsonl"
    simulate = [
        str(IOC),
        "simulate",
        "--start=now-30m",
        "--sim-duration=30m",
        "--sources=farm",
        "--scenario=salinity-intrusion",
        "--scenario-after=0m",
        "--seed=3",
        "--out",
        str(events),
    ]
    done = subprocess.run(simulate, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"ioc simulate failed:\n{done.stdout}\n{done.stderr}"
    return asyncio.run(produce(stack.broker.bootstrap, read_jsonl(events)))


def _suppressed(stack: Stack, alertname: str, **labels: str) -> bool:
    for alert in _http_json(f"{stack.alertmanager}/api/v2/alerts"):
        if alert["labels"].get("alertname") != alertname:
            continue
        if all(alert["labels"].get(k) == v for k, v in labels.items()):
            status = alert["status"]
            return bool(status["state"] == "suppressed" and status["inhibitedBy"])
    return False


def _check_salinity_alert(stack: Stack, alert: dict[str, Any], payload: dict[str, Any]) -> None:
    labels = alert["labels"]
    sensor = labels.get("entity_id", "")
    assert labels == {
        "alertname": "SalinityHigh",
        "severity": "critical",
        "team": "agriculture",
        "kpi": "farm.salinity_max_gl",
        "entity_kind": "sensor",
        "entity_id": sensor,
        "district": SALINITY_DISTRICT,
    }
    assert (SALINITY_DISTRICT, sensor) in _salinity(stack.worker.metrics()), sensor
    assert payload["groupLabels"] == {
        "alertname": "SalinityHigh",
        "team": "agriculture",
        "district": SALINITY_DISTRICT,
    }
    rule = next(r for r in alert_rules() if r.name == "SalinityHigh")
    annotations = alert["annotations"]
    assert set(annotations) == set(rule.annotations)
    summary = re.fullmatch(
        rf"Độ mặn cao tại cảm biến {sensor} \({SALINITY_DISTRICT}\): (\d+\.\d\d) g/L, "
        r"vượt ngưỡng 4 g/L",
        annotations["summary"],
    )
    assert summary and float(summary[1]) > 4, annotations["summary"]
    assert annotations["summary_en"].startswith(f"High salinity at sensor {sensor} (long-my)")
    for key in ("description", "description_en", "runbook", "runbook_en"):
        assert annotations[key] == rule.annotations[key]


def test_salinity_intrusion_and_worker_down_reach_the_team_webhooks(stack: Stack) -> None:
    _wait_for("the worker scraped by Prometheus", lambda: _worker_up(stack), stack.diagnose)
    _wait_for(
        "Alertmanager ready",
        lambda: urllib.request.urlopen(f"{stack.alertmanager}/-/ready", timeout=2).status == 200,
        stack.diagnose,
    )
    assert not _high_salinity(stack.worker), "salinity exported before any event was produced"

    produced = time.monotonic()
    assert _feed_salinity_intrusion(stack) > 1000
    _wait_for(
        f"the worker to export salinity > 4 g/L for a {SALINITY_DISTRICT} sensor",
        lambda: bool(_high_salinity(stack.worker)),
        stack.diagnose,
        timeout=40,
    )
    exported = time.monotonic()

    _wait_for(
        "SalinityHigh at /agriculture and /duty-desk",
        lambda: (
            {d.path for d, _ in stack.webhook.firing("SalinityHigh")}
            >= {"/agriculture", "/duty-desk"}
        ),
        stack.diagnose,
    )
    delivered = [
        (d, a) for d, a in stack.webhook.firing("SalinityHigh") if d.path == "/agriculture"
    ]
    first, _ = min(delivered, key=lambda pair: pair[0].at)
    for delivery, alert in delivered:
        _check_salinity_alert(stack, alert, delivery.payload)
    produce_to_webhook = first.at - produced
    export_to_webhook = first.at - exported

    stopped = time.monotonic()
    stack.worker.stop()
    down = {"instance": stack.worker_instance}
    _wait_for(
        "WorkerDown at /platform and /duty-desk",
        lambda: (
            {d.path for d, _ in stack.webhook.firing("WorkerDown", **down)}
            >= {"/platform", "/duty-desk"}
        ),
        stack.diagnose,
    )
    first_down, down_alert = min(
        stack.webhook.firing("WorkerDown", **down), key=lambda pair: pair[0].at
    )
    assert down_alert["labels"] == {
        "alertname": "WorkerDown",
        "severity": "critical",
        "team": "platform",
        "job": "worker",
        "instance": stack.worker_instance,
    }
    assert down_alert["annotations"]["summary_en"].startswith(
        f"Stream worker {stack.worker_instance} is down"
    )
    stop_to_webhook = first_down.at - stopped

    # While WorkerDown fires, a new agriculture alert is held back by Alertmanager.
    late = {"alertname": "SalinityHigh", "entity_id": "lm-sal-late"}
    now = dt.datetime.now(dt.UTC).isoformat()
    _http_json(
        f"{stack.alertmanager}/api/v2/alerts",
        [
            {
                "labels": {
                    **late,
                    "severity": "critical",
                    "team": "agriculture",
                    "kpi": "farm.salinity_max_gl",
                    "entity_kind": "sensor",
                    "district": SALINITY_DISTRICT,
                },
                "startsAt": now,
            }
        ],
    )
    _wait_for(
        "the new SalinityHigh suppressed by WorkerDown in Alertmanager",
        lambda: _suppressed(stack, **late),
        stack.diagnose,
    )
    time.sleep(2.0)  # group_wait is 1s: a notification would have gone out by now
    assert not stack.webhook.firing(**late)

    print(
        f"\nproduced -> SalinityHigh webhook: {produce_to_webhook:.1f}s"
        f"\nfirst salinity > 4 exported -> SalinityHigh webhook: {export_to_webhook:.1f}s"
        " (for: 5s, scrape/eval 1s, group_wait 1s)"
        f"\nworker stopped -> WorkerDown webhook: {stop_to_webhook:.1f}s (for: 2s)"
    )
    assert export_to_webhook < 30
    assert stop_to_webhook < 30

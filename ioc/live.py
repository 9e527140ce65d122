"""``ioc demo --live``: after the catch-up, the simulated province in real time until Ctrl-C.

A simulator child sends the province's events as they happen (a reading per sensor and a
probe per site every minute, dossiers in the rhythm of the offices), with the salinity
intrusion in Long My and the cell-site outage in Phung Hiep already under way (begun 80
simulated minutes before: the salinity fully ramped, the outage ending ten minutes in), so
alerts fire within minutes and the outage's alerts resolve. A webhook receiver on
``IOC_WEBHOOK_PORT`` prints every notification Alertmanager delivers.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from rich.console import Console

from common.config import Settings
from common.errors import UserError
from common.metrics import scrape, total
from ioc.processes import IOC, Children, Usage

SCENARIOS_BEGAN: Final = "now-80m"
"""When the live run's scenarios began: salinity fully ramped (30 min), outage (90 min)
ending ten minutes into the run."""
STATUS_EVERY_SECONDS: Final = 60.0
LIVE_SIMULATOR: Final = "live-simulator"


@dataclass(frozen=True)
class Delivery:
    """One alert of one webhook notification."""

    seconds: float
    """Since the live run began."""
    receiver: str
    status: str
    labels: dict[str, str]
    summary: str

    @property
    def alertname(self) -> str:
        """The alert's name."""
        return self.labels.get("alertname", "?")

    def line(self) -> str:
        """One printed line: time, receiver, firing or resolved, alert, summary."""
        minutes, seconds = divmod(int(self.seconds), 60)
        colour = "bold red" if self.status == "firing" else "green"
        severity = self.labels.get("severity", "")
        return (
            f"  [{colour}]⚑ {minutes:02d}:{seconds:02d} {self.receiver:<15} {self.status:<8}"
            f"[/{colour}] {self.alertname} [{severity}] {self.summary}"
        )


class WebhookReceiver:
    """Collects and prints the notifications Alertmanager posts (one line per alert)."""

    def __init__(self, console: Console, port: int, began: float) -> None:
        self.console = console
        self.began = began
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        except OSError as error:
            raise UserError(
                f"cannot listen for Alertmanager's webhooks on 127.0.0.1:{port} "
                f"({error.strerror}); set IOC_WEBHOOK_PORT to a free port and restart "
                "Alertmanager (ioc dev down --only alertmanager && ioc dev up)"
            ) from None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.end_headers()
                receiver.take(self.path.strip("/"), body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    def take(self, path: str, body: bytes) -> None:
        """Record and print the alerts of one notification."""
        try:
            payload = json.loads(body)
        except ValueError:
            return
        name = str(payload.get("receiver") or path)
        for alert in payload.get("alerts", []):
            notes = alert.get("annotations", {})
            delivery = Delivery(
                time.monotonic() - self.began,
                name,
                str(alert.get("status", "?")),
                {str(k): str(v) for k, v in alert.get("labels", {}).items()},
                str(notes.get("summary_en") or notes.get("summary") or ""),
            )
            with self.lock:
                self.deliveries.append(delivery)
            self.console.print(delivery.line(), soft_wrap=True)

    def close(self) -> list[Delivery]:
        """Stop listening (once); every delivery received."""
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
            self.server.server_close()
        with self.lock:
            return list(self.deliveries)


@dataclass
class LiveFigures:
    """What a live run did and cost."""

    seconds: float
    sent: int
    deliveries: list[Delivery]
    usage: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Per process: share of one core over the run, peak RSS seen (bytes)."""

    def first_firing(self, alertname: str) -> float | None:
        """Seconds into the run of the first firing delivery of ``alertname``."""
        times = [
            d.seconds for d in self.deliveries if d.alertname == alertname and d.status == "firing"
        ]
        return min(times) if times else None


def firing_alerts(alertmanager_port: int) -> int | None:
    """Alerts Alertmanager holds active (neither silenced nor inhibited); None if silent."""
    url = (
        f"http://127.0.0.1:{alertmanager_port}/api/v2/alerts"
        "?active=true&silenced=false&inhibited=false"
    )
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return len(json.loads(reply.read()))
    except (OSError, ValueError):
        return None


class LiveRun:
    """The province in real time: :meth:`start` right after the catch-up (every sensor
    reports again within a minute, before FarmSensorSilent's 5 minutes run out), then
    :meth:`wait` until Ctrl-C or the time given."""

    def __init__(self, console: Console, settings: Settings, children: Children) -> None:
        self.console = console
        self.settings = settings
        self.children = children
        self.summary_path = children.log_dir / f"{LIVE_SIMULATOR}.json"
        self.began = math.nan

    def start(self, env: dict[str, str], seed: int, faults: Sequence[str]) -> None:
        """Listen for webhooks and start the live simulator (same seed: same province)."""
        self.began = time.monotonic()
        self.receiver = WebhookReceiver(self.console, self.settings.ports.webhook, self.began)
        argv = [
            IOC,
            "simulate",
            "--start=now",
            f"--seed={seed}",
            "--scenario=salinity-intrusion",
            "--scenario=site-outage",
            f"--scenario-start={SCENARIOS_BEGAN}",
            f"--summary-json={self.summary_path}",
            *faults,
        ]
        self.children.start(LIVE_SIMULATOR, argv, env)
        pids = {name: proc.pid for name, proc in self.children.procs.items()}
        self.meter = _Meter(pids | {"demo": os.getpid()})

    def wait(self, minutes: float | None) -> LiveFigures:
        """Run until Ctrl-C (or ``minutes`` after the start), printing a status line every
        minute; then stop the simulator as Ctrl-C stops it."""
        deadline = self.began + minutes * 60 if minutes else math.inf
        next_status = time.monotonic() + STATUS_EVERY_SECONDS
        try:
            while time.monotonic() < deadline:
                self.children.check()
                time.sleep(1.0)
                self.meter.sample()
                if time.monotonic() >= next_status:
                    next_status += STATUS_EVERY_SECONDS
                    self._status()
        except KeyboardInterrupt:
            self.console.print("Ctrl-C: stopping the live province")
        finally:
            self.meter.sample()
            elapsed = time.monotonic() - self.began
            self.children.interrupt(LIVE_SIMULATOR)
            deliveries = self.receiver.close()
        sent = 0
        if self.summary_path.is_file():
            sent = int(json.loads(self.summary_path.read_text())["totals"]["messages"])
        return LiveFigures(elapsed, sent, deliveries, self.meter.figures(elapsed))

    def stop(self) -> None:
        """Stop the simulator and the receiver if still running (errors, Ctrl-C early)."""
        if LIVE_SIMULATOR in self.children.procs:
            self.children.interrupt(LIVE_SIMULATOR)
        if hasattr(self, "receiver"):
            self.receiver.close()

    def _status(self) -> None:
        ports = self.settings.ports
        worker = scrape(ports.worker_metrics, names=["ioc_events_consumed_total"])
        sink = scrape(ports.sink_metrics, names=["ioc_sink_rows_written_total"])
        firing = firing_alerts(ports.alertmanager)
        self.console.print(
            f"  live {int((time.monotonic() - self.began) // 60)} min · events consumed "
            f"{total(worker, 'ioc_events_consumed_total'):,.0f} · KPI rows written "
            f"{total(sink, 'ioc_sink_rows_written_total'):,.0f} · alerts active "
            f"{'?' if firing is None else firing} · notifications {len(self.receiver.deliveries)}",
            highlight=False,
        )


class _Meter:
    """CPU and peak RSS of the demo's processes over the live run."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.first = {name: Usage.of(pid) for name, pid in pids.items()}
        self.last = dict(self.first)
        self.peak_rss = {name: 0 for name in pids}

    def sample(self) -> None:
        for name, pid in self.pids.items():
            now = Usage.of(pid)
            if now is not None:
                self.last[name] = now
                self.peak_rss[name] = max(self.peak_rss[name], now.rss_bytes)

    def figures(self, elapsed: float) -> dict[str, tuple[float, int]]:
        out = {}
        for name in self.pids:
            first, last = self.first[name], self.last[name]
            if first is not None and last is not None and elapsed > 0:
                share = (last.cpu_seconds - first.cpu_seconds) / elapsed
                out[name] = (share, self.peak_rss[name])
        return out


def print_live(console: Console, figures: LiveFigures) -> None:
    """The live run in a few lines: alerts per name, first firing, cost per process."""
    console.rule("Live run")
    console.print(
        f"  {figures.seconds / 60:.1f} min live, {figures.sent:,} events sent, "
        f"{len(figures.deliveries)} alert notifications delivered"
    )
    names = sorted({d.alertname for d in figures.deliveries})
    for name in names:
        mine = [d for d in figures.deliveries if d.alertname == name]
        firing = sum(d.status == "firing" for d in mine)
        first = figures.first_firing(name)
        when = "" if first is None else f", first firing after {first / 60:.1f} min"
        console.print(f"  {name}: {firing} firing, {len(mine) - firing} resolved{when}")
    for name, (share, rss) in figures.usage.items():
        console.print(
            f"  {name:<15} CPU {share * 100:5.1f} % of a core, peak RSS {rss / 2**20:,.0f} MiB"
        )


def live_summary(figures: LiveFigures) -> dict[str, Any]:
    """The live run as JSON: duration, events, each delivery, cost per process."""
    return {
        "seconds": round(figures.seconds, 1),
        "sent": figures.sent,
        "deliveries": [
            {
                "seconds": round(d.seconds, 1),
                "receiver": d.receiver,
                "status": d.status,
                "labels": d.labels,
            }
            for d in figures.deliveries
        ],
        "usage": {
            name: {"cpu_share": round(share, 4), "peak_rss_bytes": rss}
            for name, (share, rss) in figures.usage.items()
        },
    }

"""Pieces of ``ioc demo --live`` without servers: the webhook receiver, the cost meter,
stopping a child as Ctrl-C does."""

from __future__ import annotations

import io
import json
import os
import time
import urllib.request
from pathlib import Path

from rich.console import Console

from ioc.live import LiveFigures, WebhookReceiver, print_live
from ioc.processes import IOC, Children, Usage


def _notification(status: str, alertname: str, severity: str) -> bytes:
    """A webhook body as Alertmanager 0.25 posts it (version 4)."""
    return json.dumps(
        {
            "version": "4",
            "receiver": "agriculture",
            "status": status,
            "alerts": [
                {
                    "status": status,
                    "labels": {
                        "alertname": alertname,
                        "severity": severity,
                        "entity_id": "lm-sal-001",
                        "district": "long-my",
                    },
                    "annotations": {"summary_en": f"{alertname} at lm-sal-001"},
                }
            ],
        }
    ).encode()


def _post(port: int, path: str, body: bytes) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/{path}", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        return int(reply.status)


def test_webhook_receiver_prints_and_keeps_each_alert() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200)
    began = time.monotonic()
    receiver = WebhookReceiver(console, 0, began)
    port = int(receiver.server.server_address[1])
    assert _post(port, "agriculture", _notification("firing", "SalinityHigh", "critical")) == 200
    assert _post(port, "agriculture", _notification("resolved", "SalinityHigh", "critical")) == 200
    assert _post(port, "platform", b"not json") == 200
    deliveries = receiver.close()
    assert [(d.receiver, d.status, d.alertname) for d in deliveries] == [
        ("agriculture", "firing", "SalinityHigh"),
        ("agriculture", "resolved", "SalinityHigh"),
    ]
    printed = out.getvalue()
    assert "firing" in printed and "resolved" in printed and "SalinityHigh at lm-sal-001" in printed
    figures = LiveFigures(90.0, 1234, deliveries, {"worker": (0.125, 200 * 2**20)})
    assert figures.first_firing("SalinityHigh") == deliveries[0].seconds
    assert figures.first_firing("SiteDown") is None
    summary = io.StringIO()
    print_live(Console(file=summary, width=200), figures)
    text = summary.getvalue()
    assert "SalinityHigh: 1 firing, 1 resolved" in text
    assert "CPU  12.5 % of a core, peak RSS 200 MiB" in text


def test_usage_reads_cpu_and_rss_of_a_process() -> None:
    usage = Usage.of(os.getpid())
    assert usage is not None and usage.rss_bytes > 10 * 2**20 and usage.cpu_seconds > 0
    assert Usage.of(2**22 + 12345) is None


def test_interrupt_stops_the_simulator_as_ctrl_c_does(tmp_path: Path) -> None:
    """Even with SIGINT ignored (a background job), the simulator ends with its summary."""
    children = Children(tmp_path)
    summary = tmp_path / "summary.json"
    argv = [IOC, "simulate", "--start=now", "--rate=50", f"--out={tmp_path / 'e.jsonl'}"]
    argv.append(f"--summary-json={summary}")
    children.start("simulator", argv, dict(os.environ))
    time.sleep(3.0)
    started = time.monotonic()
    assert children.interrupt("simulator") == 130
    assert time.monotonic() - started < 10 and "simulator" not in children.procs
    document = json.loads(summary.read_text())
    assert document["interrupted"] and document["totals"]["messages"] > 0

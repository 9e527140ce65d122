"""Prometheus and Alertmanager: configs pass their checkers, servers answer, jobs loaded."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from common.config import Settings
from deploy.devstack.prom import http_get

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: apt-get install prometheus prometheus-alertmanager")
    return path


@pytest.mark.parametrize(
    "config", ["deploy/prometheus/prometheus.yml", "deploy/compose/prometheus.yml"]
)
def test_promtool_check_config(config: str) -> None:
    out = subprocess.run(
        [_tool("promtool"), "check", "config", config],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_amtool_check_config() -> None:
    out = subprocess.run(
        [_tool("amtool"), "check-config", "deploy/alertmanager/alertmanager.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.integration
def test_prometheus_ready_with_every_job(settings: Settings) -> None:
    base = f"http://127.0.0.1:{settings.ports.prometheus}"
    assert http_get(f"{base}/-/ready")[0] == 200
    status, body = http_get(f"{base}/api/v1/targets?state=any")
    assert status == 200
    jobs = {t["labels"]["job"] for t in json.loads(body)["data"]["activeTargets"]}
    assert {"prometheus", "alertmanager", "worker", "sink"} <= jobs


@pytest.mark.integration
def test_prometheus_knows_its_alertmanager(settings: Settings) -> None:
    base = f"http://127.0.0.1:{settings.ports.alertmanager}"
    assert http_get(f"{base}/-/ready")[0] == 200
    status, body = http_get(f"http://127.0.0.1:{settings.ports.prometheus}/api/v1/alertmanagers")
    assert status == 200
    active = json.loads(body)["data"]["activeAlertmanagers"]
    assert any(f":{settings.ports.alertmanager}/" in a["url"] for a in active)

"""Prometheus and Alertmanager from the Debian packages, configured from deploy/."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from common.config import Ports
from common.errors import UserError
from deploy.devstack.process import dev_dir
from deploy.devstack.server import Server

DEPLOY = Path(__file__).resolve().parents[1]
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """Status and body of a GET (status 0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), b""
    except (OSError, ValueError):
        return 0, b""


def _json(url: str) -> Any:
    status, body = http_get(url)
    if status != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UserError(
            f"`{name}` is not installed: apt-get install --no-install-recommends "
            "prometheus prometheus-alertmanager (./run.sh setup does it)"
        )
    return path


#: The ports deploy/prometheus/prometheus.yml names (the defaults of common.config.Ports).
DEFAULT_PORTS = {
    "prometheus": 19090,
    "alertmanager": 19093,
    "worker_metrics": 9464,
    "sink_metrics": 9465,
}


WEBHOOK_URL = "http://127.0.0.1:{port}/"
"""Where deploy/alertmanager/alertmanager.yml posts every receiver's webhook."""


def alertmanager_config(ports: Ports) -> Path:
    """deploy/alertmanager/alertmanager.yml, or a copy posting to ``ports.webhook``."""
    default = WEBHOOK_URL.format(port=Ports().webhook)
    if ports.webhook == Ports().webhook:
        return ALERTMANAGER_CONFIG
    rendered = dev_dir() / "alertmanager.yml"
    text = ALERTMANAGER_CONFIG.read_text()
    rendered.write_text(text.replace(default, WEBHOOK_URL.format(port=ports.webhook)))
    return rendered


def prometheus_config(ports: Ports) -> Path:
    """The scrape config: deploy/prometheus/prometheus.yml, or a copy with the env's ports.

    The file names the default ports; when IOC_*_PORT variables move them, a rendered copy
    under the cache (rule_files made absolute) is used instead.
    """
    text = PROMETHEUS_CONFIG.read_text()
    moved = False
    for field, port in DEFAULT_PORTS.items():
        actual = int(getattr(ports, field))
        if actual != port:
            text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{actual}")
            moved = True
    if not moved:
        return PROMETHEUS_CONFIG
    text = text.replace("rules/", f"{PROMETHEUS_CONFIG.parent}/rules/")
    rendered = dev_dir() / "prometheus.yml"
    rendered.write_text(text)
    return rendered


class _HttpServer(Server):
    def healthy(self) -> bool:
        """GET /-/ready answers 200."""
        return http_get(f"http://{self.address}/-/ready")[0] == 200


class Prometheus(_HttpServer):
    """Prometheus with the lifecycle API on (tests may POST /-/reload)."""

    name = "prometheus"
    program = "prometheus"
    port_env = "IOC_PROMETHEUS_PORT"

    def __init__(self, port: int, ports: Ports) -> None:
        super().__init__(port)
        self.ports = ports

    def version(self) -> str:
        """From /api/v1/status/buildinfo."""
        data = _json(f"http://{self.address}/api/v1/status/buildinfo")
        return str(data["data"]["version"]) if data else "?"

    def command(self) -> list[str]:
        """prometheus on 127.0.0.1 with data under the cache."""
        storage = dev_dir() / "prometheus"
        storage.mkdir(parents=True, exist_ok=True)
        return [
            _binary("prometheus"),
            f"--config.file={prometheus_config(self.ports)}",
            f"--web.listen-address={self.address}",
            f"--storage.tsdb.path={storage}",
            "--storage.tsdb.retention.time=2d",
            "--web.enable-lifecycle",
        ]


class Alertmanager(_HttpServer):
    """Alertmanager without clustering."""

    name = "alertmanager"
    program = "prometheus-alertmanager"
    port_env = "IOC_ALERTMANAGER_PORT"

    def __init__(self, port: int, ports: Ports) -> None:
        super().__init__(port)
        self.ports = ports

    def version(self) -> str:
        """From /api/v2/status."""
        data = _json(f"http://{self.address}/api/v2/status")
        return str(data["versionInfo"]["version"]) if data else "?"

    def command(self) -> list[str]:
        """prometheus-alertmanager on 127.0.0.1 with data under the cache."""
        storage = dev_dir() / "alertmanager"
        storage.mkdir(parents=True, exist_ok=True)
        return [
            _binary("prometheus-alertmanager"),
            f"--config.file={alertmanager_config(self.ports)}",
            f"--web.listen-address={self.address}",
            f"--storage.path={storage}",
            "--cluster.listen-address=",
        ]

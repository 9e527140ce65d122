"""``ioc dev``: status of the shared servers, idempotent up, a private start/stop cycle."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import Settings, kafka_home
from deploy.devstack.kafka_install import kafka_version
from deploy.devstack.process import port_open

pytestmark = pytest.mark.integration


def _ioc(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ioc.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_status_prints_four_servers_up(settings: Settings) -> None:
    out = _ioc("dev", "status")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == [
        "kafka",
        "postgres",
        "prometheus",
        "alertmanager",
    ]
    assert all(line.split()[2] == "up" for line in lines), out.stdout
    assert f"127.0.0.1:{settings.ports.postgres}" in lines[1]
    assert f"Apache Kafka {kafka_version()}" in lines[0]


def test_up_leaves_running_servers_alone(settings: Settings, tmp_path: Path) -> None:
    record = tmp_path / "started"
    out = _ioc("dev", "up", "--record-started", str(record))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("already up") == 4
    assert not record.exists() or record.read_text() == ""


def test_private_kafka_start_and_stop(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        "IOC_CACHE_DIR": str(tmp_path),
        "IOC_KAFKA_HOME": str(kafka_home(kafka_version())),
        "IOC_KAFKA_PORT": str(port),
        "IOC_KAFKA_CONTROLLER_PORT": str(_free_port()),
    }
    record = tmp_path / "started"
    out = _ioc("dev", "up", "--only", "kafka", "--record-started", str(record), env=env)
    try:
        assert out.returncode == 0, out.stderr
        assert record.read_text().split() == ["kafka"]
        assert (tmp_path / "dev" / "kafka.pid").exists()
        assert (tmp_path / "dev" / "logs" / "kafka.log").exists()
        assert port_open(port)
        assert (tmp_path / "dev" / "kafka" / "data" / "meta.properties").is_file()
    finally:
        down = _ioc("dev", "down", "--only-recorded", str(record), env=env)
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    assert not port_open(port)
    assert not (tmp_path / "dev" / "kafka.pid").exists()


def test_port_taken_names_the_env_var(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        env = {"IOC_CACHE_DIR": str(tmp_path), "IOC_ALERTMANAGER_PORT": str(port)}
        out = _ioc("dev", "up", "--only", "alertmanager", env=env)
    assert out.returncode == 2
    assert "IOC_ALERTMANAGER_PORT" in out.stderr and str(port) in out.stderr


def test_kafka_storage_format_takes_a_cluster_id_starting_with_a_dash(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import uuid

    from deploy.devstack import kafka_node

    dashed = uuid.UUID(bytes=base64.urlsafe_b64decode("-" + "A" * 21 + "=="))
    monkeypatch.setattr(kafka_node.uuid, "uuid4", lambda: dashed)
    kafka_node.KafkaNode(tmp_path, _free_port(), _free_port()).prepare()
    assert (
        "cluster.id=-AAAAAAAAAAAAAAAAAAAAA" in (tmp_path / "data" / "meta.properties").read_text()
    )

"""Pure helpers of ``ioc dev``: URLs, recorded names, port-moved Prometheus config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.config import load
from deploy.devstack import process, prom, stack, urls


def test_with_user_and_database() -> None:
    url = "postgresql://ioc:secret@db.example:5433/ioc?sslmode=require"
    assert (
        urls.with_user(url, "postgres")
        == "postgresql://postgres@db.example:5433/ioc?sslmode=require"
    )
    assert (
        urls.with_database(url, "x") == "postgresql://ioc:secret@db.example:5433/x?sslmode=require"
    )


def test_admin_url_prefers_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOC_ADMIN_DATABASE_URL", raising=False)
    assert urls.admin_url("postgresql://ioc@h:1/ioc") == "postgresql://postgres@h:1/ioc"
    monkeypatch.setenv("IOC_ADMIN_DATABASE_URL", "postgresql://root@h:1/ioc")
    assert urls.admin_url("postgresql://ioc@h:1/ioc") == "postgresql://root@h:1/ioc"


def test_recorded_ignores_unknown_lines(tmp_path: Path) -> None:
    path = tmp_path / "started"
    stack.record(path, ["kafka"])
    stack.record(path, ["prometheus"])
    with path.open("a") as handle:
        handle.write("garbage\n\n")
    assert stack.recorded(path) == ["kafka", "prometheus"]
    assert stack.recorded(tmp_path / "missing") == []


def test_prometheus_config_follows_moved_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOC_CACHE_DIR", str(tmp_path))
    for name in ("IOC_PROMETHEUS_PORT", "IOC_ALERTMANAGER_PORT", "IOC_METRICS_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("IOC_SINK_METRICS_PORT", raising=False)
    assert prom.prometheus_config(load().ports) == prom.PROMETHEUS_CONFIG
    monkeypatch.setenv("IOC_METRICS_PORT", "19464")
    rendered = prom.prometheus_config(load().ports)
    text = rendered.read_text()
    assert rendered.parent == tmp_path / "dev"
    assert "127.0.0.1:19464" in text and "127.0.0.1:9464" not in text
    assert f"{prom.PROMETHEUS_CONFIG.parent}/rules/*.yml" in text


def test_alertmanager_config_posts_to_the_webhook_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOC_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("IOC_WEBHOOK_PORT", raising=False)
    assert prom.alertmanager_config(load().ports) == prom.ALERTMANAGER_CONFIG
    monkeypatch.setenv("IOC_WEBHOOK_PORT", "29095")
    text = prom.alertmanager_config(load().ports).read_text()
    assert text.count("url: http://127.0.0.1:29095/") == 5 and ":19095/" not in text


def test_pidfile_alive_checks_program() -> None:
    me = Path(f"/proc/{os.getpid()}/cmdline").read_bytes().split(b"\0")[0].decode()
    assert process.PidFile(os.getpid(), Path(me).name).alive()
    assert not process.PidFile(os.getpid(), "not-this-program").alive()


def test_kafka_node_is_local_kraft_with_create_time(tmp_path: Path) -> None:
    from deploy.devstack.kafka_node import KafkaNode

    props = KafkaNode(tmp_path, 29092, 29192, partitions=3).properties()
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29192"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["num.partitions"] == "3"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert "log.message.timestamp.type" not in props


def test_kafka_jars_missing_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from common.errors import UserError
    from deploy.devstack import kafka_install

    monkeypatch.setenv("IOC_KAFKA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match=r"run ./run.sh setup"):
        kafka_install.require_installed()

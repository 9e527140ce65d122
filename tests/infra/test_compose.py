"""docker-compose.yml validates offline and holds the production services."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "POSTGRES_PASSWORD": "test-superuser",
    "IOC_DB_PASSWORD": "test-ioc",
    "IOC_GRAFANA_DB_PASSWORD": "test-grafana",
    "GRAFANA_ADMIN_PASSWORD": "test-admin",
}
SERVICES = {
    "kafka",
    "timescaledb",
    "migrate",
    "worker",
    "sink",
    "simulator",
    "prometheus",
    "alertmanager",
    "grafana",
}


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: apt-get install docker-compose")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [binary, "-f", "docker-compose.yml", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_compose_config_is_valid_and_has_every_service() -> None:
    out = _compose("config", "-q", env=SECRETS)
    assert out.returncode == 0, out.stderr
    listed = _compose("--profile", "simulator", "config", "--services", env=SECRETS)
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) == SERVICES


def test_compose_refuses_to_run_without_secrets() -> None:
    missing = dict(SECRETS)
    del missing["IOC_DB_PASSWORD"]
    out = _compose("config", "-q", env=missing)
    assert out.returncode != 0
    assert "IOC_DB_PASSWORD" in out.stderr


def test_no_secret_in_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for value in SECRETS.values():
        assert value not in text
    assert "PASSWORD: ${" in text


def test_compose_runs_the_kafka_version_of_ioc_dev() -> None:
    from deploy.devstack.kafka_install import kafka_version

    text = (ROOT / "docker-compose.yml").read_text()
    assert f"image: apache/kafka:{kafka_version()}" in text


def test_the_image_copies_every_package_the_project_installs() -> None:
    """A package missing from the Dockerfile installs fine locally and breaks only in the image."""
    root = Path(__file__).resolve().parents[2]
    include = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    copied = {
        line.split()[1]
        for line in (root / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and not line.startswith("COPY pyproject")
    }
    assert packages == copied

"""Settings come from IOC_* variables through one pydantic-settings model."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import Settings, environment_table, load
from common.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("common", "schemas", "streams", "simulator", "sinks", "dashboards", "deploy", "ioc")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"IOC_{name.upper()}", raising=False)
    return monkeypatch


def test_the_readme_table_is_the_generated_one() -> None:
    assert environment_table() in (ROOT / "README.md").read_text()


def test_defaults_match_the_local_servers(clean_env: pytest.MonkeyPatch) -> None:
    settings = load()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.database_url == "postgresql://ioc@127.0.0.1:15432/ioc"
    assert settings.ports.kafka_controller == 19192
    assert settings.state_dir == settings.cache_dir / "state"


def test_derived_defaults_follow_the_variables_they_derive_from(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("IOC_KAFKA_PORT", "29092")
    clean_env.setenv("IOC_PG_PORT", "29432")
    clean_env.setenv("IOC_CACHE_DIR", str(tmp_path))
    settings = load()
    assert settings.kafka_bootstrap == "127.0.0.1:29092"
    assert settings.ports.kafka_controller == 29192
    assert settings.database_url == "postgresql://ioc@127.0.0.1:29432/ioc"
    assert settings.state_dir == tmp_path / "state"
    assert settings.kafka_home_for("4.3.2") == tmp_path / "kafka-4.3.2"


def test_an_explicit_value_wins_and_an_empty_one_is_unset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("IOC_KAFKA_BOOTSTRAP", "broker:9092")
    clean_env.setenv("IOC_APP_ID", "")
    settings = load()
    assert settings.kafka_bootstrap == "broker:9092"
    assert settings.app_id == "smartcity-ioc"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("IOC_PARTITIONS", "four"), ("IOC_PROCESSING_GUARANTEE", "maybe"), ("IOC_PG_PORT", "x")],
)
def test_a_bad_value_names_its_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(UserError, match=variable if variable != "IOC_PG_PORT" else "IOC_"):
        load()


def test_no_module_reads_the_environment_itself() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "os.environ.get" in path.read_text() or "os.getenv" in path.read_text()
    ]
    assert offenders == []

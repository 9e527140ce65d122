"""Settings from environment variables: the one place that reads them (pydantic-settings).

Every variable is ``IOC_`` plus a field name of :class:`Settings`, and every default matches the
local servers started by ``ioc dev up``. The README's configuration table is generated from the
fields below (:func:`environment_table`); a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import UserError

PREFIX = "IOC_"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "smartcity-ioc"


def _shown(default: str) -> Any:
    """How the generated table shows a default that is derived from other settings."""
    return {"shown": default}


@dataclass(frozen=True)
class Ports:
    """Local ports of the development servers (all on 127.0.0.1); defaults are ``ioc dev``'s."""

    kafka: int = 19092
    kafka_controller: int = 19192
    postgres: int = 15432
    prometheus: int = 19090
    alertmanager: int = 19093
    worker_metrics: int = 9464
    sink_metrics: int = 9465
    webhook: int = 19095


class Settings(BaseSettings):
    """Connection and tuning settings of workers, sink, simulator, replay and the local servers."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, frozen=True)

    kafka_bootstrap: str = Field(
        "127.0.0.1:19092",
        description="Kafka bootstrap servers of workers, sink, simulator, replay",
        json_schema_extra=_shown("127.0.0.1:$IOC_KAFKA_PORT"),
    )
    database_url: str = Field(
        "postgresql://ioc@127.0.0.1:15432/ioc",
        description="TimescaleDB URL (role `ioc`)",
        json_schema_extra=_shown("postgresql://ioc@127.0.0.1:$IOC_PG_PORT/ioc"),
    )
    kafka_port: int = Field(19092, description="port of the local broker (`ioc dev`)")
    kafka_controller_port: int = Field(
        19192,
        description="KRaft controller port of the local broker",
        json_schema_extra=_shown("$IOC_KAFKA_PORT + 100"),
    )
    kafka_home: Path | None = Field(
        None,
        description="where the local broker's jars are installed",
        json_schema_extra=_shown("$IOC_CACHE_DIR/kafka-<version>"),
    )
    pg_port: int = Field(15432, description="port of the local TimescaleDB (`ioc dev`)")
    prometheus_port: int = Field(19090, description="port of the local Prometheus (`ioc dev`)")
    alertmanager_port: int = Field(19093, description="port of the local Alertmanager (`ioc dev`)")
    metrics_port: int = Field(9464, description="worker `/metrics` port (scraped as job `worker`)")
    sink_metrics_port: int = Field(9465, description="sink `/metrics` port (scraped as job `sink`)")
    webhook_port: int = Field(
        19095,
        description="port the local Alertmanager posts its webhooks to (`ioc demo --live` "
        "listens there)",
    )
    app_id: str = Field(
        "smartcity-ioc", description="Faust app id (consumer group and changelog topic prefix)"
    )
    sink_group: str = Field("smartcity-ioc-sink", description="consumer group of `ioc sink`")
    kpi_backlog_messages: int = Field(
        0,
        ge=0,
        description="a worker about to emit KPI rows waits (30 s at most) while the sink group "
        "has more than this many city.kpi.v1 messages unread (up to 500 rows each); 0: off "
        "(streams/worker/backlog.py)",
    )
    partitions: int = Field(
        4,
        description="partitions of the topics the project creates; a worker refuses to start "
        "on a raw topic that has another count",
    )
    grace_seconds: float = Field(30.0, description="event-time grace before a window closes")
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description="Faust processing guarantee: `at_least_once` or `exactly_once` "
        '(docs/internals.md, "Delivery guarantee"). The product runs `at_least_once`: its '
        "idempotent state already makes the rows exact",
    )
    idle_timeout_seconds: float = Field(
        60.0, description="an idle partition's watermark advances by wall clock after this"
    )
    live_lag_seconds: float = Field(
        300.0,
        description="only a partition whose last events arrived within this of their event time "
        'is "live" and may advance by wall clock (a backfill of old events never does)',
    )
    future_skew_seconds: float = Field(
        300.0,
        description="events further ahead of the record time (capped by the worker's clock) "
        "than this are dead-lettered",
    )
    dedup_horizon_seconds: float = Field(
        3630.0,
        description="how long (event time past the watermark) an `event_id` is remembered for "
        "de-duplication: at least the largest window plus the grace",
    )
    entity_registry: Path | None = Field(
        None,
        description="CSV file `entity_kind,entity_id,district` of the province's agencies, "
        "sites and sensors: an event naming a listed entity under another district is "
        "dead-lettered as `entity_district` in every partition (unlisted entities keep the "
        "district they are first windowed under in their partition); worker and replay read "
        "the same file",
        json_schema_extra=_shown("not set"),
    )
    metrics_addr: str = Field(
        "127.0.0.1",
        description="address the worker's `/metrics` listens on (`0.0.0.0` in compose)",
    )
    cache_dir: Path = Field(
        DEFAULT_CACHE_DIR,
        description="machine cache: Kafka jars, TimescaleDB chroot, local server data and logs",
        json_schema_extra=_shown("~/.cache/smartcity-ioc"),
    )
    state_dir: Path = Field(
        DEFAULT_CACHE_DIR / "state",
        description="local files of a worker's Faust app, one directory per app id (the window "
        "state itself lives in the changelog topics)",
        json_schema_extra=_shown("$IOC_CACHE_DIR/state"),
    )
    admin_database_url: str = Field(
        "",
        description="superuser URL used by `ioc dev` and the tests to create roles and databases",
        json_schema_extra=_shown("`IOC_DATABASE_URL` as user `postgres`"),
    )
    debian_mirror: str = Field(
        "",
        description="mirror used to build the TimescaleDB chroot",
        json_schema_extra=_shown("http://deb.debian.org/debian"),
    )

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        """Fill the settings whose defaults follow other settings (ports, cache directory)."""
        if not isinstance(data, dict):
            return data
        values = {k.lower(): v for k, v in data.items()}
        kafka_port = str(values.get("kafka_port") or 19092)
        pg_port = str(values.get("pg_port") or 15432)
        cache = Path(values.get("cache_dir") or DEFAULT_CACHE_DIR)
        derived = {
            "kafka_bootstrap": f"127.0.0.1:{kafka_port}",
            "database_url": f"postgresql://ioc@127.0.0.1:{pg_port}/ioc",
            "kafka_controller_port": int(kafka_port) + 100 if kafka_port.isdigit() else None,
            "state_dir": cache / "state",
        }
        given = {k: v for k, v in values.items() if v not in ("", None)}
        return {**{k: v for k, v in derived.items() if v is not None}, **given}

    @property
    def ports(self) -> Ports:
        """The local servers' ports."""
        return Ports(
            kafka=self.kafka_port,
            kafka_controller=self.kafka_controller_port,
            postgres=self.pg_port,
            prometheus=self.prometheus_port,
            alertmanager=self.alertmanager_port,
            worker_metrics=self.metrics_port,
            sink_metrics=self.sink_metrics_port,
            webhook=self.webhook_port,
        )

    def kafka_home_for(self, version: str) -> Path:
        """Where the Apache Kafka ``version`` jars are installed (``libs/`` inside it)."""
        return self.kafka_home or self.cache_dir / f"kafka-{version}"


def load() -> Settings:
    """Settings as the environment says now; a bad value names its variable and what it must be."""
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{PREFIX}{str(e['loc'][0]).upper() if e['loc'] else ''}: {e['msg']}"
            for e in error.errors()
        )
        raise UserError(f"bad environment setting: {problems}") from None


def cache_dir() -> Path:
    """Machine-level cache (outside any clone): the TimescaleDB chroot and Kafka jars live here."""
    return load().cache_dir


def kafka_home(version: str) -> Path:
    """Where the Apache Kafka ``version`` jars are installed (``libs/`` inside it)."""
    return load().kafka_home_for(version)


def environment_table() -> str:
    """The README's configuration table (markdown), generated from :class:`Settings`."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra
        shown = extra.get("shown") if isinstance(extra, dict) else None
        default = str(shown) if shown is not None else str(field.default)
        if not default.startswith("`"):
            default = f"`{default}`"
        lines.append(f"| `{PREFIX}{name.upper()}` | {default} | {field.description} |")
    return "\n".join(lines)

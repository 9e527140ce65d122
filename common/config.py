"""Settings from environment variables: the one place that reads them.

Every setting has a default that matches the local servers started by ``ioc dev up``.
The README's configuration table lists the same variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"environment variable {name}={raw!r} must be an integer") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"environment variable {name}={raw!r} must be a number") from None


def _str(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = _str(name, default)
    if raw not in allowed:
        raise SystemExit(f"environment variable {name}={raw!r} must be one of {', '.join(allowed)}")
    return raw


def cache_dir() -> Path:
    """Machine-level cache (outside any clone): the TimescaleDB chroot and Kafka jars live here."""
    return Path(_str("IOC_CACHE_DIR", str(Path.home() / ".cache" / "smartcity-ioc")))


def kafka_home(version: str) -> Path:
    """Where the Apache Kafka ``version`` jars are installed (``libs/`` inside it)."""
    return Path(_str("IOC_KAFKA_HOME", str(cache_dir() / f"kafka-{version}")))


@dataclass(frozen=True)
class Ports:
    """Local ports of the development servers (all on 127.0.0.1)."""

    kafka: int = field(default_factory=lambda: _int("IOC_KAFKA_PORT", 19092))
    kafka_controller: int = field(
        default_factory=lambda: _int(
            "IOC_KAFKA_CONTROLLER_PORT", _int("IOC_KAFKA_PORT", 19092) + 100
        )
    )
    postgres: int = field(default_factory=lambda: _int("IOC_PG_PORT", 15432))
    prometheus: int = field(default_factory=lambda: _int("IOC_PROMETHEUS_PORT", 19090))
    alertmanager: int = field(default_factory=lambda: _int("IOC_ALERTMANAGER_PORT", 19093))
    worker_metrics: int = field(default_factory=lambda: _int("IOC_METRICS_PORT", 9464))
    sink_metrics: int = field(default_factory=lambda: _int("IOC_SINK_METRICS_PORT", 9465))


@dataclass(frozen=True)
class Settings:
    """Connection and tuning settings of workers, sink, simulator and replay."""

    ports: Ports = field(default_factory=Ports)
    kafka_bootstrap: str = ""
    database_url: str = ""
    app_id: str = field(default_factory=lambda: _str("IOC_APP_ID", "smartcity-ioc"))
    partitions: int = field(default_factory=lambda: _int("IOC_PARTITIONS", 4))
    grace_seconds: float = field(default_factory=lambda: _float("IOC_GRACE_SECONDS", 30.0))
    idle_timeout_seconds: float = field(
        default_factory=lambda: _float("IOC_IDLE_TIMEOUT_SECONDS", 60.0)
    )
    live_lag_seconds: float = field(default_factory=lambda: _float("IOC_LIVE_LAG_SECONDS", 300.0))
    future_skew_seconds: float = field(
        default_factory=lambda: _float("IOC_FUTURE_SKEW_SECONDS", 300.0)
    )
    dedup_horizon_seconds: float = field(
        default_factory=lambda: _float("IOC_DEDUP_HORIZON_SECONDS", 3630.0)
    )
    """How long an event id is remembered (event time past the watermark): at least the
    largest window plus the grace."""
    processing_guarantee: str = field(
        default_factory=lambda: _choice(
            "IOC_PROCESSING_GUARANTEE", "at_least_once", ("at_least_once", "exactly_once")
        )
    )
    """Faust's ``processing_guarantee``. The product runs ``at_least_once``: its idempotent
    state already makes the rows exact; ``exactly_once`` (Kafka transactions) is for
    measuring its cost (README, "Delivery guarantee")."""
    metrics_addr: str = field(default_factory=lambda: _str("IOC_METRICS_ADDR", "127.0.0.1"))
    state_dir: Path = field(
        default_factory=lambda: Path(_str("IOC_STATE_DIR", str(cache_dir() / "state")))
    )
    """Where a worker's Faust app keeps its local files (one directory per app id; the
    window state itself lives in the changelog topics)."""

    def __post_init__(self) -> None:
        if not self.kafka_bootstrap:
            default = f"127.0.0.1:{self.ports.kafka}"
            object.__setattr__(self, "kafka_bootstrap", _str("IOC_KAFKA_BOOTSTRAP", default))
        if not self.database_url:
            default = f"postgresql://ioc@127.0.0.1:{self.ports.postgres}/ioc"
            object.__setattr__(self, "database_url", _str("IOC_DATABASE_URL", default))


def load() -> Settings:
    """Settings as the environment says now."""
    return Settings()

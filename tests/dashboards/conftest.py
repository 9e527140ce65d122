"""Fixtures of the dashboard tests: a fresh migrated database filled with synthetic KPIs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from common import config
from deploy.devstack.urls import with_user
from sinks.migrate import migrate
from tests.dashboards.dashboards_synthetic import insert, insert_entities, rows


@pytest.fixture(scope="session")
def synthetic_now() -> datetime:
    """The end of the synthetic data: the moment the boards are queried at."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(scope="session")
def kpi_database(new_database: Callable[..., str], synthetic_now: datetime) -> str:
    """URL (read-only role ``ioc_grafana``) of a migrated database with 3 h of KPI rows.

    Every catalog KPI x 8 districts x window kinds 1m, 15m, 1h, plus one agency, site or
    sensor per district over the last 30 minutes.
    """
    url = new_database("dashboards")
    migrate(url)
    written = insert(url, rows(synthetic_now, hours=3.0))
    assert written > 50_000
    assert insert_entities(url) > 8
    return with_user(url, "ioc_grafana")


@pytest.fixture(scope="session")
def prometheus_url(settings: config.Settings) -> str:
    """Base URL of the local Prometheus (started with the other dev servers)."""
    return f"http://127.0.0.1:{settings.ports.prometheus}"

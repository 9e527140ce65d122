"""The portal's backlog: KPIs from the first simulated hour of an office-hours period.

The simulated portal starts with the dossiers received in the previous days and weeks, so
completions (on time or late, paid online or not, rated) flow from the first minute. The
KPIs of the first hour are checked against figures computed by hand from the events, and
every portal KPI of the catalog has a value in every district's first 1-hour window.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from schemas.decode import decode
from schemas.events import DossierEvent, DossierStatus
from schemas.places import District
from schemas.topics import PORTAL_TOPIC
from simulator.generator import SimConfig, generate
from streams.catalog import kpis_for_topic
from tests.oracle import Admitted, expected_rows

START = datetime(2026, 3, 10, 14, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))  # a Tuesday
START_MS = int(START.timestamp() * 1000)
HOUR_MS = 3_600_000


def first_hour(seed: int = 42) -> list[bytes]:
    config = SimConfig(start_ms=START_MS, end_ms=START_MS + HOUR_MS, seed=seed, sources=("portal",))
    return [m.value for m in generate(config) if m.value is not None]


@pytest.fixture(scope="module")
def events() -> list[DossierEvent]:
    decoded = [decode(PORTAL_TOPIC, value) for value in first_hour()]
    assert all(isinstance(e, DossierEvent) for e in decoded)
    return [e for e in decoded if isinstance(e, DossierEvent)]


def test_same_seed_same_backlog() -> None:
    assert first_hour(seed=9) == first_hour(seed=9) != first_hour(seed=10)


def test_completions_of_the_first_hour_come_from_days_and_weeks_before(
    events: list[DossierEvent],
) -> None:
    completed = [e for e in events if e.status == DossierStatus.COMPLETED]
    assert len(completed) > 100
    received = sorted(e.received_at for e in completed)
    assert all(e.received_at < e.occurred_at for e in completed)
    assert sum(r < START for r in received) > 0.9 * len(completed)
    assert received[0] < START - timedelta(days=14)  # weeks-long procedures
    assert START - timedelta(days=3) < received[len(received) // 2] < START
    late = [e for e in completed if e.due_at is not None and e.occurred_at > e.due_at]
    on_time = len(completed) - len(late)
    assert late and on_time > len(late)
    paid = [e.paid_online for e in completed]
    assert any(paid) and not all(paid)
    assert 0 < sum(e.rating is not None for e in completed) < len(completed)


def test_first_hour_kpis_equal_the_hand_computed_figures(events: list[DossierEvent]) -> None:
    by_district: dict[str, list[DossierEvent]] = defaultdict(list)
    for event in events:
        by_district[event.district.value].append(event)
    assert by_district.keys() == {d.value for d in District}
    names = {k.name for k in kpis_for_topic(PORTAL_TOPIC)}
    hour_start, hour_end = START_MS // 1000, START_MS // 1000 + 3600
    for district, mine in by_district.items():
        admitted = [Admitted(i, e.occurred_at.timestamp(), e) for i, e in enumerate(mine)]
        rows = {
            kpi: row.value
            for (kpi, kind, entity, start, end), row in expected_rows(
                PORTAL_TOPIC, 0, admitted
            ).items()
            if kind == "district" and (start, end) == (hour_start, hour_end)
        }
        assert rows.keys() == names, (district, names - rows.keys())
        completed = [e for e in mine if e.status == DossierStatus.COMPLETED]
        submitted = [e for e in mine if e.status == DossierStatus.SUBMITTED]
        rated = [e.rating for e in mine if e.rating is not None]
        assert rows["portal.dossiers_completed"] == len(completed)
        assert rows["portal.dossiers_received"] == len(submitted)
        on_time = sum(e.occurred_at <= e.due_at for e in completed if e.due_at is not None)
        assert rows["portal.on_time_rate"] == pytest.approx(on_time / len(completed))
        paid = sum(e.paid_online for e in completed)
        assert rows["portal.online_payment_rate"] == pytest.approx(paid / len(completed))
        assert rows["portal.rating_mean"] == pytest.approx(sum(rated) / len(rated))

"""Rhythms of the province: office hours, working time, load, tides, salinity, scenarios."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from simulator import rhythms
from simulator.generator import SimConfig, generate
from simulator.scenarios import ScenarioKind, make_scenario

HOUR = 3_600_000
MINUTE = 60_000


def _utc_ms(year: int, month: int, day: int, hour: int) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


FRIDAY_08_LOCAL = _utc_ms(2025, 3, 14, 1)  # Hau Giang is UTC+7
SUNDAY_08_LOCAL = _utc_ms(2025, 3, 16, 1)


def test_office_hours_and_weekdays() -> None:
    assert rhythms.weekday(FRIDAY_08_LOCAL) == 4
    assert rhythms.office_factor(FRIDAY_08_LOCAL) == 1.0
    assert rhythms.office_factor(FRIDAY_08_LOCAL + 4 * HOUR) == 0.0  # 12:00 lunch
    assert rhythms.office_factor(FRIDAY_08_LOCAL - 6 * HOUR) == 0.0  # 02:00
    assert rhythms.office_factor(SUNDAY_08_LOCAL) == 0.0
    assert rhythms.online_factor(SUNDAY_08_LOCAL) > rhythms.online_factor(
        SUNDAY_08_LOCAL - 6 * HOUR
    )


ANY_MS = st.integers(min_value=0, max_value=4_000_000_000_000)


@given(ANY_MS, st.integers(min_value=0, max_value=400 * HOUR))
def test_working_time_is_monotone_and_lands_in_office_hours(ms: int, duration: int) -> None:
    later = rhythms.add_working(ms, duration)
    assert rhythms.working_ms(later) == rhythms.working_ms(ms) + duration
    assert later >= ms or rhythms.working_ms(ms) == rhythms.working_ms(later)
    hour = rhythms.local_hour(later)
    assert rhythms.weekday(later) < 5
    assert 7.5 <= hour <= 11.5 or 13.0 <= hour <= 17.0


def test_working_days_skip_the_weekend() -> None:
    due = rhythms.add_working(FRIDAY_08_LOCAL, 8 * HOUR)
    assert due == FRIDAY_08_LOCAL + 3 * 24 * HOUR  # Monday 08:00


def test_network_load_peaks_in_the_evening() -> None:
    night = rhythms.network_load(FRIDAY_08_LOCAL - 4 * HOUR)  # 04:00
    evening = rhythms.network_load(FRIDAY_08_LOCAL + 12 * HOUR + 30 * MINUTE)  # 20:30
    assert night < 0.3 < 0.8 < evening


def test_tide_is_semidiurnal() -> None:
    series = [rhythms.tide(FRIDAY_08_LOCAL + m * MINUTE, 1.0) for m in range(0, 48 * 60, 10)]
    highs = [i for i in range(1, len(series) - 1) if series[i - 1] < series[i] >= series[i + 1]]
    assert 3 <= len(highs) <= 4  # two high waters a day (mixed tide)
    assert max(series) - min(series) > 1.0


def _salinity(start_ms: int, hours: int, **kwargs: object) -> dict[str, list[float]]:
    config = SimConfig(
        start_ms=start_ms,
        end_ms=start_ms + hours * HOUR,
        sources=("farm",),
        **kwargs,  # type: ignore[arg-type]
    )
    values: dict[str, list[float]] = defaultdict(list)
    for message in generate(config):
        if message.key not in (b"long-my", b"chau-thanh", b"vi-thuy"):
            continue
        event = orjson.loads(message.value or b"{}")
        if event["kind"] == "salinity" and event["sensor_id"] == "lm-sal-001":
            values["series"].append(event["value"])
            values["tide"].append(rhythms.tide(message.occurred_ms or 0, 1.0))
        if event["kind"] == "salinity":
            values[event["district"]].append(event["value"])
    return values


def test_dry_season_salinity_follows_the_tide_and_wet_season_is_fresh() -> None:
    dry = _salinity(FRIDAY_08_LOCAL, 14)
    series = dry["series"]
    assert len(series) == 14 * 60
    assert max(series) - min(series) > 0.5  # tidal swing in Long My
    assert statistics.correlation(series, dry["tide"]) > 0.9
    assert max(dry["chau-thanh"]) < 1.0  # far from the sea
    wet = _salinity(_utc_ms(2025, 8, 14, 1), 2)
    assert max(wet["long-my"]) < 0.6


def test_salinity_intrusion_scenario_crosses_the_alert_threshold() -> None:
    scenario = make_scenario(ScenarioKind.SALINITY_INTRUSION, None, FRIDAY_08_LOCAL + 30 * MINUTE)
    values = _salinity(FRIDAY_08_LOCAL, 2, scenarios=(scenario,))
    series = values["series"]
    assert max(series[:30]) < 4.0
    assert min(series[60:]) > 4.0
    assert max(values["vi-thuy"]) < 4.0


def test_site_outage_scenario_takes_part_of_the_district_down() -> None:
    start = FRIDAY_08_LOCAL
    scenario = make_scenario(ScenarioKind.SITE_OUTAGE, None, start + 10 * MINUTE)
    config = SimConfig(
        start_ms=start, end_ms=start + 20 * MINUTE, sources=("network",), scenarios=(scenario,)
    )
    probes: Counter[tuple[str, bool, bool]] = Counter()
    for message in generate(config):
        event = orjson.loads(message.value or b"{}")
        during = (message.occurred_ms or 0) >= start + 10 * MINUTE
        probes[(event["district"], during, event["up"])] += 1

    def availability(district: str, during: bool) -> float:
        up, down = probes[(district, during, True)], probes[(district, during, False)]
        return up / (up + down)

    assert availability("phung-hiep", False) > 0.98
    assert 0.3 < availability("phung-hiep", True) < 0.8
    assert availability("vi-thanh", True) > 0.98


def _portal(start_ms: int, hours: int, **kwargs: object) -> list[dict[str, object]]:
    config = SimConfig(
        start_ms=start_ms,
        end_ms=start_ms + hours * HOUR,
        sources=("portal",),
        **kwargs,  # type: ignore[arg-type]
    )
    return [orjson.loads(m.value or b"{}") for m in generate(config)]


def test_dossiers_follow_office_hours_and_complete_mostly_on_time() -> None:
    friday = _portal(FRIDAY_08_LOCAL - 8 * HOUR, 24)  # Friday 00:00 .. Saturday 00:00 local
    by_hour = Counter(
        int(rhythms.local_hour(_ms(e["occurred_at"]))) for e in friday if e["status"] == "submitted"
    )
    assert by_hour[9] > 5 * max(1, by_hour[3])
    assert by_hour[9] > 2 * by_hour[12]
    counter = [e for e in friday if e["channel"] == "counter"]
    assert counter
    assert all(
        rhythms.office_factor(_ms(e["occurred_at"])) > 0
        for e in counter
        if e["status"] == "submitted"
    )
    statuses = Counter(e["status"] for e in friday)
    assert statuses["submitted"] > 500 and statuses["completed"] > 500
    assert 0 < statuses["returned"] < statuses["accepted"] and statuses["cancelled"] > 0
    done = [e for e in friday if e["status"] == "completed"]
    on_time = sum(1 for e in done if _ms(e["occurred_at"]) <= _ms(e["due_at"])) / len(done)
    assert on_time > 0.93
    online = sum(1 for e in friday if e["status"] == "submitted" and e["channel"] == "online")
    assert 0.7 < online / statuses["submitted"] < 0.95
    sunday = _portal(SUNDAY_08_LOCAL, 4)
    assert {e["channel"] for e in sunday} == {"online"}


def test_portal_backlog_scenario_makes_completions_late() -> None:
    scenario = make_scenario(ScenarioKind.PORTAL_BACKLOG, None, FRIDAY_08_LOCAL)
    events = _portal(FRIDAY_08_LOCAL, 8, scenarios=(scenario,))
    done = [e for e in events if e["status"] == "completed"]

    def on_time(district: str) -> float:
        mine = [e for e in done if e["district"] == district]
        return sum(1 for e in mine if _ms(e["occurred_at"]) <= _ms(e["due_at"])) / len(mine)

    assert on_time("vi-thanh") < 0.7
    assert on_time("phung-hiep") > 0.9


def _ms(text: object) -> int:
    return int(datetime.fromisoformat(str(text)).timestamp() * 1000)

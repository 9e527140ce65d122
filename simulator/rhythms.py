"""Rhythms of the province as pure functions of simulated time (ms since the epoch, UTC).

Local time is Indochina Time (UTC+7, no daylight saving). Office hours follow Vietnamese
public administration (07:00-11:30 and 13:00-17:00, Monday to Friday, some one-stop shops
on Saturday morning); network load has a small midday and a large evening peak; tides
are mixed semi-diurnal (M2 12.42 h, S2 12 h, K1 23.93 h), which also yields the
spring-neap cycle; salinity intrudes in the dry season (December to May, peak in March).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from simulator.timefmt import DAY_MS, HOUR_MS, MINUTE_MS

LOCAL_OFFSET_MS: Final = 7 * HOUR_MS
M2_HOURS: Final = 12.4206
S2_HOURS: Final = 12.0
K1_HOURS: Final = 23.9345

_DRY_SEASON: Final = {12: 0.25, 1: 0.55, 2: 0.85, 3: 1.0, 4: 0.9, 5: 0.45}


def local_hour(ms: int) -> float:
    """Hour of the local day, 0 <= h < 24."""
    return ((ms + LOCAL_OFFSET_MS) % DAY_MS) / HOUR_MS


def weekday(ms: int) -> int:
    """Local weekday, Monday = 0 (1970-01-01 was a Thursday)."""
    return ((ms + LOCAL_OFFSET_MS) // DAY_MS + 3) % 7


def office_factor(ms: int) -> float:
    """Staffed counters open: 0 (closed) .. 1 (full morning service)."""
    day = weekday(ms)
    hour = local_hour(ms)
    if day == 6:
        return 0.0
    if day == 5:
        return 0.3 if 7.5 <= hour < 11.5 else 0.0
    if 7.0 <= hour < 7.5:
        return 0.6
    if 7.5 <= hour < 11.0:
        return 1.0
    if 11.0 <= hour < 11.5:
        return 0.6
    if 13.0 <= hour < 16.5:
        return 0.9
    if 16.5 <= hour < 17.0:
        return 0.5
    return 0.0


def is_office_hours(ms: int) -> bool:
    """True while counters are staffed on a working day (Monday to Friday)."""
    return weekday(ms) < 5 and office_factor(ms) > 0.0


def online_factor(ms: int) -> float:
    """Relative rate of online submissions: office hours, evenings, a little at night."""
    hour = local_hour(ms)
    if weekday(ms) >= 5:
        return 0.25 if 8.0 <= hour < 22.0 else 0.03
    staffed = office_factor(ms)
    if staffed > 0.0:
        return staffed
    if 11.5 <= hour < 13.0:
        return 0.5
    if 17.0 <= hour < 22.5:
        return 0.4
    if 5.5 <= hour < 7.0:
        return 0.15
    return 0.03


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


def _load_table() -> tuple[float, ...]:
    values = []
    for minute in range(24 * 60):
        hour = minute / 60
        load = (
            0.12
            + 0.45 * _bump(hour, 9.5, 2.5)
            + 0.3 * _bump(hour, 12.3, 1.0)
            + 0.8 * _bump(hour, 20.5, 2.2)
        )
        values.append(min(1.0, load))
    return tuple(values)


_LOAD: Final = _load_table()


def network_load(ms: int) -> float:
    """Cell load 0..1: quiet at 03-05 h, a midday bump, the peak around 20:30."""
    load = _LOAD[((ms + LOCAL_OFFSET_MS) % DAY_MS) // MINUTE_MS]
    return load * 0.85 if weekday(ms) >= 5 else load


def tide(ms: int, lag_hours: float) -> float:
    """Normalised water level, about -1 (low water) .. 1 (spring high water)."""
    hours = ms / HOUR_MS - lag_hours
    return (
        0.55 * math.cos(2 * math.pi * hours / M2_HOURS)
        + 0.2 * math.cos(2 * math.pi * hours / S2_HOURS)
        + 0.25 * math.cos(2 * math.pi * hours / K1_HOURS + 1.1)
    )


def dry_season(ms: int) -> float:
    """Strength of salinity intrusion 0..1 by month (peak in March)."""
    month = datetime.fromtimestamp((ms + LOCAL_OFFSET_MS) / 1000, UTC).month
    return _DRY_SEASON.get(month, 0.0)


def daylight(ms: int) -> float:
    """Sun height 0..1 (06:00-18:00 local)."""
    hour = local_hour(ms)
    return max(0.0, math.sin(math.pi * (hour - 6.0) / 12.0))


def heat(ms: int, peak_hour: float = 14.5) -> float:
    """Daily temperature shape 0 (pre-dawn) .. 1 (afternoon peak)."""
    hour = local_hour(ms)
    return 0.5 * (1.0 + math.cos(2 * math.pi * (hour - peak_hour) / 24.0))


# Working time: 07:30-11:30 and 13:00-17:00 local, Monday to Friday (8 hours a day).
WORKDAY_MS: Final = 8 * HOUR_MS
_WEEK_WORK_MS: Final = 5 * WORKDAY_MS
_MORNING_MS: Final = int(7.5 * HOUR_MS)
_AFTERNOON_MS: Final = 13 * HOUR_MS
_HALF_MS: Final = 4 * HOUR_MS
_FIRST_MONDAY: Final = 4  # 1970-01-05 is day 4 of the epoch


def working_ms(ms: int) -> int:
    """Working time (ms) elapsed between an early-1970 Monday and ``ms``; monotone."""
    local = ms + LOCAL_OFFSET_MS
    day, time_of_day = divmod(local, DAY_MS)
    day_of_week = (day + 3) % 7
    weeks = (day - day_of_week - _FIRST_MONDAY) // 7
    if day_of_week >= 5:
        return (weeks + 1) * _WEEK_WORK_MS
    within = min(max(time_of_day - _MORNING_MS, 0), _HALF_MS) + min(
        max(time_of_day - _AFTERNOON_MS, 0), _HALF_MS
    )
    return weeks * _WEEK_WORK_MS + day_of_week * WORKDAY_MS + within


def from_working_ms(work: int) -> int:
    """The earliest instant whose ``working_ms`` is ``work`` (inside working hours)."""
    weeks, rest = divmod(work, _WEEK_WORK_MS)
    day_of_week, within = divmod(rest, WORKDAY_MS)
    time_of_day = _MORNING_MS + within if within < _HALF_MS else _AFTERNOON_MS + within - _HALF_MS
    day = _FIRST_MONDAY + weeks * 7 + day_of_week
    return day * DAY_MS + time_of_day - LOCAL_OFFSET_MS


def add_working(ms: int, duration_ms: int) -> int:
    """``ms`` plus ``duration_ms`` of working time (lands inside working hours)."""
    return from_working_ms(working_ms(ms) + duration_ms)


OFFICE_OPENS_MS: Final = 7 * HOUR_MS
OFFICE_CLOSES_MS: Final = 17 * HOUR_MS


def office_period_end(now_ms: int, hours: float) -> int:
    """End of the latest ``hours`` of weekday office hours (07:00-17:00 local) up to now.

    Now itself when that many office hours of today lie behind it, else 17:00 of the
    latest weekday that has them (periods over 10 h start before 07:00). Whole minutes.
    """
    local = now_ms + LOCAL_OFFSET_MS
    local -= local % MINUTE_MS
    needed = min(int(hours * HOUR_MS), OFFICE_CLOSES_MS - OFFICE_OPENS_MS)
    today = local - local % DAY_MS
    for back in range(8):
        day = today - back * DAY_MS
        if weekday(day - LOCAL_OFFSET_MS) >= 5 or local < day + OFFICE_OPENS_MS + needed:
            continue
        return min(local, day + OFFICE_CLOSES_MS) - LOCAL_OFFSET_MS
    raise AssertionError("every week has a weekday")  # pragma: no cover

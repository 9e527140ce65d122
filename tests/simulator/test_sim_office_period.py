"""The demo's default period: the latest hours of weekday office hours (07:00-17:00 local)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from simulator import rhythms

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
HOUR = 3_600_000


def _ms(text: str) -> int:
    """Milliseconds of a local (UTC+7) time written as ISO without offset."""
    return int(datetime.fromisoformat(text).replace(tzinfo=LOCAL).timestamp() * 1000)


def test_within_office_hours_the_period_ends_now() -> None:
    assert rhythms.office_period_end(_ms("2026-12-08T15:20:31"), 3) == _ms("2026-12-08T15:20")


def test_after_closing_it_ends_at_five() -> None:
    assert rhythms.office_period_end(_ms("2026-12-08T19:19"), 3) == _ms("2026-12-08T17:00")


def test_too_early_in_the_morning_it_ends_the_day_before() -> None:
    assert rhythms.office_period_end(_ms("2026-12-08T09:59"), 3) == _ms("2026-12-07T17:00")
    assert rhythms.office_period_end(_ms("2026-12-08T10:00"), 3) == _ms("2026-12-08T10:00")


def test_weekends_and_monday_mornings_end_on_friday() -> None:
    friday_five = _ms("2026-12-04T17:00")
    assert rhythms.office_period_end(_ms("2026-12-05T11:00"), 3) == friday_five  # Saturday
    assert rhythms.office_period_end(_ms("2026-12-06T23:00"), 3) == friday_five  # Sunday
    assert rhythms.office_period_end(_ms("2026-12-07T08:00"), 3) == friday_five  # Monday


def test_long_periods_end_at_five_and_start_before_opening() -> None:
    assert rhythms.office_period_end(_ms("2026-12-08T16:00"), 12) == _ms("2026-12-07T17:00")


@given(st.integers(min_value=0, max_value=4_000_000_000_000), st.floats(0.25, 10.0))
def test_the_whole_period_lies_in_one_weekday_s_office_hours(now: int, hours: float) -> None:
    end = rhythms.office_period_end(now, hours)
    start = end - int(hours * HOUR)
    assert end <= now and now - end < 4 * 24 * HOUR
    assert rhythms.weekday(start) == rhythms.weekday(end - 1) < 5
    assert rhythms.local_hour(start) >= 7.0 and rhythms.local_hour(end - 1) < 17.0
    assert end % 60_000 == 0


def test_the_minute_it_becomes_possible() -> None:
    now = _ms("2026-12-08T10:00") + 59_999
    assert rhythms.office_period_end(now, 3) == _ms("2026-12-08T10:00")

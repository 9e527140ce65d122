"""The demo's simulated period: the latest office hours, or the hours ending now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ioc.summary import Period

EVENING = datetime(2026, 12, 7, 12, 19, 42, tzinfo=UTC)  # Monday 19:19 in Hau Giang


def test_default_period_is_the_afternoon_s_last_office_hours() -> None:
    period = Period.choose(EVENING, 3.0, end_now=False)
    assert period.end == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert period.end - period.start == timedelta(hours=3)
    assert period.local() == "2026-12-07 14:00-17:00 (Asia/Ho_Chi_Minh)"


def test_end_now_keeps_the_old_period() -> None:
    period = Period.choose(EVENING, 0.5, end_now=True)
    assert period.end == datetime(2026, 12, 7, 12, 19, tzinfo=UTC)
    assert period.local() == "2026-12-07 18:49-19:19 (Asia/Ho_Chi_Minh)"


def test_a_period_over_midnight_names_both_days() -> None:
    one_am = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)  # Tuesday 01:00 in Hau Giang
    period = Period.choose(one_am, 3.0, end_now=True)
    assert period.local() == "2026-12-07 22:00-2026-12-08 01:00 (Asia/Ho_Chi_Minh)"


def test_only_a_period_ending_now_has_live_last_windows() -> None:
    assert Period.choose(EVENING, 0.5, end_now=True).ends_at(EVENING)
    assert not Period.choose(EVENING, 3.0, end_now=False).ends_at(EVENING)
    office = datetime(2026, 12, 8, 2, 0, 5, tzinfo=UTC)  # Tuesday 09:00 in Hau Giang
    assert Period.choose(office, 0.75, end_now=False).ends_at(office)

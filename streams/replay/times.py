"""Times on the command line: ISO 8601, ``now``, or a duration ago (``now-1d``, ``-90m``)."""

from __future__ import annotations

import datetime as dt

from common.durations import parse_duration


def parse_time(text: str, now: dt.datetime) -> dt.datetime:
    """A UTC time from ``text``; ValueError with an example of each accepted form otherwise.

    ``2026-03-10T06:00:00Z`` or with an offset (a time without zone is UTC), ``now``, or a
    duration before ``now``: ``now-1d``, ``now-2h``, ``-90m`` (on the command line write
    ``--from=-90m``: argparse takes a bare ``-90m`` for an option).
    """
    value = text.strip()
    lowered = value.lower()
    if lowered == "now":
        return now.astimezone(dt.UTC)
    if lowered.startswith(("now-", "-")):
        return (now - parse_duration(lowered.partition("-")[2])).astimezone(dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-03-10T06:00:00Z), 'now' or a duration "
            "ago such as now-1d, now-2h, now-90m"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def iso(when: float | dt.datetime) -> str:
    """``2026-03-10T06:00:00Z`` of a time or of seconds since the epoch (whole seconds)."""
    if not isinstance(when, dt.datetime):
        when = dt.datetime.fromtimestamp(when, dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

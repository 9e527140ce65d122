"""The one duration grammar of every command and board: ``90``, ``250ms``, ``45s``, ``15m``,
``12h``, ``30d``, ``2w``, ``1y`` and sums such as ``1h30m`` (a bare number is seconds)."""

from __future__ import annotations

import argparse
import re
from datetime import timedelta
from typing import Final

_UNITS: Final = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}
_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|[smhdwy])")
EXAMPLES: Final = "90, 45s, 15m, 12h, 30d, 2w or 1h30m"


def parse_duration(text: str, *, allow_zero: bool = False) -> timedelta:
    """``1h30m`` -> timedelta(minutes=90); raises ValueError for anything else, and for zero
    unless ``allow_zero`` (an offset such as ``--scenario-after 0m``)."""
    compact = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", compact):
        seconds = float(compact)
    else:
        seconds, position = 0.0, 0
        for match in _PART.finditer(compact):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            position = match.end()
        if not compact or position != len(compact):
            raise ValueError(f"{text!r} is not a duration like {EXAMPLES}")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(seconds=seconds)


def parse_seconds(text: str) -> float:
    """:func:`parse_duration` in seconds."""
    return parse_duration(text).total_seconds()


def format_duration(value: timedelta) -> str:
    """The largest whole unit that renders ``value`` exactly (``timedelta(days=30)`` -> ``30d``)."""
    seconds = value.total_seconds()
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if unit != "ms" and seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def duration_arg(text: str) -> timedelta:
    """argparse ``type=`` for a duration option."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def seconds_arg(text: str) -> float:
    """argparse ``type=`` for a duration option kept in seconds."""
    return duration_arg(text).total_seconds()


def offset_seconds_arg(text: str) -> float:
    """argparse ``type=`` for an offset in seconds, where zero is allowed."""
    try:
        return parse_duration(text, allow_zero=True).total_seconds()
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None

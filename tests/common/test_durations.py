"""One duration grammar for every command and board."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.durations import (
    duration_arg,
    format_duration,
    offset_seconds_arg,
    parse_duration,
    parse_seconds,
    seconds_arg,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", timedelta(seconds=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("1y", timedelta(days=365)),
        (" 1.5D ", timedelta(hours=36)),
        ("1h30m", timedelta(minutes=90)),
        ("1d 2h", timedelta(hours=26)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "d", "-1d", "0d", "0", "1 day", "3 hours", "1h30", "h1"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|zero"):
        parse_duration(text)


def test_the_argparse_type_says_what_is_expected() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="1h30m"):
        duration_arg("soon")


@given(st.integers(min_value=1, max_value=10**8))
def test_format_then_parse_is_the_identity(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@given(st.lists(st.tuples(st.integers(1, 999), st.sampled_from("smhdw")), min_size=1, max_size=4))
def test_a_sum_of_parts_is_the_sum_of_their_seconds(parts: list[tuple[int, str]]) -> None:
    size = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert parse_seconds(text) == sum(n * size[unit] for n, unit in parts)


def test_an_offset_may_be_zero_a_duration_may_not() -> None:
    assert offset_seconds_arg("0m") == 0.0
    assert offset_seconds_arg("90s") == 90.0
    with pytest.raises(argparse.ArgumentTypeError, match="zero"):
        seconds_arg("0m")
    with pytest.raises(argparse.ArgumentTypeError):
        offset_seconds_arg("-1m")

"""Grafana's number formatting, checked against the cases of Grafana's own test suite.

Cases marked "grafana" are copied from ``packages/grafana-data/src/valueFormats/
valueFormats.test.ts`` (the independent oracle); the others pin what the boards rely on.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.display import display, format_value, reduce, to_fixed

GRAFANA_CASES = [  # (unit, decimals, value, text) from Grafana's valueFormats.test.ts
    ("ms", 4, 0.0024, "0.0024 ms"),
    ("ms", 0, 100, "100 ms"),
    ("ms", 2, 1250, "1.25 s"),
    ("ms", 1, 10000086.123, "2.8 hour"),
    ("ms", 0, 1200, "1 s"),
]
BOARD_CASES = [
    ("percentunit", 2, 0.675, "67.50%"),
    ("percentunit", 4, 0.9952, "99.5200%"),
    ("percent", 0, 49.5, "50%"),  # Math.round: halves up
    ("h", 1, 30, "1.3 day"),  # 1.25 day, half up
    ("h", 1, 200, "1.2 week"),
    ("m", 1, 2.25, "2.3 min"),
    ("Mbits", 1, 101.25, "101.3 Mbps"),
    ("celsius", 1, 31, "31.0 °C"),
    ("suffix:g/L", 2, 6.4, "6.40 g/L"),
    ("ops", 2, 0.25, "0.25 ops"),
    ("ops", 0, 0, "0 ops"),
    ("s", 1, 95, "1.6 min"),
    ("s", 0, 0, "0 s"),
    ("short", 0, 1500, "2 K"),
    ("none", 0, 1500, "1500"),
]


@pytest.mark.parametrize(("unit", "decimals", "value", "text"), GRAFANA_CASES + BOARD_CASES)
def test_format_value(unit: str, decimals: int, value: float, text: str) -> None:
    assert format_value(value, unit, decimals) == text


def test_to_fixed_like_grafana() -> None:
    assert [to_fixed(100, None), to_fixed(100.4, None), to_fixed(100.5, None)] == [
        "100",
        "100",
        "101",
    ]
    assert [to_fixed(100, 1), to_fixed(100.37, 1), to_fixed(100.63, 1)] == [
        "100.0",
        "100.4",
        "100.6",
    ]
    assert [to_fixed(100.4, 2), to_fixed(100.5, 2), to_fixed(186.123, -2)] == [
        "100.40",
        "100.50",
        "186",
    ]


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="bytes"):
        format_value(1.0, "bytes", 0)


def test_mappings_and_no_value() -> None:
    mappings = [{"type": "value", "options": {"1": {"text": "HOẠT ĐỘNG"}}}]
    assert display(1.0, "none", 0, mappings) == "HOẠT ĐỘNG"
    assert display(0.0, "none", 0, mappings) == "0"
    assert display(None, "none", 0, mappings) == "—"
    assert reduce([1.0, None, 3.0, None], "lastNotNull") == 3.0
    assert reduce([None], "lastNotNull") is None


@given(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).filter(lambda v: abs(v) > 1e-6),
    st.integers(min_value=0, max_value=4),
)
def test_to_fixed_is_the_value_rounded(value: float, decimals: int) -> None:
    text = to_fixed(value, decimals)
    assert len(text.partition(".")[2]) == decimals
    assert abs(float(text) - value) <= 0.5 * 10**-decimals * (1 + 1e-9) + abs(value) * 1e-15

"""``ioc_sketch_quantile`` in TimescaleDB gives the quantile the worker computes from the
merged sketch (``Quantile.result``), for any values (negative, zero, positive) and any split
of them into sketches (districts)."""

from __future__ import annotations

import json
from collections.abc import Callable

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinks.migrate import migrate
from sinks.sketch_cumulative import MAX_KEYS, cumulative
from streams.accumulators.base import State
from streams.accumulators.quantile import Quantile

pytestmark = pytest.mark.integration

VALUES = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([0.0, 1.0, 2.5, 100.0, -3.0]),
)


@pytest.fixture(scope="module")
def url(new_database: Callable[..., str]) -> str:
    database = new_database("sketch_sql")
    migrate(database)
    return database


def _sketches(parts: list[list[float]], q: float) -> tuple[list[State], float | None]:
    """One worker sketch per list of ``parts``, and the worker's ``q`` quantile of their merge."""
    acc = Quantile(q)
    sketches = []
    for values in parts:
        state = acc.new()
        for value in values:
            acc.add(state, value)
        sketches.append(state)
    return sketches, acc.result(acc.merge_all(sketches), 60)


@settings(max_examples=60, deadline=None)
@given(
    parts=st.lists(st.lists(VALUES, min_size=0, max_size=30), min_size=1, max_size=5),
    q=st.sampled_from([0.0, 0.5, 0.95, 1.0]),
)
def test_sql_quantile_of_merged_sketches_equals_the_workers(
    url: str, parts: list[list[float]], q: float
) -> None:
    sketches, want = _sketches(parts, q)
    with psycopg.connect(url) as conn:
        (got,) = conn.execute(
            "SELECT ioc_sketch_quantile(%s::jsonb[], %s)",
            ([json.dumps(s) for s in sketches], q),
        ).fetchone() or (None,)
    if want is None:
        assert got is None
    else:
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


MAGNITUDES = st.floats(min_value=1e-3, max_value=1e6)
"""Values whose keys span under ``MAX_KEYS`` (wider sketches keep only the JSON form)."""
SPANNED = st.one_of(MAGNITUDES, MAGNITUDES.map(lambda v: -v), st.just(0.0))


@settings(max_examples=60, deadline=None)
@given(
    parts=st.lists(st.lists(SPANNED, min_size=0, max_size=30), min_size=1, max_size=5),
    q=st.sampled_from([0.0, 0.25, 0.5, 0.95, 1.0]),
)
def test_the_cumulative_form_gives_the_same_quantile(
    url: str, parts: list[list[float]], q: float
) -> None:
    """``ioc_sketch_cumulative_quantile`` over the concatenated cumulative forms equals the
    worker's quantile of the merged sketch (and so ``ioc_sketch_quantile``)."""
    sketches, want = _sketches(parts, q)
    flat = [x for s in sketches for x in cumulative(s) or pytest.fail("too wide")]
    with psycopg.connect(url) as conn:
        (got,) = conn.execute(
            "SELECT ioc_sketch_cumulative_quantile(%s::float8[], %s)", (flat, q)
        ).fetchone() or (None,)
        (concatenated,) = conn.execute(
            "SELECT ioc_sketch_cumulative_quantile(ioc_array_cat_agg(c), %s) "
            "FROM unnest(%s::jsonb[]) AS s, LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text"
            "(s)::float8) AS c) AS x",
            (q, [json.dumps(cumulative(s)) for s in sketches]),
        ).fetchone() or (None,)
    if want is None:
        assert got is None and concatenated is None
    else:
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
        assert concatenated == got


def test_the_cumulative_form_of_a_sketch() -> None:
    sketch = [4, 4.0, 1.0, {"3": 1.0, "5": 2.0}, {}]
    assert cumulative(sketch) == [4.0, 4.0, 1.0, 3.0, 3.0, 1.0, 1.0, 3.0, 0.0, 0.0]
    assert cumulative(None) is None
    assert cumulative([2, 2.0, 0.0, {"0": 1.0, str(MAX_KEYS): 1.0}, {}]) is None
    assert cumulative([2, 2.0, 0.0, {"0": 1.0, str(MAX_KEYS - 1): 1.0}, {}]) is not None

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


@settings(max_examples=60, deadline=None)
@given(
    parts=st.lists(st.lists(VALUES, min_size=0, max_size=30), min_size=1, max_size=5),
    q=st.sampled_from([0.0, 0.5, 0.95, 1.0]),
)
def test_sql_quantile_of_merged_sketches_equals_the_workers(
    url: str, parts: list[list[float]], q: float
) -> None:
    acc = Quantile(q)
    sketches = []
    for values in parts:
        state = acc.new()
        for value in values:
            acc.add(state, value)
        sketches.append(state)
    want = acc.result(acc.merge_all(sketches), 60)
    with psycopg.connect(url) as conn:
        (got,) = conn.execute(
            "SELECT ioc_sketch_quantile(%s::jsonb[], %s)",
            ([json.dumps(s) for s in sketches], q),
        ).fetchone() or (None,)
    if want is None:
        assert got is None
    else:
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)

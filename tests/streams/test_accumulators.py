"""Property and example tests of the mergeable accumulators."""

from __future__ import annotations

import copy
import math

import orjson
import pytest
from ddsketch import DDSketch
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.accumulators import (
    ACCUMULATORS,
    SKETCH_RELATIVE_ACCURACY,
    Accumulator,
    KeyedAccumulator,
    PerKeyCompleteness,
    Quantile,
    State,
    get_accumulator,
)

WINDOW = 900.0
NAMES = sorted(ACCUMULATORS)
EXACT = ("count", "min", "max", "quantile:0.5", "quantile:0.95", "per_key_completeness")

values_st = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
int_values_st = st.integers(min_value=-10_000, max_value=10_000).map(float)
weights_st = st.one_of(st.just(1.0), st.integers(1, 1000).map(float))
keys_st = st.sampled_from(["s1/salinity", "s2/salinity", "s3/ph", ""])
obs_st = st.lists(st.tuples(values_st, weights_st, keys_st), max_size=40)
int_obs_st = st.lists(st.tuples(int_values_st, weights_st, keys_st), max_size=40)

lean = settings(max_examples=50, deadline=None)


def fill(acc: Accumulator, obs: list[tuple[float, float, str]]) -> State:
    state = acc.new()
    for value, weight, key in obs:
        if isinstance(acc, KeyedAccumulator):
            acc.add_keyed(state, key, value, weight)
        else:
            acc.add(state, value, weight)
    return state


def scale(obs: list[tuple[float, float, str]]) -> float:
    """Magnitude of the values, for the tolerance of float sums."""
    return sum(abs(v) * w for v, w, _ in obs) + 1.0


def assert_close(acc: Accumulator, got: float | None, want: float | None, tol: float) -> None:
    if acc.name in EXACT:
        assert got == want
    elif got is None or want is None:
        assert got is None and want is None
    else:
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=tol)


@pytest.mark.parametrize("name", NAMES)
@lean
@given(obs=obs_st, cut=st.integers(0, 40))
def test_merge_of_split_equals_add_all(
    name: str, obs: list[tuple[float, float, str]], cut: int
) -> None:
    acc = ACCUMULATORS[name]
    left, right = fill(acc, obs[:cut]), fill(acc, obs[cut:])
    frozen = copy.deepcopy((left, right))
    merged = acc.merge(left, right)
    assert (left, right) == frozen, "merge mutated its inputs"
    whole = fill(acc, obs)
    assert acc.count(merged) == acc.count(whole) == len(obs)
    tol = 1e-9 * scale(obs)
    assert_close(acc, acc.result(merged, WINDOW), acc.result(whole, WINDOW), tol)


@pytest.mark.parametrize("name", NAMES)
@lean
@given(obs=int_obs_st, cut=st.integers(0, 40))
def test_merge_exact_for_integer_values(
    name: str, obs: list[tuple[float, float, str]], cut: int
) -> None:
    acc = ACCUMULATORS[name]
    merged = acc.merge(fill(acc, obs[:cut]), fill(acc, obs[cut:]))
    assert acc.result(merged, WINDOW) == acc.result(fill(acc, obs), WINDOW)


@pytest.mark.parametrize("name", NAMES)
@lean
@given(a=obs_st, b=obs_st, c=obs_st)
def test_merge_associative_commutative_identity(
    name: str,
    a: list[tuple[float, float, str]],
    b: list[tuple[float, float, str]],
    c: list[tuple[float, float, str]],
) -> None:
    acc = ACCUMULATORS[name]
    sa, sb, sc = fill(acc, a), fill(acc, b), fill(acc, c)
    assert acc.merge(acc.new(), sa) == sa
    assert acc.merge(sa, acc.new()) == sa
    left = acc.merge(acc.merge(sa, sb), sc)
    right = acc.merge(sa, acc.merge(sb, sc))
    swapped = acc.merge(sb, sa)
    tol = 1e-9 * scale(a + b + c)
    assert_close(acc, acc.result(left, WINDOW), acc.result(right, WINDOW), tol)
    ab = acc.result(acc.merge(sa, sb), WINDOW)
    # IEEE addition is commutative, so swapping two operands is bit-identical for every kind.
    assert acc.result(swapped, WINDOW) == ab
    assert acc.count(left) == acc.count(right) == len(a) + len(b) + len(c)


@pytest.mark.parametrize("name", NAMES)
@lean
@given(obs=obs_st, more=obs_st)
def test_orjson_round_trip_and_determinism(
    name: str, obs: list[tuple[float, float, str]], more: list[tuple[float, float, str]]
) -> None:
    acc = ACCUMULATORS[name]
    state = fill(acc, obs)
    blob = orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    restored = orjson.loads(blob)
    assert restored == state
    assert acc.result(restored, WINDOW) == acc.result(state, WINDOW)
    assert orjson.dumps(fill(acc, obs), option=orjson.OPT_SORT_KEYS) == blob
    # Continuing after a restore (a crashed worker) is bit-identical to never stopping.
    extra = fill(acc, more)
    assert acc.result(acc.merge(restored, extra), WINDOW) == acc.result(
        acc.merge(state, extra), WINDOW
    )
    for value, weight, key in more:
        if isinstance(acc, KeyedAccumulator):
            acc.add_keyed(restored, key, value, weight)
        else:
            acc.add(restored, value, weight)
    assert orjson.dumps(restored, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        fill(acc, obs + more), option=orjson.OPT_SORT_KEYS
    )


@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.95, 0.99, 1.0])
@lean
@given(values=st.lists(values_st, min_size=1, max_size=60))
def test_quantile_matches_ddsketch_and_accuracy(q: float, values: list[float]) -> None:
    acc = Quantile(q)
    state = acc.new()
    sketch = DDSketch(SKETCH_RELATIVE_ACCURACY)
    for value in values:
        acc.add(state, value)
        sketch.add(value)
    got = acc.result(state, WINDOW)
    assert got == pytest.approx(sketch.get_quantile_value(q), rel=1e-12, abs=0.0)
    exact = sorted(values)[math.floor(q * (len(values) - 1))]
    assert got is not None
    # Magnitudes below the mapping's smallest indexable value (~2.2e-308) count as zero.
    assert abs(got - exact) <= SKETCH_RELATIVE_ACCURACY * abs(exact) * (1 + 1e-9) + 1e-300


def test_empty_states_have_no_result() -> None:
    for acc in ACCUMULATORS.values():
        assert acc.result(acc.new(), WINDOW) is None
        assert acc.count(acc.new()) == 0


def test_known_values() -> None:
    def run(name: str, *obs: tuple[float, float]) -> float | None:
        acc = ACCUMULATORS[name]
        state = acc.new()
        for value, weight in obs:
            acc.add(state, value, weight)
        return acc.result(state, 60.0)

    assert run("count", (5.0, 3.0), (7.0, 1.0)) == 2.0
    assert run("sum", (5.0, 3.0), (7.0, 1.0)) == 22.0
    assert run("mean", (1.0, 3.0), (0.0, 1.0)) == 0.75
    assert run("min", (5.0, 1.0), (-2.5, 1.0), (3.0, 1.0)) == -2.5
    assert run("max", (5.0, 1.0), (-2.5, 1.0), (3.0, 1.0)) == 5.0
    assert run("mean", (1.0, 0.0)) is None
    acc = ACCUMULATORS["mean_x_window_minutes"]
    state = acc.add(acc.add(acc.new(), 1.0), 0.0)
    assert acc.result(state, 900.0) == 7.5
    assert acc.result(state, 3600.0) == 30.0


def test_quantile_zero_and_names() -> None:
    acc = ACCUMULATORS["quantile:0.5"]
    state = acc.new()
    for value in (0.0, 0.0, 0.0, 10.0):
        acc.add(state, value)
    assert acc.result(state, 60.0) == 0.0
    assert get_accumulator("quantile:1").result(state, 60.0) == pytest.approx(10.0, rel=0.01)
    assert get_accumulator("quantile:0.99").result(state, 60.0) == 0.0  # rank 2.97 -> 3rd
    with pytest.raises(KeyError):
        get_accumulator("quantile:1.5")
    with pytest.raises(KeyError):
        get_accumulator("median")
    with pytest.raises(ValueError):
        Quantile(-0.1)


def test_completeness() -> None:
    acc = PerKeyCompleteness()
    one = acc.new()
    for _ in range(12):
        acc.add_keyed(one, "a", 1.0)
    assert acc.result(one, 900.0) == 12 / 15
    assert acc.count(one) == 12
    # Over-delivery of one key is capped; it cannot hide another key's gap.
    for _ in range(30):
        acc.add_keyed(one, "b", 1.0)
    assert acc.result(one, 900.0) == (12 + 15) / 30
    assert acc.result(one, 60.0) == 1.0
    assert acc.result(acc.add(acc.new(), 1.0), 120.0) == 0.5
    assert acc.result(acc.new(), 60.0) is None
    assert acc.result(one, 0.0) is None


@given(
    readings=st.dictionaries(st.text(max_size=5), st.integers(1, 200), max_size=40),
    window_seconds=st.sampled_from([60.0, 90.0, 900.0, 3600.0, 45.0]),
)
def test_completeness_equals_the_capped_mean_summed_exactly(
    readings: dict[str, int], window_seconds: float
) -> None:
    acc = PerKeyCompleteness()
    expected = window_seconds / 60.0
    want = (
        math.fsum(min(float(n), expected) for n in readings.values()) / (len(readings) * expected)
        if readings
        else None
    )
    assert acc.result([sum(readings.values()), readings], window_seconds) == want


@given(states=st.lists(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=6), max_size=8))
def test_merge_all_equals_merging_one_by_one(states: list[list[float]]) -> None:
    for name in ("count", "sum", "mean", "min", "max", "quantile:0.5", "per_key_completeness"):
        acc = get_accumulator(name)
        built = []
        for values in states:
            state = acc.new()
            for i, value in enumerate(values):
                if name == "per_key_completeness":
                    acc.add_keyed(state, f"k{i % 3}", value)  # type: ignore[attr-defined]
                else:
                    acc.add(state, value)
            built.append(state)
        frozen = orjson.dumps(built)
        one_by_one = acc.new()
        for state in built:
            one_by_one = acc.merge(one_by_one, state)
        assert acc.merge_all(built) == one_by_one
        assert orjson.dumps(built) == frozen, f"{name}.merge_all mutated its input"

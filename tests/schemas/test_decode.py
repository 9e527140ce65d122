"""schemas.decode: every reason kind, the future check, dead letters, and totality."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.decode import (
    MAX_MESSAGE_BYTES,
    MAX_REASON_CHARS,
    REASON_KINDS,
    Rejection,
    deadletter_record,
    decode,
    read_deadletter,
    topic_models,
)
from schemas.events import SENSOR_BOUNDS, DossierEvent, ProbeEvent, SensorKind, SensorReading
from schemas.places import District
from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC, RAW_TOPICS
from simulator.generator import SimConfig, generate

START_MS = 1_741_914_000_000  # 2025-03-14T01:00:00Z, a Friday 08:00 in Hau Giang
READING: dict[str, Any] = {
    "event_id": "lm-sal-007:29031900",
    "source": "gw-lm-farm-01",
    "occurred_at": "2025-03-14T01:00:00Z",
    "schema_version": 1,
    "district": "long-my",
    "sensor_id": "lm-sal-007",
    "farm_id": "lm-farm-01",
    "zone": "z1",
    "kind": "salinity",
    "value": 3.2,
    "battery_pct": 88.5,
}
RAW = orjson.dumps(READING)


def _kind(result: object) -> str | None:
    return result.reason_kind if isinstance(result, Rejection) else None


def test_valid_reading_decodes_to_model() -> None:
    event = decode(FARM_TOPIC, RAW)
    assert isinstance(event, SensorReading)
    assert event.sensor_id == "lm-sal-007"


@pytest.mark.parametrize(
    ("topic", "raw", "kind"),
    [
        ("city.unknown.v1", RAW, "unknown_topic"),
        (FARM_TOPIC, None, "empty"),
        (FARM_TOPIC, b"", "empty"),
        (FARM_TOPIC, b" " * (MAX_MESSAGE_BYTES + 1), "oversized"),
        (FARM_TOPIC, RAW[:-1], "malformed"),
        (FARM_TOPIC, b"\xff\xfe\x00garbage", "malformed"),
        (FARM_TOPIC, b"\xef\xbb\xbf" + RAW, "malformed"),
        (FARM_TOPIC, RAW + b"{}", "malformed"),
        (FARM_TOPIC, b"[" * 5000, "malformed"),
        (FARM_TOPIC, b"[1, 2]", "not_object"),
        (FARM_TOPIC, b"null", "not_object"),
        (FARM_TOPIC, b'"text"', "not_object"),
        (FARM_TOPIC, orjson.dumps({**READING, "schema_version": 2}), "schema_version"),
        (FARM_TOPIC, orjson.dumps({**READING, "schema_version": True}), "schema_version"),
        (
            FARM_TOPIC,
            orjson.dumps({k: v for k, v in READING.items() if k != "schema_version"}),
            "schema_version",
        ),
        (FARM_TOPIC, orjson.dumps({**READING, "value": "3.2"}), "invalid"),
        (FARM_TOPIC, orjson.dumps({**READING, "extra": 1}), "invalid"),
        (FARM_TOPIC, orjson.dumps({**READING, "occurred_at": "2025-03-14T01:00:00"}), "invalid"),
        (NETWORK_TOPIC, RAW, "invalid"),
        (PORTAL_TOPIC, RAW, "invalid"),
    ],
)
def test_reason_kinds(topic: str, raw: bytes | None, kind: str) -> None:
    result = decode(topic, raw)
    assert isinstance(result, Rejection), result
    assert result.reason_kind == kind
    assert result.reason and len(result.reason) <= MAX_REASON_CHARS


def test_reason_names_the_field_and_bounds_the_list() -> None:
    bad = {**READING, "value": "x", "battery_pct": 300, "zone": "", "sensor_id": "a b", "x": 1}
    result = decode(FARM_TOPIC, orjson.dumps(bad))
    assert isinstance(result, Rejection)
    assert result.reason.startswith("battery_pct: ") or "value: " in result.reason
    assert "+2 more" in result.reason
    assert len(result.reason) <= MAX_REASON_CHARS


def test_future_check_uses_record_timestamp() -> None:
    occurred_ms = START_MS
    assert _kind(decode(FARM_TOPIC, RAW, produced_at_ms=occurred_ms - 300_000)) is None
    late_clock = decode(FARM_TOPIC, RAW, produced_at_ms=occurred_ms - 300_001)
    assert _kind(late_clock) == "future"
    assert _kind(decode(FARM_TOPIC, RAW, produced_at_ms=None)) is None
    assert (
        _kind(
            decode(
                FARM_TOPIC, RAW, produced_at_ms=occurred_ms - 3_600_000, future_skew_seconds=3_600
            )
        )
        is None
    )


def test_topic_names_with_prefix_or_suffix_resolve() -> None:
    assert isinstance(decode("t1." + FARM_TOPIC, RAW), SensorReading)
    assert isinstance(decode(FARM_TOPIC + ".3fa2b1", RAW), SensorReading)
    assert _kind(decode("x" + FARM_TOPIC, RAW)) == "unknown_topic"
    models = topic_models(farm="sensors-test")
    assert isinstance(decode("sensors-test", RAW, models=models), SensorReading)


def test_deadletter_record_round_trip() -> None:
    rejection = Rejection("malformed", "Invalid JSON: EOF")
    value = deadletter_record(FARM_TOPIC, 3, 1234, b"\xff{", rejection)
    body = orjson.loads(value)
    assert body["reason_kind"] == "malformed" and body["origin_offset"] == 1234
    assert base64.b64decode(body["raw_base64"]) == b"\xff{"
    letter = read_deadletter(value)
    assert (letter.origin_topic, letter.origin_partition, letter.raw) == (FARM_TOPIC, 3, b"\xff{")
    assert read_deadletter(deadletter_record(FARM_TOPIC, 0, 0, None, rejection)).raw is None
    with pytest.raises(ValueError, match="not a dead-letter record"):
        read_deadletter(b"[]")


def test_simulated_events_round_trip() -> None:
    config = SimConfig(start_ms=START_MS, end_ms=START_MS + 5 * 60_000, seed=11)
    seen: set[type] = set()
    for message in generate(config):
        event = decode(message.topic, message.value, produced_at_ms=message.sim_ms)
        assert not isinstance(event, Rejection), (message, event)
        again = decode(message.topic, event.model_dump_json().encode())
        assert again == event
        seen.add(type(event))
    assert seen == {DossierEvent, ProbeEvent, SensorReading}


def _assert_total(topic: str, raw: bytes | None) -> None:
    result = decode(topic, raw, produced_at_ms=START_MS)
    if isinstance(result, Rejection):
        assert result.reason_kind in REASON_KINDS
        assert 0 < len(result.reason) <= MAX_REASON_CHARS
        assert not result.reason.startswith("internal validator error"), result.reason


@settings(max_examples=300, deadline=None)
@given(topic=st.sampled_from(RAW_TOPICS), raw=st.binary(max_size=512))
def test_arbitrary_bytes_never_raise(topic: str, raw: bytes) -> None:
    _assert_total(topic, raw)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(topic=st.sampled_from(RAW_TOPICS), value=JSON_VALUES)
def test_arbitrary_json_never_raises(topic: str, value: object) -> None:
    _assert_total(topic, json.dumps(value).encode())


FIELD_VALUES = (
    JSON_VALUES
    | st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
    | st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-14:00",
            "2025-02-30T00:00:00Z",
            "2025-03-14T25:00:00Z",
            "long-my",
            "salinity",
            1e308,
            -1e308,
            2**64,
        ]
    )
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.dictionaries(st.sampled_from([*sorted(READING), "extra"]), FIELD_VALUES, max_size=3)
)
def test_mutated_events_never_raise(changes: dict[str, object]) -> None:
    raw = json.dumps({**READING, **changes}).encode()
    _assert_total(FARM_TOPIC, raw)
    _assert_total(NETWORK_TOPIC, raw)


OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@st.composite
def readings(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(list(SensorKind)))
    low, high, _ = SENSOR_BOUNDS[kind]
    moment = draw(
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1))
    ).replace(tzinfo=draw(OFFSETS))
    ident = st.from_regex(r"[A-Za-z0-9._:/-]{1,64}", fullmatch=True)
    return {
        "event_id": draw(ident),
        "source": draw(st.text(min_size=1, max_size=128)),
        "occurred_at": moment.isoformat(),
        "schema_version": 1,
        "district": draw(st.sampled_from(list(District))).value,
        "sensor_id": draw(ident),
        "farm_id": draw(ident),
        "zone": draw(ident),
        "kind": kind.value,
        "value": draw(st.floats(min_value=low, max_value=high)),
        "battery_pct": draw(st.floats(min_value=0, max_value=100)),
    }


@settings(max_examples=200, deadline=None)
@given(reading=readings())
def test_generated_readings_round_trip(reading: dict[str, Any]) -> None:
    event = decode(FARM_TOPIC, orjson.dumps(reading))
    assert isinstance(event, SensorReading), event
    assert event.occurred_at == datetime.fromisoformat(reading["occurred_at"])
    assert event.occurred_at.tzinfo is UTC
    assert event.value == reading["value"]
    assert decode(FARM_TOPIC, event.model_dump_json().encode()) == event

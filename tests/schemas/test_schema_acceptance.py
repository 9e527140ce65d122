"""Schema-valid implies accepted: a producer that validates against the published JSON
Schemas (schemas/json) is never dead-lettered as invalid, except for the rules across
fields that each schema lists in its description.

Hypothesis changes the fields of valid events to values of every JSON type and shape
(integers written ``5.0``, huge and tiny numbers, times in many RFC 3339 spellings and
offsets, odd strings); whatever the ``jsonschema`` library finds valid against the schema
file as published (formats checked) and keeps the listed cross-field rules, the model must
accept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from schemas.events import DossierEvent, ProbeEvent, SensorReading
from schemas.jsonschema import JSON_DIR

ENVELOPE = {
    "event_id": "e-1",
    "source": "portal",
    "occurred_at": "2026-03-10T10:00:00+07:00",
    "schema_version": 1,
    "district": "vi-thanh",
}
VALID: dict[str, tuple[type[Any], dict[str, Any]]] = {
    "dossier_event.json": (
        DossierEvent,
        {
            **ENVELOPE, "dossier_id": "hs-1", "procedure_code": "1.001", "agency_id": "ubnd",
            "level": "district", "channel": "online", "status": "completed",
            "received_at": "2026-03-01T08:00:00Z", "due_at": "2026-03-12T17:00:00Z",
            "paid_online": True, "components_total": 4, "components_reused": 2, "rating": 5,
        },
    ),
    "probe_event.json": (
        ProbeEvent,
        {
            **ENVELOPE, "site_id": "vt-4g-1", "technology": "4G", "up": True,
            "latency_ms": 20.5, "loss_pct": 0.1, "downlink_mbps": 80.0, "uplink_mbps": 9.5,
            "subscribers": 120,
        },
    ),
    "sensor_reading.json": (
        SensorReading,
        {
            **ENVELOPE, "sensor_id": "vt-sal-1", "farm_id": "f1", "zone": "z1",
            "kind": "salinity", "value": 2.5, "battery_pct": 80.0,
        },
    ),
}  # fmt: skip

times = st.builds(
    lambda t, sep, frac, zone: t.isoformat(sep=sep, timespec=frac).replace("+00:00", zone),
    st.datetimes(
        min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
        timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=7)),
                                   dt.timezone(dt.timedelta(hours=-9, minutes=-30))]),
    ),
    st.sampled_from(["T", "t", " "]),
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
    st.sampled_from(["+00:00", "Z", "z"]),
)  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.integers(-5, 200).map(float),  # integral floats: 5.0
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -0.0, 5e-324]),
    st.text(max_size=80), st.from_regex(r"[A-Za-z0-9._:/-]{1,70}", fullmatch=True),
    times, st.sampled_from(["2G", "4G", "fibre", "online", "completed", "ph", "salinity"]),
)  # fmt: skip
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)


def _utc(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00")).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def keeps_cross_field_rules(event: dict[str, Any]) -> bool:
    """The rules the schemas' descriptions list and JSON Schema cannot state."""
    stamps = {k: _utc(v) for k, v in event.items() if k.endswith("_at") and isinstance(v, str)}
    if any(t is None for t in stamps.values()):
        return False
    if event.get("components_reused", 0) > event.get("components_total", 0):
        return False
    at, received, due = stamps.get("occurred_at"), stamps.get("received_at"), stamps.get("due_at")
    if received is not None and at is not None and received > at:
        return False
    return not (due is not None and received is not None and due < received)


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_schema_lists_its_cross_field_rules(name: str) -> None:
    schema = orjson.loads((JSON_DIR / name).read_bytes())
    assert "JSON Schema cannot state" in " ".join(schema["description"].split())


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_valid_example_is_schema_valid_and_accepted(name: str) -> None:
    model, event = VALID[name]
    schema = orjson.loads((JSON_DIR / name).read_bytes())
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event)
    model.model_validate_json(orjson.dumps(event))


@pytest.mark.parametrize("name", sorted(VALID))
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_schema_valid_event_is_accepted(name: str, data: st.DataObject) -> None:
    model, valid = VALID[name]
    schema = orjson.loads((JSON_DIR / name).read_bytes())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    event = dict(valid)
    for field in data.draw(st.lists(st.sampled_from(sorted(valid)), min_size=1, max_size=3)):
        if data.draw(st.booleans(), label="drop") and field not in schema["required"]:
            event.pop(field, None)
        else:
            event[field] = data.draw(values, label=field)
    assume(validator.is_valid(event) and keeps_cross_field_rules(event))
    model.model_validate_json(orjson.dumps(event))

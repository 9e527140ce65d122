"""The wire models: strictness, bounds, cross-field rules and UTC normalisation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas.events import DossierEvent, ProbeEvent, SensorReading

SENSOR: dict[str, Any] = {
    "event_id": "lm-sal-007:29031900",
    "source": "gw-lm-farm-01",
    "occurred_at": "2025-03-14T08:15:12.345+07:00",
    "schema_version": 1,
    "district": "long-my",
    "sensor_id": "lm-sal-007",
    "farm_id": "lm-farm-01",
    "zone": "z1",
    "kind": "salinity",
    "value": 3.2,
    "battery_pct": 88.5,
}
PROBE: dict[str, Any] = {
    "event_id": "ph-4g-012:29031900",
    "source": "nms-viettel",
    "occurred_at": "2025-03-14T01:15:12Z",
    "schema_version": 1,
    "district": "phung-hiep",
    "site_id": "ph-4g-012",
    "technology": "4G",
    "up": True,
    "latency_ms": 31.5,
    "loss_pct": 0.2,
    "downlink_mbps": 55.0,
    "uplink_mbps": 18.2,
    "subscribers": 1200,
}
DOSSIER: dict[str, Any] = {
    "event_id": "vt-ubnd-250314-000001:completed",
    "source": "dvc-haugiang",
    "occurred_at": "2025-03-14T03:00:00Z",
    "schema_version": 1,
    "district": "vi-thanh",
    "dossier_id": "vt-ubnd-250314-000001",
    "procedure_code": "2.000720",
    "agency_id": "vt-ubnd",
    "level": "district",
    "channel": "online",
    "status": "completed",
    "received_at": "2025-03-11T02:00:00Z",
    "due_at": "2025-03-14T02:00:00Z",
    "paid_online": True,
    "components_total": 4,
    "components_reused": 2,
    "rating": 5,
}
MODELS: list[tuple[type[SensorReading] | type[ProbeEvent] | type[DossierEvent], dict[str, Any]]] = [
    (SensorReading, SENSOR),
    (ProbeEvent, PROBE),
    (DossierEvent, DOSSIER),
]


def _validate(model: Any, event: dict[str, Any]) -> Any:
    return model.model_validate_json(orjson.dumps(event))


@pytest.mark.parametrize(("model", "event"), MODELS)
def test_valid_examples_round_trip(model: Any, event: dict[str, Any]) -> None:
    parsed = _validate(model, event)
    again = model.model_validate_json(parsed.model_dump_json())
    assert again == parsed


def test_times_are_normalised_to_utc() -> None:
    parsed = _validate(SensorReading, SENSOR)
    assert parsed.occurred_at == datetime(2025, 3, 14, 1, 15, 12, 345000, tzinfo=UTC)
    assert parsed.occurred_at.utcoffset() is not None
    assert parsed.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("schema_version", True),
        ("schema_version", "1"),
        ("schema_version", 2),
        ("value", "3.2"),
        ("battery_pct", 100.5),
        ("battery_pct", -1),
        ("occurred_at", "2025-03-14T08:15:12"),
        ("occurred_at", 1741914000),
        ("occurred_at", "0001-01-01T00:00:00+01:00"),
        ("district", "can-tho"),
        ("kind", "humidity"),
        ("sensor_id", "bad id with spaces"),
        ("event_id", ""),
        ("event_id", "x" * 65),
        ("firmware", "2.1"),
    ],
)
def test_sensor_rejects(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        _validate(SensorReading, {**SENSOR, field: value})


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_numbers_rejected(token: bytes) -> None:
    raw = orjson.dumps({**SENSOR, "battery_pct": 1}).replace(
        b'"battery_pct":1', b'"battery_pct":' + token
    )
    with pytest.raises(ValidationError):
        SensorReading.model_validate_json(raw)


@pytest.mark.parametrize(("kind", "value"), [("salinity", 41), ("ph", 14.5), ("water_level", -600)])
def test_sensor_value_bounds_by_kind(kind: str, value: float) -> None:
    with pytest.raises(ValidationError, match="outside"):
        _validate(SensorReading, {**SENSOR, "kind": kind, "value": value})


def test_probe_down_without_measurements_is_valid() -> None:
    down = {**PROBE, "up": False, "latency_ms": None, "loss_pct": None}
    down |= {"downlink_mbps": None, "uplink_mbps": None, "subscribers": 0}
    assert _validate(ProbeEvent, down).up is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("up", "true"),
        ("up", 1),
        ("latency_ms", -1),
        ("loss_pct", 101),
        ("subscribers", 1.5),
        ("technology", "6G"),
    ],
)
def test_probe_rejects(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        _validate(ProbeEvent, {**PROBE, field: value})


@pytest.mark.parametrize(
    "changes",
    [
        {"components_reused": 5},
        {"received_at": "2025-03-14T04:00:00Z"},
        {"due_at": "2025-03-10T00:00:00Z"},
        {"rating": 6},
        {"rating": 0},
        {"paid_online": "yes"},
        {"status": "done"},
        {"level": "national"},
        {"due_at": "2025-03-14T02:00:00"},
    ],
)
def test_dossier_rejects(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _validate(DossierEvent, {**DOSSIER, **changes})


def test_dossier_optional_fields_default() -> None:
    event = {k: v for k, v in DOSSIER.items() if k not in ("due_at", "rating", "paid_online")}
    parsed = _validate(DossierEvent, event)
    assert parsed.due_at is None and parsed.rating is None and parsed.paid_online is False


def test_models_are_frozen() -> None:
    parsed = _validate(SensorReading, SENSOR)
    with pytest.raises(ValidationError):
        parsed.value = 1.0


def test_an_integer_written_with_a_zero_fraction_is_that_integer() -> None:
    """JSON Schema's ``integer`` includes 1.0: a producer validating against the published
    schema may send it (Python's json writes floats so)."""
    raw = orjson.dumps({**SENSOR, "schema_version": 1.0})
    assert SensorReading.model_validate_json(raw).schema_version == 1

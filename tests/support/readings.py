"""The JSON of a salinity reading as a producer sends it, for tests that write raw records
by hand (the simulator's events come from :mod:`simulator`)."""

from __future__ import annotations

import datetime as dt

import orjson


def salinity_reading(
    event_id: str,
    at: float | dt.datetime,
    district: str,
    sensor_id: str,
    *,
    value: float = 2.5,
    source: str = "test",
    farm_id: str = "f1",
    battery_pct: float = 80.0,
) -> bytes:
    """A ``farm`` salinity reading of ``sensor_id`` in ``district`` at ``at`` (epoch seconds
    or an aware datetime), zone ``z1``."""
    occurred = at if isinstance(at, dt.datetime) else dt.datetime.fromtimestamp(at, dt.UTC)
    return orjson.dumps(
        {
            "event_id": event_id, "source": source, "occurred_at": occurred.isoformat(),
            "schema_version": 1, "district": district, "sensor_id": sensor_id,
            "farm_id": farm_id, "zone": "z1", "kind": "salinity", "value": value,
            "battery_pct": battery_pct,
        }
    )  # fmt: skip

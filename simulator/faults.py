"""Fault injection: corrupt, invalidate, future-date, delay and duplicate messages.

Each function takes a clean event value and returns the faulty value together with the
``reason_kind`` that ``schemas.decode.decode`` must reject it with. Delays (late,
out-of-order) and duplicates keep the bytes valid; the generator schedules them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from typing import Any, Final, Literal, TypeAlias

import orjson

from schemas.decode import MAX_MESSAGE_BYTES, ReasonKind
from schemas.events import SENSOR_BOUNDS, SensorKind
from simulator.timefmt import HOUR_MS, iso

FaultKind: TypeAlias = Literal[
    "malformed", "invalid", "duplicate", "late", "future", "out_of_order"
]
FAULT_KINDS: Final[tuple[FaultKind, ...]] = (
    "malformed",
    "invalid",
    "duplicate",
    "late",
    "future",
    "out_of_order",
)


@dataclass(frozen=True)
class FaultRates:
    """Share of clean events turned into each fault (0..1).

    ``malformed``, ``invalid``, ``future``, ``late`` and ``out_of_order`` replace the clean
    event (their sum must not exceed 1); ``duplicates`` resends a clean event once more.
    """

    malformed: float = 0.0
    invalid: float = 0.0
    duplicates: float = 0.0
    late: float = 0.0
    future: float = 0.0
    out_of_order: float = 0.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault rate {item.name}={value} must be between 0 and 1")
        if self.replacing > 1.0:
            raise ValueError(
                "malformed + invalid + future + late + out-of-order rates exceed 1 "
                f"({self.replacing:g})"
            )

    @property
    def replacing(self) -> float:
        """Share of clean events replaced by a fault."""
        return self.malformed + self.invalid + self.future + self.late + self.out_of_order

    @property
    def any(self) -> bool:
        """True when some fault is injected."""
        return self.replacing > 0.0 or self.duplicates > 0.0


def malformed(value: bytes, rng: random.Random) -> tuple[bytes | None, ReasonKind]:
    """Bytes that are not a JSON object: truncated, garbage, other JSON, empty, oversized."""
    draw = rng.random()
    if draw < 0.35:
        return value[: rng.randrange(1, len(value))], "malformed"
    if draw < 0.5:
        return b"\xff\xfe" + rng.randbytes(rng.randrange(4, 64)), "malformed"
    if draw < 0.6:
        text = rng.choice((b"<html><body>502 Bad Gateway</body></html>", b"sensor=1;v=3.2"))
        return text, "malformed"
    if draw < 0.8:
        choices = (b"[" + value + b"]", orjson.dumps(value.decode()), b"null", b"42", b"true")
        return rng.choice(choices), "not_object"
    if draw < 0.95:
        return (None if rng.random() < 0.5 else b""), "empty"
    padding = b"x" * (MAX_MESSAGE_BYTES + rng.randrange(1, 1024))
    return value[:-1] + b',"padding":"' + padding + b'"}', "oversized"


def _out_of_range(source: str, event: dict[str, Any], rng: random.Random) -> None:
    if source == "portal":
        if rng.random() < 0.5:
            event["rating"] = rng.choice((0, 6, 7, 10))
        else:
            event["components_reused"] = event["components_total"] + 1
    elif source == "network":
        if rng.random() < 0.5:
            event["latency_ms"] = -round(rng.uniform(1, 50), 1)
        else:
            event["loss_pct"] = round(rng.uniform(101, 400), 2)
    elif rng.random() < 0.5:
        event["battery_pct"] = round(rng.uniform(101, 255), 1)
    else:
        high = SENSOR_BOUNDS[SensorKind(event["kind"])][1]
        event["value"] = round(high + rng.uniform(1, 100), 2)


def _wrong_type(source: str, event: dict[str, Any], rng: random.Random) -> None:
    if source == "portal":
        event["paid_online"] = rng.choice(("yes", 1, "true"))
    elif source == "network":
        event["up"] = rng.choice(("true", 1, "up"))
    else:
        event["value"] = str(event["value"])


def invalid(source: str, value: bytes, rng: random.Random) -> tuple[bytes, ReasonKind]:
    """A JSON object that breaks the schema of ``source`` (portal, network or farm)."""
    event: dict[str, Any] = orjson.loads(value)
    draw = rng.random()
    kind: ReasonKind = "invalid"
    if draw < 0.25:
        _out_of_range(source, event, rng)
    elif draw < 0.45:
        _wrong_type(source, event, rng)
    elif draw < 0.6:
        event[rng.choice(("firmware", "debug", "sensorId", "extra"))] = "v2.3.1"
    elif draw < 0.72:
        event["occurred_at"] = event["occurred_at"].rstrip("Z")
    elif draw < 0.82:
        del event[rng.choice(("event_id", "district", "occurred_at", "source"))]
    elif draw < 0.9:
        event["district"] = rng.choice(("can-tho", "soc-trang", "Vi Thanh", ""))
    else:
        event["schema_version"] = rng.choice((2, 0, "1", True, None))
        kind = "schema_version"
    return orjson.dumps(event), kind


def future(value: bytes, occurred_ms: int, rng: random.Random) -> tuple[bytes, ReasonKind]:
    """The same event dated 1-6 hours after ``occurred_ms`` (a device with a wrong clock).

    The generator passes the latest of the event's time, the end of the simulated period
    and the wall clock of sending: a past period sent now must still carry times in the
    future of its record timestamps to be refused.
    """
    event: dict[str, Any] = orjson.loads(value)
    event["occurred_at"] = iso(occurred_ms + int(HOUR_MS * rng.uniform(1.0, 6.0)))
    return orjson.dumps(event), "future"

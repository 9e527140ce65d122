"""Decode one raw Kafka record into a validated event, or say precisely why not.

``decode`` is pure and total: whatever the bytes, it returns either the validated model or a
``Rejection`` whose ``reason_kind`` comes from a small fixed vocabulary (usable as a
Prometheus label) and whose ``reason`` is short human-readable text. ``deadletter_record``
builds the value of a ``city.deadletter.v1`` record from a rejection.

JSON is parsed once, by pydantic-core (the model's ``validate_json``, called as
``model_validate_json`` would, without its Python wrapper): strict JSON validation
accepts ISO time strings and enum values, and its parser classifies malformed input
(invalid UTF-8, syntax errors, trailing data, nesting too deep) just as orjson does.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, cast

import orjson
from pydantic import ValidationError

from schemas.events import DossierEvent, ProbeEvent, RawEvent, SensorReading
from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC

MAX_MESSAGE_BYTES: Final = 64 * 1024
"""Largest raw value accepted (64 KiB); bigger ones are rejected as ``oversized``."""

DEADLETTER_RAW_BYTES: Final = 64 * 1024
"""Raw bytes a dead letter carries at most: a longer value travels as a prefix of this many
bytes with its full size and SHA-256, so a dead letter always fits the broker's limits."""

MAX_REASON_CHARS: Final = 300
MAX_ERRORS_SHOWN: Final = 3

ReasonKind: TypeAlias = Literal[
    "oversized",
    "empty",
    "malformed",
    "not_object",
    "schema_version",
    "invalid",
    "future",
    "unknown_topic",
    "misrouted",
    "entity_district",
]
REASON_KINDS: Final[tuple[ReasonKind, ...]] = (
    "oversized",
    "empty",
    "malformed",
    "not_object",
    "schema_version",
    "invalid",
    "future",
    "unknown_topic",
    "misrouted",
    "entity_district",
)

Decoded: TypeAlias = RawEvent
"""A successfully decoded event: the validated, frozen pydantic model."""

EventModel: TypeAlias = type[DossierEvent] | type[ProbeEvent] | type[SensorReading]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a raw record is not a valid event."""

    reason_kind: ReasonKind
    reason: str


def topic_models(
    portal: str = PORTAL_TOPIC, network: str = NETWORK_TOPIC, farm: str = FARM_TOPIC
) -> dict[str, EventModel]:
    """The topic -> model map; pass other names when topics are renamed (tests, prefixes)."""
    return {portal: DossierEvent, network: ProbeEvent, farm: SensorReading}


DEFAULT_MODELS: Final[Mapping[str, EventModel]] = topic_models()


def decode(
    topic: str,
    raw: bytes | None,
    *,
    produced_at_ms: float | None = None,
    future_skew_seconds: float = 300.0,
    models: Mapping[str, EventModel] = DEFAULT_MODELS,
) -> Decoded | Rejection:
    """Validate the value ``raw`` of a record of ``topic``; never raises.

    The model is ``models[topic]``, else that of a name in ``models`` which ``topic``
    extends by a dot-separated prefix or suffix (``t1.city.farm.sensor.v1``,
    ``city.farm.sensor.v1.t1``: unique test topics). ``produced_at_ms`` is the record
    timestamp (ms since the epoch): an event whose ``occurred_at`` lies more than
    ``future_skew_seconds`` after it is rejected as ``future``; ``None`` skips the check.
    """
    model = models.get(topic) or _model_by_affix(topic, models)
    if model is None:
        return Rejection("unknown_topic", f"no event model for topic {topic[:100]!r}")
    if not raw:
        return Rejection("empty", "record has no value" if raw is None else "value is empty")
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejection("oversized", f"value is {len(raw)} bytes, limit {MAX_MESSAGE_BYTES}")
    try:
        event = cast(Decoded, model.__pydantic_validator__.validate_json(raw))
    except ValidationError as error:
        return _classify(error)
    except Exception as error:  # a validator bug must not stop a worker
        return Rejection("invalid", _bounded(f"internal validator error: {error!r}"))
    if produced_at_ms is not None:
        ahead = event.occurred_at.timestamp() - produced_at_ms / 1000.0
        if ahead > future_skew_seconds:
            return Rejection(
                "future",
                f"occurred_at {event.occurred_at.isoformat()} is {ahead:.0f} s after the "
                f"record timestamp (allowed skew {future_skew_seconds:g} s)",
            )
    return event


def _model_by_affix(topic: str, models: Mapping[str, EventModel]) -> EventModel | None:
    for name, model in models.items():
        if topic.startswith(name + ".") or topic.endswith("." + name):
            return model
    return None


def _classify(error: ValidationError) -> Rejection:
    errors = error.errors(include_url=False, include_context=False)
    first = errors[0] if errors else None
    if first is not None and first["type"] == "json_invalid":
        return Rejection("malformed", _bounded(first["msg"]))
    if first is not None and first["type"] in ("model_type", "model_attributes_type"):
        return Rejection("not_object", f"JSON value is not an object: {first['msg']}")
    versions = [e for e in errors if e["loc"][:1] == ("schema_version",)]
    if versions:
        return Rejection("schema_version", _describe(versions, len(versions)))
    return Rejection("invalid", _describe(errors, len(errors)))


def _describe(errors: list[Any], total: int) -> str:
    parts = []
    for item in errors[:MAX_ERRORS_SHOWN]:
        path = ".".join(str(part) for part in item["loc"]) or "event"
        text = f"{path}: {item['msg']}"
        if item["type"] not in ("missing", "value_error") and "input" in item:
            text += f" (got {_short(item['input'])})"
        parts.append(text)
    if total > MAX_ERRORS_SHOWN:
        parts.append(f"+{total - MAX_ERRORS_SHOWN} more")
    return _bounded("; ".join(parts))


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def raw_fields(
    raw: bytes | None, limit: int = DEADLETTER_RAW_BYTES, name: str = "raw"
) -> dict[str, object]:
    """The dead-letter fields that carry ``raw``: at most ``limit`` bytes (base64), plus
    the full size, the SHA-256 of the whole value and whether the bytes were cut."""
    if raw is None:
        return {f"{name}_base64": None, f"{name}_size": 0, f"{name}_truncated": False}
    kept = raw[:limit]
    return {
        f"{name}_base64": base64.b64encode(kept).decode("ascii"),
        f"{name}_size": len(raw),
        f"{name}_sha256": hashlib.sha256(raw).hexdigest(),
        f"{name}_truncated": len(kept) < len(raw),
    }


def deadletter_record(
    topic: str,
    partition: int,
    offset: int,
    raw: bytes | None,
    rejection: Rejection,
    raw_limit: int = DEADLETTER_RAW_BYTES,
) -> bytes:
    """The value of a dead-letter record: why, where from, and the raw bytes (base64; a
    prefix of ``raw_limit`` bytes with size and SHA-256 when the value is longer)."""
    return orjson.dumps(
        {
            "reason_kind": rejection.reason_kind,
            "reason": rejection.reason,
            "origin_topic": topic,
            "origin_partition": partition,
            "origin_offset": offset,
            **raw_fields(raw, raw_limit),
        }
    )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A parsed dead-letter record (see ``deadletter_record``)."""

    reason_kind: str
    reason: str
    origin_topic: str
    origin_partition: int
    origin_offset: int
    raw: bytes | None
    """The raw bytes carried: a prefix of the value when ``truncated``."""
    size: int = 0
    """The full size of the original value in bytes."""
    sha256: str | None = None
    truncated: bool = False


def read_deadletter(value: bytes) -> DeadLetter:
    """Parse the value of a dead-letter record; ValueError when it is not one."""
    try:
        obj = orjson.loads(value)
        raw_b64 = obj["raw_base64"]
        raw = None if raw_b64 is None else base64.b64decode(raw_b64, validate=True)
        return DeadLetter(
            reason_kind=str(obj["reason_kind"]),
            reason=str(obj["reason"]),
            origin_topic=str(obj["origin_topic"]),
            origin_partition=int(obj["origin_partition"]),
            origin_offset=int(obj["origin_offset"]),
            raw=raw,
            size=int(obj.get("raw_size", 0 if raw is None else len(raw))),
            sha256=None if obj.get("raw_sha256") is None else str(obj["raw_sha256"]),
            truncated=bool(obj.get("raw_truncated", False)),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a dead-letter record: {error}") from None

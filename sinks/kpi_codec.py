"""Decode one message of city.kpi.v1 into rows as stored, or say why they cannot be stored.

A window of the workers' packs is validated once as a :class:`~schemas.kpi.KpiWindow`
and gives one :class:`~streams.window_rows.KpiRow` per KPI directly: the sink's hot path
builds no intermediate model per row. An older worker's single-row object is read as a
window of one KPI. A whole pack is first validated in one call straight from its bytes
(pydantic parses the JSON itself, no Python objects in between); a pack that is not a
valid list of windows, or that spells NaN or Infinity (which pydantic's JSON parser would
accept and orjson refuses), goes item by item instead, so each bad item is refused with
its own reason as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.kpi import KpiWindow, window_of_older_worker
from sinks.sketch_cumulative import cumulative
from streams.window_rows import KpiRow, kind_of_length

MAX_ERRORS_SHOWN: Final = 3
_PACK: Final = TypeAdapter(list[KpiWindow])
_NOT_JSON: Final = (b"NaN", b"Infinity")
"""Tokens pydantic's JSON parser accepts and orjson (the item-by-item path) refuses."""


@dataclass(frozen=True, slots=True)
class BadMessage:
    """Why a message is not a storable KPI row (``reason_kind`` as in schemas.decode)."""

    reason_kind: str
    reason: str


def decode_kpis(value: bytes | None) -> list[KpiRow | BadMessage]:
    """The rows of one message: a pack, a JSON array of KpiWindow objects (as the workers
    send them: each gives one row per KPI), or an older worker's single-row object or
    array of them; never raises. A bad item gives one BadMessage (for all rows of a
    window)."""
    if not value:
        return [BadMessage("empty", "record has no value" if value is None else "value is empty")]
    if value.lstrip()[:1] != b"[":
        return [*decode_window(value)]
    if not any(token in value for token in _NOT_JSON):
        try:
            windows = _PACK.validate_json(value)
        except Exception:  # not a list of valid windows: item by item says what is wrong
            pass
        else:
            if windows:
                return [row for window in windows for row in _window_rows(window)]
    try:
        items = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        return [BadMessage("malformed", str(error)[:300])]
    if not isinstance(items, list) or not items:
        return [BadMessage("not_object", "a KPI record is an object or a non-empty array of them")]
    rows: list[KpiRow | BadMessage] = []
    for item in items:
        rows.extend(decode_window(item))
    return rows


def decode_window(item: bytes | Any) -> list[KpiRow] | list[BadMessage]:
    """The rows of a KpiWindow object (JSON bytes or parsed JSON), or one BadMessage saying
    why it is not one."""
    window = _validated(item)
    if isinstance(window, BadMessage):
        return [window]
    return _window_rows(window)


def _window_rows(window: KpiWindow) -> list[KpiRow] | list[BadMessage]:
    """The rows of a valid window, or one BadMessage when its length is not a window kind."""
    seconds = (window.window_end - window.window_start).total_seconds()
    kind = kind_of_length(seconds)
    if kind is None:
        return [_bad_length(seconds)]
    shared = (window.entity_kind.value, window.entity_id, window.district, kind,
              window.window_start, window.window_end)  # fmt: skip
    lineage = (window.source_topic, window.source_partition, window.first_offset,
               window.last_offset, window.event_count)  # fmt: skip
    if not window.sketches:
        return [
            KpiRow(kpi, *shared, value, count, *lineage, weight)
            for kpi, value, count, weight in window.kpis
        ]
    sketches = window.sketches
    cumulatives = {kpi: cumulative(sketch) for kpi, sketch in sketches.items()}
    return [
        KpiRow(
            kpi, *shared, value, count, *lineage, weight, sketches.get(kpi), cumulatives.get(kpi)
        )
        for kpi, value, count, weight in window.kpis
    ]


def _validated(value: bytes | Any) -> KpiWindow | BadMessage:
    """``value`` (JSON bytes or parsed JSON) as a KpiWindow, or why it is not one; never
    raises."""
    try:
        if isinstance(value, bytes):
            return KpiWindow.model_validate_json(value)
        return KpiWindow.model_validate(value)
    except ValidationError as error:
        older = _older_worker(value)
        if older is None:
            return _classify(error)
        return _validated(older)
    except Exception as error:  # a validator bug must not stop the sink
        return BadMessage("invalid", f"internal validator error: {error!r}"[:300])


def _older_worker(value: bytes | Any) -> dict[str, Any] | None:
    """``value`` as a window when it is what an older worker sent (a single-row object,
    items without weight), else None."""
    if isinstance(value, bytes):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    window = window_of_older_worker(value)
    return window if window is not value else None


def _bad_length(seconds: float) -> BadMessage:
    return BadMessage(
        "invalid", f"window length {seconds:g} s is not 60 (1m), 900 (15m) or 3600 (1h)"
    )


def _classify(error: ValidationError) -> BadMessage:
    errors = error.errors(include_url=False, include_context=False)
    first = errors[0] if errors else None
    if first is not None and first["type"] == "json_invalid":
        return BadMessage("malformed", str(first["msg"])[:300])
    if first is not None and first["type"] in ("model_type", "model_attributes_type"):
        return BadMessage("not_object", f"JSON value is not an object: {first['msg']}")
    parts = []
    for item in errors[:MAX_ERRORS_SHOWN]:
        path = ".".join(str(part) for part in item["loc"]) or "row"
        parts.append(f"{path}: {item['msg']}")
    if len(errors) > MAX_ERRORS_SHOWN:
        parts.append(f"+{len(errors) - MAX_ERRORS_SHOWN} more")
    return BadMessage("invalid", "; ".join(parts)[:300])

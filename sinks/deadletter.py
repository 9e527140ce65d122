"""Dead letters written by the sink, in the same format as the workers' (schemas.decode).

``schemas.decode.read_deadletter`` parses them. The sink adds ``stage`` = "sink" and the
record key; ``reason_kind`` is one of the decoder's kinds for unreadable KPI messages, or
``database`` when TimescaleDB refused the row (``reason`` then holds the database's text).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import orjson

from schemas.decode import raw_fields

STAGE: Final = "sink"
DATABASE: Final = "database"
MAX_REASON_CHARS: Final = 1000


def dead_letter(
    reason_kind: str,
    reason: str,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> bytes:
    """The value of a dead-letter record for one refused KPI message."""
    body: dict[str, Any] = {
        "reason_kind": reason_kind,
        "reason": reason[:MAX_REASON_CHARS],
        "origin_topic": topic,
        "origin_partition": partition,
        "origin_offset": offset,
        **raw_fields(value),
        **raw_fields(key, name="key"),
        "stage": STAGE,
        "dead_lettered_at": datetime.now(UTC).isoformat(),
    }
    return orjson.dumps(body)

"""How a sink runs: its topics, group, batching, back-off and housekeeping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from schemas.topics import DEADLETTER_TOPIC, KPI_TOPIC, RAW_TOPICS

BACKOFF_MIN: Final = 0.5
BACKOFF_MAX: Final = 15.0
RETENTION_EVERY: Final = 3600.0


@dataclass(frozen=True)
class Backoff:
    """Capped exponential back-off: minimum, doubling, maximum (seconds)."""

    minimum: float = BACKOFF_MIN
    maximum: float = BACKOFF_MAX

    def delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0-based)."""
        return float(min(self.maximum, self.minimum * 2 ** min(attempt, 30)))


@dataclass(frozen=True)
class SinkOptions:
    """Everything about a sink run that is not a connection setting (those are Settings).

    ``group_id`` None means IOC_SINK_GROUP; ``database_url`` None means IOC_DATABASE_URL.
    ``until_idle`` stops after that many seconds without a new message; ``archive_raw``
    adds a second group (``<group>-raw``) that archives the raw topics into ``raw_events``;
    ``retention`` drops chunks older than that every ``retention_every`` seconds.
    ``writers`` transactions write each batch side by side, one per group of partitions.
    """

    group_id: str | None = None
    topic: str = KPI_TOPIC
    deadletter_topic: str = DEADLETTER_TOPIC
    database_url: str | None = None
    batch_size: int = 5000
    writers: int = 2
    linger: float = 0.1
    until_idle: float | None = None
    archive_raw: bool = False
    raw_topics: Sequence[str] = RAW_TOPICS
    retention: timedelta | None = None
    retention_every: float = RETENTION_EVERY
    migrate_first: bool = False
    backoff: Backoff = Backoff()
    session_timeout_ms: int = 10_000

"""The Faust settings of a stream worker, shared by ``streams.worker.app`` and the benchmarks."""

from __future__ import annotations

from typing import Any, Final

from common.config import Settings

COMMIT_EVERY: Final = 10000
"""Acked records after which Faust commits offsets (besides once a second)."""
FETCH_BYTES: Final = 1 << 20
"""Bytes fetched per partition at most: an agent's processing step is one partition's
fetched records, so this bounds a step to a few thousand events (well under a second)."""
LANE_QUEUE: Final = 4
"""Fetched batches queued per lane before the consumer waits (backpressure)."""


def app_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``faust.App`` for a worker: memory store (state lives in the
    changelog), raw bytes in and out, short session timeout, large stream buffers, a commit
    every ``COMMIT_EVERY`` acked records or every second, fetches of at most ``FETCH_BYTES``
    per partition and a producer that sends without lingering (writes go in bulk).

    Creates ``settings.state_dir`` (Faust makes only the app's directory inside it)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return {
        "broker": f"kafka://{settings.kafka_bootstrap}",
        "store": "memory://",
        "topic_partitions": settings.partitions,
        "topic_replication_factor": 1,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "web_enabled": False,
        "broker_session_timeout": 10,
        "broker_heartbeat_interval": 1,
        "broker_commit_every": COMMIT_EVERY,
        "broker_commit_interval": 1.0,
        "stream_buffer_maxsize": 131072,
        "producer_linger": 0.0,
        "producer_max_batch_size": 1 << 20,
        "producer_acks": 1,
        "table_cleanup_interval": 3600.0,
        "consumer_auto_offset_reset": "earliest",
        "consumer_max_fetch_size": FETCH_BYTES,
        "datadir": str(settings.state_dir / "{conf.name}-data"),
        "processing_guarantee": settings.processing_guarantee,
    }

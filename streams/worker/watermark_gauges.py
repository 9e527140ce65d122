"""What a partition's clock tells Prometheus: its (aligned) watermark, the watermark's delay
behind the wall clock, how far its peers hold it back, and the events held in future panes."""

from __future__ import annotations

from collections.abc import Iterable

from common import metrics
from streams.pipeline import TopicPipeline


def report_watermarks(
    pipeline: TopicPipeline, topic: str, partitions: Iterable[int], now: float
) -> None:
    """Set the watermark gauges of ``partitions`` of ``topic`` at wall-clock ``now`` (the
    worker's idle tick refreshes them while nothing arrives)."""
    for partition in partitions:
        windows = pipeline.windows(partition)
        labels = {"topic": topic, "partition": str(partition)}
        metrics.FUTURE_EVENTS_HELD.labels(**labels).set(windows.events_after(now))
        wm = windows.clock.aligned
        if wm > 0:
            metrics.WATERMARK.labels(**labels).set(wm)
            metrics.WATERMARK_DELAY.labels(**labels).set(now - wm)
        metrics.WATERMARK_HELD_BACK.labels(**labels).set(windows.held_back)

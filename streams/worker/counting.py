"""The worker's event counters: what one applied batch adds to each.

A record read again at an offset its partition already applied (after a stall repair, a
rebalance or a restart that re-reads past the last commit) is a redelivery: it is counted
in ``ioc_events_redelivered_total`` only, never as consumed, so that
``consumed = windowed + dead-lettered + late + duplicates + rerouted`` holds however often
the worker re-reads. A re-routed event is consumed twice (the original, then its copy in its
district's partition), so ``consumed = sent + rerouted``.
"""

from __future__ import annotations

from common import metrics
from streams.pipeline import Applied
from streams.windows import Outcome

REDELIVERY = Outcome.REDELIVERY.value
REROUTED = Outcome.REROUTED.value


def count_applied(topic: str, applied: Applied) -> None:
    """Add one applied batch of ``topic`` to the event counters."""
    redelivered = applied.outcomes.get(REDELIVERY, 0)
    metrics.EVENTS_CONSUMED.labels(topic=topic).inc(applied.consumed - redelivered)
    if redelivered:
        metrics.EVENTS_REDELIVERED.labels(topic=topic).inc(redelivered)
    for outcome, n in applied.outcomes.items():
        if outcome == Outcome.WINDOWED.value:
            metrics.EVENTS_WINDOWED.labels(topic=topic).inc(n)
        elif outcome == Outcome.LATE.value:
            metrics.EVENTS_LATE.labels(topic=topic).inc(n)
        elif outcome == REROUTED:
            metrics.EVENTS_REROUTED.labels(topic=topic).inc(n)
        elif outcome != REDELIVERY:
            metrics.EVENTS_DUPLICATE.labels(topic=topic, kind=outcome).inc(n)
    for reason, n in applied.invalid.items():
        metrics.EVENTS_INVALID.labels(topic=topic, reason=reason).inc(n)
    if applied.markers_read:
        metrics.PROGRESS_MARKERS.labels(topic=topic, direction="read").inc(applied.markers_read)
    if applied.clock_notes:
        noted = sum(len(at) for at in applied.clock_notes.values())
        metrics.EVENTS_CLOCK_NOTED.labels(topic=topic).inc(noted)

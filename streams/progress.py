"""Progress markers: how far each partition has read, told to the other partitions of its
topic, so that no partition closes a window that a re-routed copy may still reach.

A misplaced record is copied to its district's partition (:mod:`streams.routing`), after
whatever that partition holds already. After an outage each partition has a backlog; the
district's partition reads its own backlog while the copies are still being made, and
without a bound its windows would close before the copies come and turn them late.

So each partition tells every other partition of the topic its *progress*: the larger of
its watermark and the largest ``min(event time, reference time) - grace`` of the events it
re-routed. A partition with nothing left to read tells a peer no less than the progress
that peer told it: every copy it makes from now on is of a record appended later, as if
the producer had keyed it right. It tells a peer again whenever that enters a new minute,
after the copies it made before (the worker waits until the broker has them). A
partition's *aligned watermark* is the smaller of its own watermark and the least progress
its peers told it, and never goes back: its windows close by it, and a re-routed copy is
late only once its minute ends at or before it. The partition's own records are judged by
its own watermark, as before, so markers never change what correctly keyed records give.

A peer that has told nothing holds nothing back (a topic written before markers behaves as
before; a worker's first start over a backlog does not wait for peers that have not
spoken yet). Markers live in the raw topic itself (header :data:`PROGRESS_HEADER`, the
sending partition), so every decision still depends only on the partition's own log:
crashes, rebalances and ``ioc replay`` take the same decisions. Only the minute matters
(windows and panes end on minutes), so a marker carries the progress rounded down to its
minute: one marker per partition pair and minute of progress at most.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import orjson

from streams.window_rows import PANE_SECONDS

PROGRESS_HEADER: Final = "ioc-progress"
"""Header of a progress marker; its value is the sending partition's number."""

MARKER_KEY: Final = b"ioc-progress"


def is_marker(headers: Sequence[tuple[str, bytes]]) -> bool:
    """Whether a record with ``headers`` (aiokafka's (key, value) pairs) is a marker."""
    return any(key == PROGRESS_HEADER for key, _ in headers)


def marker_minute(progress: float) -> int | None:
    """``progress`` rounded down to its minute (None: no progress yet)."""
    if progress == -math.inf:
        return None
    return int(progress // PANE_SECONDS) * PANE_SECONDS


def marker_value(sender: int, minute: int) -> bytes:
    """The value of a marker: ``{"partition": sender, "progress": minute}`` (epoch s)."""
    return orjson.dumps({"partition": sender, "progress": minute})


def read_marker(
    value: bytes | None, headers: Sequence[tuple[str, bytes]], partitions: int, own: int
) -> tuple[int, float] | str:
    """The sender and progress (-inf: nothing yet) of a marker found in partition ``own``
    of a topic with ``partitions``, or why it is no marker this worker wrote."""
    try:
        fields = orjson.loads(value or b"")
        sender, progress = fields["partition"], fields["progress"]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return f"a record with header {PROGRESS_HEADER} is not a progress marker"
    told = [v for key, v in headers if key == PROGRESS_HEADER]
    if (
        type(sender) is not int
        or told != [str(sender).encode()]
        or not 0 <= sender < partitions
        or sender == own
    ):
        return (
            f"a progress marker in partition {own} names partition {sender!r} (header "
            f"{told!r}): not another partition of a topic with {partitions}"
        )
    if progress is None:
        return sender, -math.inf
    if type(progress) is not int or progress % PANE_SECONDS:
        return f"a progress marker's progress {progress!r} is not a minute in epoch seconds"
    return sender, float(progress)

"""``ioc replay``: reproduce KPI rows from the raw topics and report what differs from TimescaleDB.

Modules, one job each: :mod:`~streams.replay.times` (command-line times),
:mod:`~streams.replay.selection` (which rows take part), :mod:`~streams.replay.reading`
(start and end offsets, reading with plain aiokafka), :mod:`~streams.replay.recompute`
(the worker's :class:`~streams.pipeline.TopicPipeline`, fed in offset order),
:mod:`~streams.replay.compare` (rows of the ``kpi`` table and the comparison),
:mod:`~streams.replay.report` (Markdown, JSON, CSV and the stdout summary),
:mod:`~streams.replay.republish`, :mod:`~streams.replay.audit` (``--into-table``),
:mod:`~streams.replay.progress`, :mod:`~streams.replay.run` (the whole run) and
:mod:`~streams.replay.cli`.

Which rows: those whose window lies inside ``[from, to)`` (``window_start >= from`` and
``window_end <= to``); a window straddling a bound is left out on both sides.

Fidelity, and the choice of the start offset. A worker's state for a partition starts at
the partition's first record. Whether an event is late depends on the watermark (max
``occurred_at`` seen in the partition - grace) built by every record before it, and an
event id is a duplicate only against the events already in its pane. So:

* Exact mode (default): every partition is read from the beginning of retention and every
  record is applied in offset order, whatever its ``occurred_at``; only the resulting rows
  are restricted to the range. Lateness, duplicates and lineage are then decided exactly
  as the worker decided them. When retention already deleted a partition's first records
  (log start offset > 0) the report warns: the worker saw records replay cannot.
* ``--margin M``: start at ``offsets_for_times(from - M)`` (by record timestamp: Kafka's
  CreateTime, set by the producer; a time past the end has no answer and falls back to the
  beginning). A record before that offset has a timestamp before ``from - M``, so
  ``occurred_at < from - M + skew`` (the worker rejects events more than the future skew
  ahead of their record timestamp, within the producers' clock error), so with
  ``M >= skew + clock error`` it can neither sit in a pane of the range nor push the
  watermark past ``from - grace``: every event of the range is windowed, late or
  de-duplicated exactly as in the exact mode (tests/replay/test_recompute.py checks this
  property). Delayed events are no concern:
  replay always reads to the true end offset.

Wall clocks. A worker judges each record by its record timestamp capped by its wall
clock. Where that cap changed a decision (CreateTime stamps ahead of the worker's clock),
the worker noted the time it used on ``city.clock.v1`` (:mod:`streams.clocknotes`);
replay reads that topic whole first and judges those records by the noted time, so its
decisions are the worker's on CreateTime topics too.

What replay cannot see: a worker also advances the watermark of an idle, caught-up
partition by wall clock (``IOC_IDLE_TIMEOUT_SECONDS``). Rows of windows ending after a
partition's last event watermark exist in the database only through such an advance; they
are not compared unless ``--include-open``. An event that arrived after such an advance
and was late for the worker but not for replay shows up as a difference, which is what an
audit should show. Grace and future skew must be the worker's (IOC_GRACE_SECONDS,
IOC_FUTURE_SKEW_SECONDS); the report states the values used.
"""

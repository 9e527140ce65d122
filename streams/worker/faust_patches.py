"""Every reach into faust-streaming internals, in one place (tests/streams/test_faust_patches.py
fails when Faust changes under them).

* Faust calls every sensor (its Monitor) several times per event; the product keeps its own
  Prometheus metrics per batch, so the per-event sensor hooks are made no-ops (NOTES.md:
  about 3x less Faust overhead per event).
* The consumer hands every fetched record to the streams through
  ``wait_first(callback(message), suspend_flow.wait())``: two tasks and a wait per record,
  there only so that a callback blocked by a rebalance is abandoned. When nothing can
  block it (flow active, no stream buffer full, producer buffer not full) the patched
  ``wait_first`` awaits the callback directly; otherwise it falls back to Faust's own.
* Batch lanes: Faust turns every fetched record into a message, an event, a queue entry
  and an ack, about 50 us per record here, whatever the agent does with it. For a topic
  given lanes (:func:`batch_lanes`) the drain loop hands each partition's fetched records
  to its lane (a channel) as one event (a :class:`RecordBatch`), tracked and acked as one
  :class:`BatchMessage`, whose offsets before the last are registered as a gap, so that
  acking it makes all its offsets committable (Faust acks by offset alone). A rebalance
  still waits for the batches in flight (they are unacked messages), abandons a blocked
  hand-over and drops queued batches, as it does for single records; every other topic
  (table changelogs in recovery) takes Faust's own path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from faust.sensors.base import SensorDelegate
from faust.transport import consumer as faust_consumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage

PER_EVENT_SENSOR_HOOKS: Final = (
    "on_message_in",
    "on_stream_event_in",
    "on_stream_event_out",
    "on_message_out",
    "on_table_get",
    "on_table_set",
    "on_table_del",
)


DRAIN_CLASS: Final = faust_consumer.Consumer
_ORIGINAL_WAIT_FIRST: Final = DRAIN_CLASS.wait_first
_ORIGINAL_DRAIN: Final = DRAIN_CLASS._drain_messages
_SUSPEND_WAIT_CODE: Final = asyncio.Event.wait.__code__
"""The code of ``Consumer.suspend_flow.wait`` (an asyncio.Event)."""


def callback_cannot_block(consumer: Any) -> bool:
    """True when a fetched record can be handed to the streams without waiting: the flow
    is not suspended, no stream buffer is full and the producer buffer has room."""
    app = consumer.app
    flow = app.flow_control
    if consumer.suspend_flow.is_set() or not flow.is_active():
        return False
    queues = _queues_of(flow)
    for queue in queues:
        if queue.full():
            return False
    buffer = app.producer.buffer
    return bool(buffer.size <= buffer.max_messages)


def _queues_of(flow: Any) -> tuple[Any, ...]:
    """The stream buffers under ``flow`` (a WeakSet, slow to walk: cached on ``flow`` by
    its size)."""
    size = len(flow._queues)
    cached = getattr(flow, "_ioc_queues", None)
    if cached is None or cached[0] != size:
        cached = (size, tuple(flow._queues))
        flow._ioc_queues = cached
    queues: tuple[Any, ...] = cached[1]
    return queues


async def _wait_first(self: Any, *coros: Any, timeout: Any = None) -> Any:
    if (
        len(coros) == 2
        and getattr(coros[1], "cr_code", None) is _SUSPEND_WAIT_CODE
        and callback_cannot_block(self)
    ):
        coros[1].close()
        await coros[0]
        return None
    return await _ORIGINAL_WAIT_FIRST(self, *coros, timeout=timeout)


def _no_sensor(*_: Any, **__: Any) -> None:
    return None


class RecordBatch(NamedTuple):
    """The records of one partition fetched together, in offset order (aiokafka
    ``ConsumerRecord``: topic, partition, offset, timestamp in ms, key, value, ...)."""

    tp: TP
    records: Sequence[Any]


class BatchMessage(ConsumerMessage):
    """The Faust message of a :class:`RecordBatch`: its offset is the last record's.

    Faust acks a message by its offset alone (its compiled stream iterator inlines the ack,
    so no method of the message runs). The batch's other offsets, ``first_offset`` up to
    the last, are registered as a gap when it is delivered (:func:`track_batch`): Faust
    commits a gap once an offset after it is acked, so acking the batch makes all of its
    offsets committable."""

    def __init__(self, batch: RecordBatch, first_offset: int, generation_id: int) -> None:
        last = batch.records[-1]
        super().__init__(
            batch.tp.topic,
            batch.tp.partition,
            last.offset,
            last.timestamp / 1000.0,
            last.timestamp_type,
            None,
            None,
            None,
            None,
            0,
            0,
            batch.tp,
            generation_id=generation_id,
        )
        self.first_offset = first_offset


async def track_batch(consumer: Any, message: BatchMessage) -> None:
    """Track ``message`` as Faust tracks a fetched record, and register the offsets of its
    batch before the last one as a gap (Faust's ``_add_gap``): once the last is acked,
    Faust commits past all of them."""
    message.tracked = True
    message.incref()
    consumer._unacked_messages.add(message)
    if message.first_offset < message.offset and consumer.app.topics.acks_enabled_for(
        message.topic
    ):
        await consumer._add_gap(message.tp, message.first_offset, message.offset - 1)


_lanes: dict[str, list[Any]] = {}
"""Topic name -> the channels its batches go to (partition p to channel p mod n)."""


def batch_lanes(app: Any, topic: Any, n: int, maxsize: int = 4) -> list[Any]:
    """Subscribe ``app`` to ``topic`` and return ``n`` channels that receive its fetched
    records as :class:`RecordBatch` values: partition p goes to channel p mod n, so each
    partition's batches stay in order; at most ``maxsize`` batches are queued per channel.

    An agent on a channel processes a batch and acks it by taking the next one; its
    offsets are then committed by Faust as usual.
    """
    channels = [app.channel(maxsize=maxsize) for _ in range(n)]
    app.topics.add(topic)
    for name in topic.topics:
        _lanes[name] = channels
    return channels


async def _drain_messages(self: Any, fetcher: Any) -> None:
    """Faust's ``Consumer._drain_messages`` with the batch lanes: a copy of its loop over
    ``_wait_next_records`` that hands laned partitions over in one piece."""
    if not _lanes:
        return await _ORIGINAL_DRAIN(self, fetcher)
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            self.diag.set_flag(faust_consumer.CONSUMER_FETCHING)
            if not self.flow_active:
                await _seek_when_suspended(self)
            records, active = await self._wait_next_records(1.0)
            await self.sleep(0)
            if records and not self.should_stop:
                await _deliver(self, records, active)
            self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:  # as Faust's own loop does: never die silently
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        self.diag.unset_flag(faust_consumer.CONSUMER_FETCHING)


async def _seek_when_suspended(self: Any) -> None:
    """What Faust's ``getmany`` does when called while the flow is suspended."""
    try:
        await self.perform_seek()
    except Exception as error:
        self.log.warning(f"exception performing seek when flow not active {error}")


async def _deliver(self: Any, records: dict[Any, list[Any]], active: Any) -> None:
    """Hand one fetch over: laned partitions as one batch each, the others record by
    record through Faust's callback, with Faust's read-offset, gap and commit bookkeeping."""
    app = self.app
    generation = app.consumer_generation_id
    read_offset = self._read_offset
    for tp, fetched in records.items():
        if not self.flow_active or app.consumer_generation_id != generation:
            break
        if active is not None and tp not in active and tp not in self._buffered_partitions:
            continue
        channels = _lanes.get(tp.topic)
        if channels is None:
            await _deliver_one_by_one(self, tp, fetched)
            continue
        channel = channels[tp.partition % len(channels)]
        r_offset = read_offset[tp]
        fresh = fetched if r_offset is None else [r for r in fetched if r.offset >= r_offset]
        if not fresh:
            continue
        first = fresh[0].offset
        if r_offset and first - r_offset > 1:
            first = r_offset + 1  # the gap is acked with the batch, as Faust's _add_gap does
        await _commit_if_due(self)
        batch = RecordBatch(tp, fresh)
        message = BatchMessage(batch, first, generation)
        await track_batch(self, message)
        event = app.create_event(None, batch, {}, message)
        await self.wait_first(channel.put(event), self.suspend_flow.wait())
        read_offset[tp] = fresh[-1].offset


async def _deliver_one_by_one(self: Any, tp: Any, fetched: list[Any]) -> None:
    """Faust's own per-record hand-over (the body of its drain loop)."""
    callback = self.callback
    to_message = self._to_message
    read_offset = self._read_offset
    acks_enabled = self.app.topics.acks_enabled_for(tp.topic)
    for record in fetched:
        offset = record.offset
        r_offset = read_offset[tp]
        if r_offset is not None and offset < r_offset:
            continue
        if r_offset and offset - r_offset > 1 and acks_enabled:
            await self._add_gap(tp, r_offset + 1, offset)
        await _commit_if_due(self)
        await self.wait_first(callback(to_message(tp, record)), self.suspend_flow.wait())
        read_offset[tp] = offset


async def _commit_if_due(self: Any) -> None:
    """Commit once ``broker_commit_every`` records were acked, as Faust's drain loop does."""
    if self._commit_every is not None and self._n_acked >= self._commit_every:
        self._n_acked = 0
        await self.commit()


def apply() -> None:
    """Install the patches (idempotent)."""
    DRAIN_CLASS.wait_first = _wait_first  # type: ignore[method-assign]
    DRAIN_CLASS._drain_messages = _drain_messages  # type: ignore[method-assign]
    for hook in PER_EVENT_SENSOR_HOOKS:
        setattr(SensorDelegate, hook, _no_sensor)

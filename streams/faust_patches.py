"""Every reach into faust-streaming internals, in one place (tests/streams/test_faust_patches.py
fails when Faust changes under them).

* Recovery of changelog-backed tables asks the consumer for ``highwaters``; with a broker
  whose ListOffsets answer is off (tansu) Faust would stop replaying early and lose state.
  The patched ``_highwaters`` reads the true high watermark from a Fetch.
* Faust calls every sensor (its Monitor) several times per event; the product keeps its own
  Prometheus metrics per batch, so the per-event sensor hooks are made no-ops (NOTES.md:
  about 3x less Faust overhead per event).
"""

from __future__ import annotations

from typing import Any, Final

from aiokafka import TopicPartition
from faust.sensors.base import SensorDelegate
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.broker_quirks import true_end_offsets

PATCHED_CLASS: Final = faust_aiokafka.AIOKafkaConsumerThread
_ORIGINAL_HIGHWATERS: Final = PATCHED_CLASS._highwaters
_state: dict[str, str] = {}
PER_EVENT_SENSOR_HOOKS: Final = (
    "on_message_in",
    "on_stream_event_in",
    "on_stream_event_out",
    "on_message_out",
    "on_table_get",
    "on_table_set",
    "on_table_del",
)


def _no_sensor(*_: Any, **__: Any) -> None:
    return None


async def _highwaters(self: Any, partitions: list[Any]) -> Any:
    if self.consumer.in_transaction:
        return await _ORIGINAL_HIGHWATERS(self, partitions)
    tps = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
    found = await true_end_offsets(_state["bootstrap"], tps)
    return {tp: found[TopicPartition(tp.topic, tp.partition)] for tp in partitions}


def apply(bootstrap: str) -> None:
    """Install the patches (idempotent); ``bootstrap`` is the broker to read watermarks from."""
    _state["bootstrap"] = bootstrap
    PATCHED_CLASS._highwaters = _highwaters  # type: ignore[method-assign]
    for hook in PER_EVENT_SENSOR_HOOKS:
        setattr(SensorDelegate, hook, _no_sensor)

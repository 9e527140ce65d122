"""Every reach into faust-streaming internals, in one place (tests/streams/test_faust_patches.py
fails when Faust changes under them).

* Recovery of changelog-backed tables asks the consumer for ``highwaters``; with a broker
  whose ListOffsets answer is off (tansu) Faust would stop replaying early and lose state.
  The patched ``_highwaters`` reads the true high watermark from a Fetch.
"""

from __future__ import annotations

from typing import Any, Final

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.broker_quirks import true_end_offsets

PATCHED_CLASS: Final = faust_aiokafka.AIOKafkaConsumerThread
_ORIGINAL_HIGHWATERS: Final = PATCHED_CLASS._highwaters
_state: dict[str, str] = {}


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

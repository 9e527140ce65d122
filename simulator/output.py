"""Sending generated messages: to Kafka (aiokafka, batched) or to a JSONL file, paced.

Kafka records carry the wall-clock time of sending as their timestamp, and the simulated
clock is never let ahead of the wall clock, so only injected ``future`` faults are
future-dated for the workers. In a JSONL file, ``timestamp_ms`` is the simulated clock.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from common.errors import UserError
from simulator.generator import Message
from simulator.summary import Summary

CHUNK: Final = 1024
LINGER_MS: Final = 20
MAX_BATCH_BYTES: Final = 1024 * 1024
MAX_REQUEST_BYTES: Final = 4 * 1024 * 1024
FLUSH_SECONDS: Final = 0.1
SLACK: Final = 0.02


@dataclass
class Pacer:
    """When each message may be sent: by message rate, simulated speed and/or wall clock.

    ``rate`` messages per second (0: no limit); ``speed`` simulated seconds per real second
    (0: no limit); ``hold``: never send a message before the wall clock reaches its
    simulated time. Each limit delays; none hurries. Messages may leave up to ``SLACK``
    seconds early so that they travel in chunks.
    """

    rate: float = 0.0
    speed: float = 0.0
    hold: bool = False
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.first_sim_ms: int | None = None

    def wait_seconds(self, sent: int, sim_ms: int) -> float:
        """Seconds to wait before sending message number ``sent`` (0-based) at ``sim_ms``."""
        if self.first_sim_ms is None:
            self.first_sim_ms = sim_ms
        due = self.started
        if self.rate > 0:
            due = max(due, self.started + sent / self.rate)
        if self.speed > 0:
            due = max(due, self.started + (sim_ms - self.first_sim_ms) / 1000 / self.speed)
        if self.hold:
            due = max(due, sim_ms / 1000)
        return max(0.0, due - self.clock())

    def horizon(self, at: float) -> tuple[float, float]:
        """(messages sent, simulated ms) allowed by wall-clock time ``at`` (plus the slack)."""
        at += SLACK
        count = (at - self.started) * self.rate if self.rate > 0 else math.inf
        sim = math.inf
        if self.speed > 0 and self.first_sim_ms is not None:
            sim = self.first_sim_ms + (at - self.started) * self.speed * 1000
        if self.hold:
            sim = min(sim, at * 1000)
        return count, sim


def paced_chunks(
    messages: Iterable[Message], pacer: Pacer, deadline: float | None = None
) -> Iterator[tuple[float, list[Message]]]:
    """(seconds to wait first, chunk) pairs; every chunk may leave at once after its wait.

    Stops at ``deadline`` (wall-clock time), without sending what would be due later.
    """
    chunk: list[Message] = []
    sent, wait = 0, 0.0
    count_limit, sim_limit = -math.inf, -math.inf
    for message in messages:
        if sent + len(chunk) > count_limit or message.sim_ms > sim_limit:
            if chunk:
                yield wait, chunk
                sent, chunk = sent + len(chunk), []
            wait = pacer.wait_seconds(sent, message.sim_ms)
            now = pacer.clock()
            if deadline is not None and now + wait >= deadline:
                return
            count_limit, sim_limit = pacer.horizon(now + wait)
        chunk.append(message)
        if len(chunk) >= CHUNK:
            yield wait, chunk
            sent, chunk, wait = sent + len(chunk), [], 0.0
            if deadline is not None and pacer.clock() >= deadline:
                return
    if chunk:
        yield wait, chunk


def write_jsonl(
    messages: Iterable[Message],
    path: Path,
    summary: Summary,
    pacer: Pacer,
    deadline: float | None = None,
) -> None:
    """One JSON line per message: topic, key, value (text, or value_base64), timestamp_ms."""
    try:
        handle = path.open("wb")
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror}") from None
    with handle:
        for wait, chunk in paced_chunks(messages, pacer, deadline):
            if wait > 0:
                handle.flush()
                time.sleep(wait)
            lines = []
            for message in chunk:
                lines.append(orjson.dumps(_line(message)))
                summary.add(message)
            lines.append(b"")
            handle.write(b"\n".join(lines))


def _line(message: Message) -> dict[str, Any]:
    line: dict[str, Any] = {"topic": message.topic, "key": message.key.decode()}
    value = message.value
    try:
        line["value"] = None if value is None else value.decode()
    except UnicodeDecodeError:
        line["value_base64"] = base64.b64encode(value or b"").decode("ascii")
    line["timestamp_ms"] = message.sim_ms
    return line


def read_jsonl(path: Path) -> Iterator[tuple[str, bytes, bytes | None, int]]:
    """(topic, key, value, timestamp_ms) of each line written by ``write_jsonl``."""
    with path.open("rb") as handle:
        for line in handle:
            obj = orjson.loads(line)
            if "value_base64" in obj:
                value: bytes | None = base64.b64decode(obj["value_base64"])
            else:
                value = None if obj["value"] is None else obj["value"].encode()
            yield obj["topic"], obj["key"].encode(), value, obj["timestamp_ms"]


async def produce(
    messages: Iterable[Message],
    bootstrap: str,
    summary: Summary,
    pacer: Pacer,
    *,
    acks: Literal[1, "all"] = "all",
    deadline: float | None = None,
) -> None:
    """Send ``messages`` to Kafka in large batches, one partition per district key."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks=acks,
        linger_ms=LINGER_MS,
        max_batch_size=MAX_BATCH_BYTES,
        max_request_size=MAX_REQUEST_BYTES,
        compression_type=None,
        enable_idempotence=False,
        request_timeout_ms=30_000,
    )
    try:
        await producer.start()
    except KafkaError as error:
        await producer.stop()
        raise UserError(
            f"cannot reach Kafka at {bootstrap} ({error}): start the local servers with "
            "`ioc dev up`, or set IOC_KAFKA_BOOTSTRAP"
        ) from None
    try:
        await _send_all(producer, messages, summary, pacer, deadline)
    finally:
        await producer.stop()


class _Batches:
    """Open record batches per topic partition, submitted when full or on ``flush``."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self.open: dict[tuple[str, int], Any] = {}
        self.futures: list[asyncio.Future[Any]] = []
        self.flushed_at = time.monotonic()

    async def append_slow(self, tp: tuple[str, int], message: Message, stamp: int) -> None:
        """Append to a new batch (the first of ``tp``, or the previous one is full)."""
        full = self.open.get(tp)
        if full is not None:
            await self._submit(tp, full)
        builder = self.open[tp] = self.producer.create_batch()
        if builder.append(timestamp=stamp, key=message.key, value=message.value) is None:
            raise UserError(f"a message of {len(message.value or b'')} bytes does not fit a batch")

    async def _submit(self, tp: tuple[str, int], builder: Any) -> None:
        builder.close()
        future = await self.producer.send_batch(builder, tp[0], partition=tp[1])
        self.futures.append(future)
        if len(self.futures) >= 256:
            await asyncio.gather(*self.futures)
            self.futures.clear()

    async def flush(self) -> None:
        """Submit every open batch now."""
        for tp, builder in list(self.open.items()):
            if builder.record_count():
                await self._submit(tp, builder)
        self.open.clear()
        self.flushed_at = time.monotonic()

    async def wait(self) -> None:
        """Submit open batches and wait until the broker acknowledged everything."""
        await self.flush()
        await asyncio.gather(*self.futures)
        self.futures.clear()


async def _send_all(
    producer: Any,
    messages: Iterable[Message],
    summary: Summary,
    pacer: Pacer,
    deadline: float | None,
) -> None:
    routes: dict[tuple[str, bytes], tuple[str, int]] = {}
    batches = _Batches(producer)
    open_batches = batches.open
    try:
        for wait, chunk in paced_chunks(messages, pacer, deadline):
            if wait > 0:
                await batches.flush()
                await asyncio.sleep(wait)
            elif time.monotonic() - batches.flushed_at >= FLUSH_SECONDS:
                await batches.flush()
            stamp = int(time.time() * 1000)
            for message in chunk:
                tp = routes.get((message.topic, message.key))
                if tp is None:
                    partition = await _partition(producer, message.topic, message.key)
                    tp = routes[(message.topic, message.key)] = (message.topic, partition)
                builder = open_batches.get(tp)
                if (
                    builder is None
                    or builder.append(timestamp=stamp, key=message.key, value=message.value) is None
                ):
                    await batches.append_slow(tp, message, stamp)
                summary.add(message)
        await batches.wait()
    except KafkaError as error:
        raise UserError(f"sending to Kafka failed: {error!r}") from None


async def _partition(producer: Any, topic: str, key: bytes) -> int:
    """The default partitioner's choice for ``key``; UserError when the topic is missing."""
    available = await producer.partitions_for(topic)
    if not available:
        raise UserError(
            f"topic {topic!r} does not exist on the broker: create it (ioc dev up creates the "
            "standard topics) or pass --topics/--topic-prefix naming existing topics"
        )
    all_partitions = sorted(available)
    return int(producer._partitioner(key, all_partitions, all_partitions))

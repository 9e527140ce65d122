"""The worker's side of the claims log (``city.entity-claims.v1``, :mod:`streams.routing`).

Before a worker windows an entity that neither the province's registry nor any claim names,
it appends a claim to the log and reads the log back; the first claim of an entity in the
log gives its district to every partition, every restart and ``ioc replay``. The log is read
from its beginning the first time a claim is needed, so a restarted worker learns the
claims of earlier runs before it makes one. It keeps every record: claims are few (one per
entity, about one more per worker restart) and a deleted first claim would let a later one
decide otherwise. A worker creates the topic (one partition, no retention limit) when it is
missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from common import metrics
from schemas.topics import CLAIMS_TOPIC
from streams.routing import Claim, EntityClaims
from streams.worker.delivery import Delivery

log = logging.getLogger("streams.worker.claims")

READ_BACK_SECONDS: Final = 30.0
TOPIC_CONFIG: Final = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


class ClaimsNotReadBack(RuntimeError):
    """The claims log cannot be created, or acknowledged claims did not appear in it: the
    worker stops without committing the batch that needed them."""


class ClaimsLog:
    """Appends claims through :class:`Delivery` and reads the log into ``claims``."""

    def __init__(
        self,
        bootstrap: str,
        claims: EntityClaims,
        delivery: Delivery,
        replication_factor: int = 1,
        read_back_seconds: float = READ_BACK_SECONDS,
    ) -> None:
        self.bootstrap = bootstrap
        self.claims = claims
        self.delivery = delivery
        self.replication_factor = replication_factor
        self.read_back_seconds = read_back_seconds
        self.made = 0
        """Claims this worker appended."""
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Create the topic if missing and read the log, before any batch needs it (a
        broker that does not answer is left to the first claim)."""
        try:
            async with self._lock:
                if self._consumer is None:
                    await self._read_to_end()
        except (ClaimsNotReadBack, KafkaError, OSError) as error:
            log.warning("could not read %s at start: %r", CLAIMS_TOPIC, error)

    async def claim(self, claims: Sequence[Claim]) -> None:
        """Make sure every entity of ``claims`` has its first claim in ``self.claims``:
        read the log, append the claims still missing, and read the log until they are
        there (raise :class:`ClaimsNotReadBack` after ``read_back_seconds``)."""
        with metrics.CLAIM_SECONDS.time():
            await self._claim(claims)

    async def _claim(self, claims: Sequence[Claim]) -> None:
        if await self._known(claims):  # the log so far decides: an earlier claim exists
            return
        missing = [c for c in claims if c.entity_id not in self.claims]
        await self.delivery.produce((CLAIMS_TOPIC, [(c.key(), c.encode()) for c in missing]))
        self.made += len(missing)
        metrics.ENTITY_CLAIMS.inc(len(missing))
        started = time.monotonic()
        while not await self._known(missing):
            if time.monotonic() - started > self.read_back_seconds:
                unread = [c.entity_id for c in missing if c.entity_id not in self.claims]
                raise ClaimsNotReadBack(
                    f"claims of {unread[:5]} were acknowledged but not read back from "
                    f"{CLAIMS_TOPIC} within {self.read_back_seconds:g} s"
                )
            await asyncio.sleep(0.05)

    async def _known(self, claims: Sequence[Claim]) -> bool:
        """True when every entity of ``claims`` has its first claim in ``self.claims``,
        after reading the log to its end unless it had them already. One read at a time:
        batches waiting for it take what it read (their claims may be among it)."""
        async with self._lock:
            if all(c.entity_id in self.claims for c in claims):
                return True
            await self._read_to_end()
        return all(c.entity_id in self.claims for c in claims)

    async def stop(self) -> None:
        """Close the log's consumer, if one was started."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _read_to_end(self) -> None:
        """Read every claim up to the log's end offsets now; raise
        :class:`ClaimsNotReadBack` when the broker delivers none for ``read_back_seconds``."""
        consumer = self._consumer or await self._open()
        partitions = consumer.assignment()
        ends = await consumer.end_offsets(list(partitions))
        for tp in partitions:
            deadline = time.monotonic() + self.read_back_seconds
            while await consumer.position(tp) < ends[tp]:
                if time.monotonic() > deadline:
                    raise ClaimsNotReadBack(
                        f"{CLAIMS_TOPIC} delivered nothing for {self.read_back_seconds:g} s "
                        f"below its end offset {ends[tp]}: is the broker still running?"
                    )
                fetched = await consumer.getmany(tp, timeout_ms=1000)
                if fetched:
                    deadline = time.monotonic() + self.read_back_seconds
                self.claims.read(record.value for record in fetched.get(tp, ()))

    async def _open(self) -> AIOKafkaConsumer:
        partitions = await self._create_topic()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        consumer.assign([TopicPartition(CLAIMS_TOPIC, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        self._consumer = consumer
        log.info("reading %s (%d partitions) from its beginning", CLAIMS_TOPIC, partitions)
        return consumer

    async def _create_topic(self) -> int:
        """Create the topic when it is missing; its partition count."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            topic = NewTopic(CLAIMS_TOPIC, 1, self.replication_factor, topic_configs=TOPIC_CONFIG)
            response = await admin.create_topics([topic])
            for _, code, *message in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    log.warning("could not create %s (error %d %s)", CLAIMS_TOPIC, code, message)
            deadline = time.monotonic() + self.read_back_seconds
            while time.monotonic() < deadline:
                (described,) = await admin.describe_topics([CLAIMS_TOPIC])
                if not described.get("error_code") and described["partitions"]:
                    return len(described["partitions"])
                await asyncio.sleep(0.1)
            raise ClaimsNotReadBack(
                f"topic {CLAIMS_TOPIC} is missing and could not be created: create it with one "
                "partition and retention.ms=-1 (the worker needs WRITE and READ on it)"
            )
        finally:
            await admin.close()

"""The worker's claims log (``streams.worker.claims``) on a real Apache Kafka broker: the
topic it creates, a restarted worker that learns earlier claims before it makes one, and
two logs racing for one entity."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas.topics import CLAIMS_TOPIC
from streams.routing import Claim, EntityClaims
from streams.worker.claims import ClaimsLog
from streams.worker.delivery import Delivery
from streams.worker.faust_host import FaustHost
from tests.streams.support import PrivateBroker

pytestmark = [pytest.mark.integration]


class ProducerHost:
    """The one method of :class:`FaustHost` that :class:`Delivery` calls, on aiokafka."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def send(self, topic: str, key: bytes | None, value: bytes | None, **_: Any) -> Any:
        return await self.producer.send(topic, value, key=key)


async def claims_logs(bootstrap: str, n: int) -> tuple[list[ClaimsLog], AIOKafkaProducer]:
    """``n`` claims logs as ``n`` workers would have them, over one producer."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1)
    await producer.start()
    delivery = Delivery(cast(FaustHost, ProducerHost(producer)))
    return [ClaimsLog(bootstrap, EntityClaims(), delivery) for _ in range(n)], producer


async def restart_and_race(bootstrap: str) -> dict[str, Any]:
    (first, restarted, a, b), producer = await claims_logs(bootstrap, 4)
    try:
        await first.claim([Claim("sensor", "s-1", "long-my")])
        await restarted.claim([Claim("sensor", "s-1", "nga-bay"), Claim("site", "x-9", "vi-thanh")])
        race = [Claim("agency", "a-7", "long-my")], [Claim("agency", "a-7", "vi-thanh")]
        await asyncio.gather(a.claim(race[0]), b.claim(race[1]))
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([CLAIMS_TOPIC])
            (config,) = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, CLAIMS_TOPIC)]
            )
        finally:
            await admin.close()
        return {
            "first": (first.made, dict(first.claims)),
            "restarted": (restarted.made, dict(restarted.claims)),
            "race": (a.made + b.made, a.claims.get("a-7"), b.claims.get("a-7")),
            "partitions": len(described["partitions"]),
            "config": {name: value for name, value, *_ in config.resources[0][4]},
        }
    finally:
        for log in (first, restarted, a, b):
            await log.stop()
        await producer.stop()


def test_claims_are_kept_read_back_first_and_agreed_on(tmp_path: Path) -> None:
    with PrivateBroker(tmp_path) as broker:
        seen = asyncio.run(restart_and_race(broker.bootstrap))
    assert seen["first"] == (1, {"s-1": "long-my"})
    # A restarted worker reads the log before it claims: s-1 is known, only x-9 is new.
    assert seen["restarted"] == (1, {"s-1": "long-my", "x-9": "vi-thanh"})
    made, a_district, b_district = seen["race"]
    assert 1 <= made <= 2 and a_district == b_district is not None
    assert seen["partitions"] == 1
    assert seen["config"]["retention.ms"] == "-1"
    assert seen["config"]["cleanup.policy"] == "delete"

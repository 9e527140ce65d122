"""Checks before a worker joins its group: the raw topics have the partitions it expects.

Windows live in the partition of their district (``streams.routing``), computed from
``IOC_PARTITIONS``. A raw topic with another partition count would make every worker
re-route records to partitions that do not hold their district, or that do not exist, so a
worker refuses to start on it and says how to fix it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

log = logging.getLogger("streams.worker.preflight")

TIMEOUT_SECONDS = 15.0


async def partition_counts(bootstrap: str, topics: Iterable[str]) -> dict[str, int]:
    """Partitions of each of ``topics`` that exists on the broker (absent ones are left out)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described if not t.get("error_code")}


def partition_mismatches(counts: dict[str, int], expected: int) -> list[str]:
    """One sentence per topic whose partition count is not ``expected``."""
    return [
        f"topic {topic} has {count} partitions but IOC_PARTITIONS is {expected}: set "
        f"IOC_PARTITIONS={count} for every worker, sink and replay of this cluster "
        "(windows live in the partition of their district, computed from it)"
        for topic, count in sorted(counts.items())
        if count != expected
    ]


def check_partitions(bootstrap: str, topics: Iterable[str], expected: int) -> list[str]:
    """What is wrong with the topics' partition counts ([] when nothing is, or when the
    broker does not answer within 15 s: the worker then waits for it as it always does)."""
    wanted = list(topics)
    try:
        counts = asyncio.run(asyncio.wait_for(partition_counts(bootstrap, wanted), TIMEOUT_SECONDS))
    except (TimeoutError, KafkaError, OSError) as error:
        log.warning("could not read the partitions of %s at %s: %s", wanted, bootstrap, error)
        return []
    return partition_mismatches(counts, expected)

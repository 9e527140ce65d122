"""The key contract (design.md, invariant 5): which partition a district's windows live in,
and which district an entity belongs to.

Raw events are keyed by district, and a district's windows live in the partition that
Kafka's Java client (and aiokafka, and librdkafka's ``murmur2_random``) choose for that key:
``murmur2(key) & 0x7fffffff % partitions``. A record found in another partition (a producer
that keys by sensor id, or librdkafka's default ``consistent_random`` partitioner) never
creates windows there: the worker dead-letters it as ``misrouted``, with the partition it
belongs in.

An entity (agency, site, sensor) belongs to the district it was first seen under; an event
naming it under another district is dead-lettered as ``entity_district`` rather than
windowed twice. :class:`EntityRegistry` remembers those first sightings per partition.
"""

from __future__ import annotations

import functools
from typing import Final

import orjson
from aiokafka.partitioner import murmur2

REGISTRY_CAP: Final = 200_000
"""Entities one partition's registry remembers at most; later ones are not checked."""


@functools.lru_cache(maxsize=4096)
def district_partition(district: str, partitions: int) -> int:
    """The partition whose windows hold ``district`` among ``partitions`` (murmur2 of the
    UTF-8 district id, as Kafka's default partitioner picks for that key)."""
    return int(murmur2(district.encode()) & 0x7FFFFFFF) % partitions


def misrouted_reason(district: str, partition: int, partitions: int) -> str:
    """Why a record of ``district`` found in ``partition`` is dead-lettered, and the fix."""
    home = district_partition(district, partitions)
    return (
        f"district {district!r} belongs in partition {home} of {partitions} (murmur2 of the "
        f"key {district!r}), the record is in partition {partition}: key raw events by "
        "district with Kafka's default partitioner (librdkafka: partitioner=murmur2_random)"
    )


class EntityRegistry:
    """The district of every entity one partition has windowed (first sighting wins)."""

    def __init__(self, cap: int = REGISTRY_CAP) -> None:
        self.cap = cap
        self.districts: dict[str, str] = {}
        self.dirty = False

    def conflict(self, entity: str, district: str) -> str | None:
        """The district ``entity`` was registered under when it is not ``district``."""
        known = self.districts.get(entity)
        return None if known is None or known == district else known

    def register(self, entity: str, district: str) -> None:
        """Remember ``entity`` under ``district`` (no-op when known or at the cap)."""
        if entity not in self.districts and len(self.districts) < self.cap:
            self.districts[entity] = district
            self.dirty = True

    def encode(self) -> bytes:
        """Stable bytes for the changelog; forget that it changed."""
        self.dirty = False
        return orjson.dumps(self.districts, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def decode(cls, raw: bytes) -> EntityRegistry:
        """The registry stored as ``raw`` by :meth:`encode`."""
        registry = cls()
        registry.districts = {str(k): str(v) for k, v in orjson.loads(raw).items()}
        return registry


def entity_reason(kind: str, entity: str, district: str, known: str) -> str:
    """Why an event naming ``entity`` under ``district`` is dead-lettered."""
    return (
        f"{kind} {entity!r} is registered under district {known!r}, this event names "
        f"{district!r}: an entity's district is fixed (fix the producer's registry, or give "
        "the moved entity a new id)"
    )

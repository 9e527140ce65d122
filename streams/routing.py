"""The key contract (design.md, invariant 5): which partition a district's windows live in,
and which district an entity belongs to.

Raw events are keyed by district, and a district's windows live in the partition that
Kafka's Java client (and aiokafka, and librdkafka's ``murmur2_random``) choose for that key:
``murmur2(key) & 0x7fffffff % partitions``. A record found in another partition (a producer
that keys by sensor id, or librdkafka's default ``consistent_random`` partitioner) never
creates windows there: the worker re-routes it. It produces a copy of the record (same value
and timestamp, keyed by its district, header :data:`REROUTED_HEADER` naming the origin) to
its district's partition of the same topic, where it is judged like any record, in the
order the broker appended it. The raw topic is its own repartition topic: each partition
stays one ordered log, so the worker's decisions are deterministic, survive crashes and
are taken again by replay. A copy that is itself misplaced (the topic's partition count
changed) is dead-lettered as ``misrouted``, never re-routed twice.

An entity (agency, site, sensor) belongs to the district it was first seen under; an event
naming it under another district is dead-lettered as ``entity_district`` rather than
windowed twice. :class:`EntityRegistry` remembers those first sightings per partition. The
province's own list of entities (``IOC_ENTITY_REGISTRY``, :func:`load_entity_registry`)
fixes the district of every entity it lists, in every partition alike. An entity it does not
list is claimed: before a worker windows an entity that neither the registry nor any claim
names, it appends a :class:`Claim` to the claims log (``city.entity-claims.v1``) and reads
the log back; the first claim of an entity in that log gives its district
(:class:`EntityClaims`), whichever partition made it. One log, read in order, gives every
partition, every restart and replay the same answer.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, NamedTuple

import orjson
from aiokafka.partitioner import murmur2

from common.errors import UserError
from schemas.places import District

REROUTED_HEADER: Final = "ioc-rerouted-from"
"""Header of a re-routed copy: ``<partition>:<offset>`` of the misplaced original."""

REGISTRY_HEADER: Final = ("entity_kind", "entity_id", "district")
ENTITY_KINDS: Final = frozenset({"agency", "site", "sensor"})

REGISTRY_CAP: Final = 200_000
"""Entities one partition's registry remembers at most; later ones are not checked."""


@functools.lru_cache(maxsize=4096)
def district_partition(district: str, partitions: int) -> int:
    """The partition whose windows hold ``district`` among ``partitions`` (murmur2 of the
    UTF-8 district id, as Kafka's default partitioner picks for that key)."""
    return int(murmur2(district.encode()) & 0x7FFFFFFF) % partitions


def reroute_header(partition: int, offset: int) -> tuple[str, bytes]:
    """The header a re-routed copy carries: where its original is."""
    return REROUTED_HEADER, f"{partition}:{offset}".encode()


def is_rerouted(headers: Sequence[tuple[str, bytes]] | None) -> bool:
    """Whether a record with ``headers`` (aiokafka's (key, value) pairs) is a re-routed copy."""
    return any(key == REROUTED_HEADER for key, _ in headers or ())


def misrouted_reason(district: str, partition: int, partitions: int) -> str:
    """Why a re-routed copy of ``district`` found in ``partition`` is dead-lettered."""
    home = district_partition(district, partitions)
    return (
        f"district {district!r} belongs in partition {home} of {partitions} (murmur2 of the "
        f"key {district!r}), this re-routed copy is in partition {partition}: the topic's "
        "partition count differs from IOC_PARTITIONS, so copies are not re-routed again"
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


class Claim(NamedTuple):
    """One record of the claims log: ``entity_id`` (of ``entity_kind``) lies in ``district``."""

    entity_kind: str
    entity_id: str
    district: str

    def key(self) -> bytes:
        """The record key: the entity id, UTF-8."""
        return self.entity_id.encode()

    def encode(self) -> bytes:
        """The record value: a JSON object of the three fields."""
        return orjson.dumps(self._asdict())


def decode_claim(raw: bytes | None) -> Claim | None:
    """The claim stored as ``raw`` by :meth:`Claim.encode`; None for any other value."""
    try:
        fields = orjson.loads(raw or b"")
        claim = Claim(**fields)
    except (orjson.JSONDecodeError, TypeError):
        return None
    if not all(isinstance(f, str) for f in claim):
        return None
    return claim


class EntityClaims(dict[str, str]):
    """The district of each entity by the province's registry, then by the first claim of
    the claims log read in order: a mapping entity id -> district that only grows."""

    def __init__(self, fixed: Mapping[str, str] | None = None) -> None:
        super().__init__(fixed or {})

    def add(self, claims: Iterable[Claim]) -> None:
        """Take ``claims`` read from the log, in log order: an entity keeps its first."""
        for claim in claims:
            self.setdefault(claim.entity_id, claim.district)

    def read(self, values: Iterable[bytes | None]) -> None:
        """Take the claims stored as ``values`` (record values of the log, in log order);
        values that are no claim are skipped."""
        self.add(c for c in map(decode_claim, values) if c is not None)


def entity_reason(kind: str, entity: str, district: str, known: str) -> str:
    """Why an event naming ``entity`` under ``district`` is dead-lettered."""
    return (
        f"{kind} {entity!r} is registered under district {known!r}, this event names "
        f"{district!r}: an entity's district is fixed (fix the producer's registry or the "
        "province's (IOC_ENTITY_REGISTRY), or give the moved entity a new id)"
    )


def load_entity_registry(path: Path | None) -> Mapping[str, str] | None:
    """The district of every entity listed in the CSV file ``path`` (header
    ``entity_kind,entity_id,district``), by entity id; None when no file is set
    (``IOC_ENTITY_REGISTRY``); raise :class:`UserError` naming the line of the first bad
    row."""
    if path is None:
        return None
    districts = {d.value for d in District}
    fixed: dict[str, str] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UserError(f"cannot read the entity registry {path}: {error}") from error
    if not rows or tuple(c.strip() for c in rows[0]) != REGISTRY_HEADER:
        raise UserError(f"{path}:1: the first line must be {','.join(REGISTRY_HEADER)}")
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 3:
            raise UserError(f"{path}:{line}: expected 3 columns, found {len(row)}")
        kind, entity_id, district = (c.strip() for c in row)
        if kind not in ENTITY_KINDS:
            raise UserError(
                f"{path}:{line}: entity_kind {kind!r} is not one of agency, site, sensor"
            )
        if district not in districts:
            raise UserError(f"{path}:{line}: {district!r} is not a district of the province")
        known = fixed.setdefault(entity_id, district)
        if known != district:
            raise UserError(f"{path}:{line}: {entity_id!r} is listed under {known!r} already")
    return fixed

"""An independent reference aggregator: the product's promises, written for clarity.

Nothing here comes from ``streams.windows``, ``streams.pipeline``, ``streams.dedup`` or
``streams.routing``: no panes, no segments, no merging, no closing. Each partition's records
are judged one by one in offset order by the rules of design.md, then every window of every
entity is computed by brute force, folding each KPI's accumulator (the KPI catalog's
definitions: the only thing shared with the product) over all admitted events in it.

Rules, as the product promises them:
* a record is decoded and its future checked against its reference time: the record
  timestamp, capped by the worker's wall clock when one is given;
* a record in another partition than its district's (murmur2 of the district id) is
  re-routed: a copy of it is appended to its district's partition (the caller writes the
  copies into the logs it judges, as the broker does); a copy found in another partition
  than its district's is misrouted; an event id windowed before, whose event time the
  watermark has not passed by the horizon, is a duplicate; an entity first windowed under
  another district, or listed under another in the province's registry, is refused; an
  event whose minute ends at or before the watermark is late;
* the watermark is the largest ``min(event time, reference time) - grace`` of the windowed
  events (and the idle advances the caller asks for);
* a progress marker (a record another partition of the topic appended, header
  ``ioc-progress``) states that partition's progress; the partition's aligned watermark
  is the smaller of its watermark and the least progress its peers stated, never less
  than before (a peer that stated none holds nothing back). A copy is late only when its
  minute ends at or before that aligned watermark;
* windows: tumbling 1 min and 1 h for every entity, hopping 15 min every minute for
  districts; a window has a row per KPI with a value when it holds at least one event.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from aiokafka.partitioner import murmur2

from schemas.decode import Rejection, decode
from schemas.events import DossierEvent, ProbeEvent, RawEvent, SensorReading
from streams.catalog import kpis_for_topic


class OracleRecord(NamedTuple):
    """One raw record with the wall clock of the worker that read it (None: replay)."""

    partition: int
    offset: int
    timestamp_ms: int | None
    value: bytes | None
    now: float | None = None
    copy: bool = False
    """A copy of a misplaced record, appended by the worker to its district's partition."""
    marker_of: int | None = None
    """A progress marker, appended by the worker of that partition."""


def from_log(record: Any, now: float | None = None) -> OracleRecord:
    """A record as the broker holds it (aiokafka's ``ConsumerRecord`` or the pipeline's
    ``SourceRecord``), read by a worker with wall clock ``now``: its headers say whether it
    is a re-routed copy (``ioc-rerouted-from``) or a progress marker (``ioc-progress``)."""
    headers = dict(record.headers or ())
    sender = headers.get("ioc-progress")
    return OracleRecord(
        record.partition,
        record.offset,
        record.timestamp,
        record.value,
        now,
        copy="ioc-rerouted-from" in headers,
        marker_of=None if sender is None else int(sender),
    )


class Row(NamedTuple):
    """One expected KPI row: identity, value, count and lineage."""

    kpi: str
    entity_kind: str
    entity_id: str
    window_start: int
    window_end: int
    value: float
    count: int
    district: str
    partition: int
    first_offset: int
    last_offset: int
    event_count: int


@dataclass
class Admitted:
    """A windowed event and where it came from."""

    offset: int
    time: float
    event: RawEvent


@dataclass
class PartitionVerdicts:
    """What the rules decided for one partition's records."""

    admitted: list[Admitted] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    watermark: float = -math.inf
    aligned: float = -math.inf
    peers: dict[int, float] = field(default_factory=dict)
    markers: int = 0

    def realign(self) -> None:
        """The aligned watermark: never less than before."""
        bound = min([self.watermark, *self.peers.values()])
        self.aligned = max(self.aligned, bound)


def home_partition(district: str, partitions: int) -> int:
    """Kafka's default partitioner's choice for the key ``district``."""
    return (murmur2(district.encode()) & 0x7FFFFFFF) % partitions


def second_entity(event: RawEvent) -> tuple[str, str]:
    """The agency, site or sensor of an event."""
    if isinstance(event, SensorReading):
        return "sensor", event.sensor_id
    if isinstance(event, ProbeEvent):
        return "site", event.site_id
    assert isinstance(event, DossierEvent)
    return "agency", event.agency_id


def judge(
    topic: str,
    partition: int,
    records: Sequence[OracleRecord],
    *,
    partitions: int,
    grace: float,
    skew: float,
    horizon: float,
    fixed: Mapping[str, str] | None = None,
) -> PartitionVerdicts:
    """Apply the rules to one partition's records (in offset order); ``fixed``: the
    province's entity registry (entity id -> district), when one is given."""
    out = PartitionVerdicts()
    ids: dict[str, float] = {}
    registry: dict[str, str] = {}
    seen_offsets: set[int] = set()
    for record in records:
        if record.offset in seen_offsets:
            out.outcomes["redelivery"] += 1
            continue
        seen_offsets.add(record.offset)
        if record.marker_of is not None:
            stated = orjson.loads(record.value or b"")["progress"]
            progress = -math.inf if stated is None else float(stated)
            peers = out.peers
            peers[record.marker_of] = max(peers.get(record.marker_of, -math.inf), progress)
            out.realign()
            out.markers += 1
            continue
        reference = math.inf
        if record.timestamp_ms is not None and record.timestamp_ms >= 0:
            reference = record.timestamp_ms / 1000
        if record.now is not None:
            reference = min(reference, record.now)
        result = decode(
            topic,
            record.value,
            produced_at_ms=None if reference == math.inf else reference * 1000,
            future_skew_seconds=skew,
        )
        if isinstance(result, Rejection):
            out.outcomes[result.reason_kind] += 1
            continue
        district = result.district.value
        if home_partition(district, partitions) != partition:
            out.outcomes["misrouted" if record.copy else "rerouted"] += 1
            continue
        t = result.occurred_at.timestamp()
        first_seen = ids.get(result.event_id)
        if first_seen is not None and first_seen >= out.watermark - horizon:
            out.outcomes["event_id"] += 1
            continue
        entity = second_entity(result)[1]
        known = registry.get(entity) or (fixed or {}).get(entity)
        if known is not None and known != district:
            out.outcomes["entity_district"] += 1
            continue
        if (t // 60) * 60 + 60 <= (out.aligned if record.copy else out.watermark):
            out.outcomes["late"] += 1
            continue
        out.outcomes["windowed"] += 1
        ids[result.event_id] = t
        registry.setdefault(entity, district)
        out.watermark = max(out.watermark, min(t, reference) - grace)
        out.realign()
        out.admitted.append(Admitted(record.offset, t, result))
    return out


def _windows_of(t: float, hopping: bool) -> Iterable[tuple[int, int]]:
    minute = int(t // 60) * 60
    yield minute, minute + 60
    hour = int(t // 3600) * 3600
    yield hour, hour + 3600
    if hopping:
        for end in range(minute + 60, minute + 60 + 900, 60):
            yield end - 900, end


def expected_rows(
    topic: str, partition: int, admitted: Sequence[Admitted]
) -> dict[tuple[str, str, str, int, int], Row]:
    """Every KPI row of the windows of ``admitted`` events, by brute force."""
    members: dict[tuple[str, str, int, int], list[Admitted]] = defaultdict(list)
    for item in admitted:
        district = item.event.district.value
        for kind, entity_id, hopping in (
            ("district", district, True),
            (*second_entity(item.event), False),
        ):
            for start, end in _windows_of(item.time, hopping):
                members[(kind, entity_id, start, end)].append(item)
    rows: dict[tuple[str, str, str, int, int], Row] = {}
    kpis = kpis_for_topic(topic)
    for (kind, entity_id, start, end), items in members.items():
        items = sorted(items, key=lambda a: a.offset)
        offsets = [a.offset for a in items]
        for kpi in kpis:
            value, count = _brute_force(kpi, [a.event for a in items], end - start)
            if value is None:
                continue
            rows[(kpi.name, kind, entity_id, start, end)] = Row(
                kpi.name, kind, entity_id, start, end, value, count,
                items[0].event.district.value, partition,
                min(offsets), max(offsets), len(items),
            )  # fmt: skip
    return rows


def _brute_force(kpi: Any, events: list[RawEvent], seconds: int) -> tuple[float | None, int]:
    acc = kpi.acc
    state = acc.new()
    for event in events:
        observed = kpi.observe(event)
        if observed is None:
            continue
        if kpi.observe_key is None:
            acc.add(state, observed[0], observed[1])
        else:
            acc.add_keyed(state, kpi.observe_key(event), observed[0], observed[1])
    return acc.result(state, seconds), acc.count(state)


def same_value(a: float, b: float) -> bool:
    """Equal but for the order of float additions (panes merge sums in another order)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def judge_province(
    topic: str,
    records: Iterable[OracleRecord],
    *,
    partitions: int,
    grace: float,
    skew: float,
    horizon: float,
    fixed: Mapping[str, str] | None = None,
) -> tuple[dict[tuple[str, str, str, int, int, int], Row], Counter[str]]:
    """Every partition's records (any order: each is judged in offset order) by the rules:
    the expected rows by identity and partition, and the outcome counts."""
    logs: dict[int, list[OracleRecord]] = defaultdict(list)
    for record in records:
        logs[record.partition].append(record)
    rows: dict[tuple[str, str, str, int, int, int], Row] = {}
    outcomes: Counter[str] = Counter()
    for partition in range(partitions):
        mine = sorted(logs[partition], key=lambda r: r.offset)
        verdicts = judge(
            topic, partition, mine, partitions=partitions, grace=grace, skew=skew,
            horizon=horizon, fixed=fixed,
        )  # fmt: skip
        outcomes.update(verdicts.outcomes)
        for identity, row in expected_rows(topic, partition, verdicts.admitted).items():
            rows[(*identity, partition)] = row
    return rows, outcomes

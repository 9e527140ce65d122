"""Event-time windows built from 1-minute panes: pure logic shared by worker, replay and tests.

One :class:`PartitionWindows` holds the window state of one source partition of one raw
topic. Every event is folded into one pane per KPI entity (its district and its agency,
site or sensor): the pane of the minute its ``occurred_at`` falls in. Windows are derived
from panes when they close ("no pane, no gain"): tumbling 1 minute and 1 hour for every
entity, hopping 15 minutes every minute for districts.

Promises (design.md, invariants 1-3 and 5):

* Idempotent: each pane remembers the highest source offset folded into it; a redelivered
  offset changes nothing. The partition clock remembers the highest offset processed, so
  whole redelivered batches are skipped. An event id is windowed once over the
  de-duplication horizon (:mod:`streams.dedup`), before any pane sees the event.
* The key contract (:mod:`streams.routing`): a record outside its district's partition, or
  naming an entity under another district than before, reaches no pane.
* Deterministic: whether an event is admitted depends only on the records before it in the
  partition and their record times (watermark = max of min(event time, reference time) -
  grace, where the reference time is the record time, capped by the worker's wall clock), so
  a pane's content does not depend on batch boundaries, crashes or restarts, and one event
  dated in the future cannot make the present late.
* Closing: a window is emitted once the watermark passes its end; ``closed_until`` records
  the emitted boundary. Callers must make the emitted rows and ``closed_until`` durable
  before they delete panes (see :meth:`PartitionWindows.close`).

Speed: an event's observations are computed once and folded into both of its panes; a
closing keeps one value list per entity and window (:mod:`streams.window_close`), not one
object per row; the changed panes of a batch are stored as one segment
(:mod:`streams.window_state`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Final

from schemas.events import RawEvent
from schemas.kpi import EntityKind
from schemas.places import District
from streams.accumulators import State
from streams.catalog import (
    KpiDef,
    KpiPlan,
    entities_of,
    fold,
    kpis_for_topic,
)
from streams.dedup import DEFAULT_HORIZON_SECONDS
from streams.progress import marker_minute
from streams.routing import district_partition, entity_reason, misrouted_reason
from streams.window_close import (
    HOPPING_ENTITY_KINDS,
    Closing,
    WindowFilter,
    close_windows,
    every_window,
    kpi_packs,
    rows_of,
)
from streams.window_rows import HOP_SECONDS, HOUR_SECONDS, PANE_SECONDS, WINDOW_KINDS, KpiRow
from streams.window_state import PartitionState
from streams.window_store import EntityKey, Pane, PaneKey

__all__ = [
    "HOPPING_ENTITY_KINDS",
    "HOP_SECONDS",
    "HOUR_SECONDS",
    "PANE_SECONDS",
    "REFUSED",
    "WINDOW_KINDS",
    "Closing",
    "EntityKey",
    "KpiRow",
    "Outcome",
    "PaneKey",
    "PartitionState",
    "PartitionWindows",
    "WindowFilter",
    "kpi_packs",
    "rows_of",
]


class Outcome(Enum):
    """What became of one valid event (``REROUTED``: a misplaced record copied to its
    district's partition, decided by the pipeline; :meth:`PartitionWindows.admit` says
    ``MISROUTED``)."""

    WINDOWED = "windowed"
    LATE = "late"
    REDELIVERY = "redelivery"
    DUPLICATE_ID = "event_id"
    MISROUTED = "misrouted"
    REROUTED = "rerouted"
    ENTITY_DISTRICT = "entity_district"
    UNCLAIMED = "unclaimed"
    """An entity no registry or claim names yet while claims are required: nothing
    changed, the caller claims it (:mod:`streams.routing`) and applies the event again."""


REFUSED: Final = frozenset({Outcome.MISROUTED, Outcome.ENTITY_DISTRICT})
"""Outcomes of valid events that break the key contract: they are dead-lettered."""


_DISTRICT: Final = EntityKind.DISTRICT
_WINDOWED: Final = Outcome.WINDOWED
"""The common outcome as a module constant (ten times cheaper to read than the member)."""
_DISTRICT_IDS: Final[dict[District, str]] = {d: d.value for d in District}


class PartitionWindows(PartitionState):
    """The windows of one partition of one raw topic: admitting and folding events,
    closing windows. Its state, loading and persistence: :class:`PartitionState`."""

    def __init__(
        self,
        topic: str,
        partition: int,
        grace_seconds: float,
        partitions: int | None = None,
        dedup_horizon_seconds: float = DEFAULT_HORIZON_SECONDS,
        wanted: WindowFilter | None = None,
        fixed_districts: Mapping[str, str] | None = None,
        claims_required: bool = False,
    ) -> None:
        super().__init__(partition, dedup_horizon_seconds)
        self.topic = topic
        self.fixed_districts = fixed_districts
        """The province's entity registry (entity id -> district), consulted for entities
        this partition has not windowed yet; None: first sightings alone decide."""
        self.claims_required = claims_required
        """True: an entity that neither this partition nor ``fixed_districts`` knows is
        not windowed before it is claimed (:data:`Outcome.UNCLAIMED`)."""
        self.wanted = wanted
        """Which closed windows to build rows for (replay narrows them); None: every one."""
        self.grace = grace_seconds
        self.partitions = partitions
        """The topic's partition count, for the key contract; None checks no routing."""
        self._plan = KpiPlan(kpis_for_topic(topic))
        self._peers_floor = math.inf
        """The smallest progress the peers announced (+inf: none spoke)."""
        self._told: dict[int, int] = {}
        """The minute of the last marker to each peer since this partition was loaded."""
        self._home = (
            {d.value: district_partition(d.value, partitions) == partition for d in District}
            if partitions
            else None
        )

    @property
    def kpis(self) -> tuple[KpiDef, ...]:
        """The KPIs computed (replay narrows them to those it was asked for)."""
        return self._plan.kpis

    @kpis.setter
    def kpis(self, kpis: tuple[KpiDef, ...]) -> None:
        self._plan = KpiPlan(kpis)

    def load(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Rebuild from state-table items of this partition (see :class:`PartitionState`)."""
        super().load(items)
        self._peers_floor = min(self.clock.peers.values(), default=math.inf)

    # -- applying events ----------------------------------------------------------------
    def apply(
        self, offset: int, event: RawEvent, reference: float = math.inf, copy: bool = False
    ) -> Outcome:
        """Fold one validated event at source ``offset`` into its panes; say what happened.

        ``reference`` is the record's reference time (its timestamp, capped by the worker's
        wall clock): the event moves the watermark by at most that time. ``copy``: the
        record is a re-routed copy (see :meth:`admit`).
        """
        entities = entities_of(event)
        outcome = self.admit(offset, event, reference, entities, copy)
        if outcome is _WINDOWED:
            return self.fold(offset, event, entities)
        return outcome

    def admit(
        self,
        offset: int,
        event: RawEvent,
        reference: float = math.inf,
        entities: tuple[EntityKey, ...] | None = None,
        copy: bool = False,
    ) -> Outcome:
        """Decide what becomes of an event and move the clock, without touching a pane:
        redelivery, misrouted, duplicate id, unclaimed entity (nothing changes), entity
        under another district, late, or windowed (then its id is remembered and the
        watermark moves). ``entities``: those of ``event`` (``entities_of``), when the
        caller has them already.

        Lateness: an event of the partition's own records is late once its minute ends at
        or before the partition's watermark, which depends on its own records alone; a
        re-routed ``copy`` (appended after its original, and after whatever the partition
        held then) only once its minute ends at or before the aligned watermark, which
        the peers' progress markers hold back (:mod:`streams.progress`)."""
        clock = self.clock
        processed = clock.processed_offset
        if offset <= processed:
            return Outcome.REDELIVERY
        clock.processed_offset = offset
        self.clock_dirty = True
        district = _DISTRICT_IDS[event.district]
        if self._home is not None and not self._home[district]:
            t = event.occurred_at.timestamp()
            moved = (t if t < reference else reference) - self.grace
            if moved > clock.progress:
                clock.progress = moved
            return Outcome.MISROUTED
        event_id = event.event_id
        ids = self.ids
        first_seen = ids.seen.get(event_id)  # the rule of EventIdIndex.seen
        if first_seen is not None and first_seen >= clock.watermark - ids.horizon:
            return Outcome.DUPLICATE_ID
        entity_id = (entities or entities_of(event))[1][1]
        known = self.registry.districts.get(entity_id)
        new_entity = known is None
        if new_entity and self.fixed_districts is not None:
            known = self.fixed_districts.get(entity_id)
            if known is None and self.claims_required:
                clock.processed_offset = processed
                return Outcome.UNCLAIMED
        if known is not None and known != district:
            return Outcome.ENTITY_DISTRICT
        t = event.occurred_at.timestamp()
        pane_end = int(t // PANE_SECONDS) * PANE_SECONDS + PANE_SECONDS
        if pane_end <= (clock.aligned if copy else clock.watermark) or (
            clock.closed_until is not None and pane_end <= clock.closed_until
        ):
            return Outcome.LATE
        ids.add(event_id, t, offset)
        if new_entity:
            self.registry.register(entity_id, district)
        if clock.max_event_time is None or t > clock.max_event_time:
            clock.max_event_time = t
        progress = (t if t < reference else reference) - self.grace
        if progress > clock.watermark:
            clock.watermark = progress
            self._realign()
        return _WINDOWED

    def refusal(self, outcome: Outcome, event: RawEvent) -> str:
        """Why an event with a :data:`REFUSED` outcome was dead-lettered."""
        district = _DISTRICT_IDS[event.district]
        if outcome is Outcome.MISROUTED:
            return misrouted_reason(district, self.partition, self.partitions or 1)
        kind, entity_id = entities_of(event)[1]
        known = self.registry.conflict(entity_id, district)
        if known is None and self.fixed_districts is not None:
            known = self.fixed_districts.get(entity_id)
        return entity_reason(kind, entity_id, district, known or "?")

    def fold(
        self, offset: int, event: RawEvent, entities: tuple[EntityKey, ...] | None = None
    ) -> Outcome:
        """Fold an admitted event into the pane of its minute of each of its entities;
        REDELIVERY when the district's pane already holds this offset (a batch read again
        after a crash between the pane writes and the clock write)."""
        t = event.occurred_at.timestamp()
        pane_start = int(t // PANE_SECONDS) * PANE_SECONDS
        outcome = _WINDOWED
        entities = entities or entities_of(event)
        district = entities[0][1]
        panes = self.panes
        dirty = self.dirty
        targets: list[dict[str, State]] = []
        for entity in entities:
            entity_panes = panes.get(entity)
            if entity_panes is None:
                entity_panes = panes[entity] = {}
            pane = entity_panes.get(pane_start)
            if pane is None:
                pane = entity_panes[pane_start] = Pane(district, offset, -1)
            elif pane.last >= offset:
                if entity[0] == _DISTRICT:
                    outcome = Outcome.REDELIVERY
                continue
            targets.append(pane.kpis)
            if offset < pane.first:
                pane.first = offset
            pane.last = offset
            pane.n += 1
            dirty[(entity[0], entity[1], pane_start)] = pane
        if targets:
            fold(targets, self._plan.observe(event))
        return outcome

    def advance_idle(self, now: float) -> None:
        """Advance the watermark of an idle partition to wall-clock ``now`` minus grace."""
        if now - self.grace > self.clock.watermark:
            self.clock.watermark = now - self.grace
            self.clock_dirty = True
            self._realign()

    def advance_to_end(self, now: float) -> None:
        """The end of a replay: the watermark and the aligned one advance to ``now`` minus
        grace, whatever the peers announced (a window closed only here is reported open)."""
        self.advance_idle(now)
        if now - self.grace > self.clock.aligned:
            self.clock.aligned = now - self.grace

    # -- progress markers (streams.progress) --------------------------------------------
    def hear(self, peer: int, progress: float) -> None:
        """Take a peer's progress marker: it holds this partition's windows back from now
        on (never by less than before), and the aligned watermark follows."""
        peers = self.clock.peers
        if peer not in peers or progress > peers[peer]:
            peers[peer] = progress
            self._peers_floor = min(peers.values())
            self._realign()
        self.clock_dirty = True

    def statements(self, caught_up: bool) -> list[tuple[int, int]]:
        """(peer, minute) of the progress markers due: where what this partition tells a
        peer entered a new minute since it last told it (or it told it nothing since it
        was loaded).

        It tells each peer its progress (the larger of its watermark and the progress of
        the events it re-routed). When ``caught_up`` (nothing is left to read in it), it
        holds that peer back no further than the peer's own statement: any copy it makes
        from now on is of a record appended later, as if the producer had keyed it right.
        A partition with no progress yet tells nothing, and holds nothing back."""
        clock = self.clock
        own = max(clock.progress, clock.watermark)
        due: list[tuple[int, int]] = []
        for peer in range(self.partitions or 1):
            if peer == self.partition:
                continue
            stated = max(own, clock.peers.get(peer, -math.inf)) if caught_up else own
            minute = marker_minute(stated)
            told = self._told.get(peer)
            if minute is not None and (told is None or minute > told):
                self._told[peer] = minute
                due.append((peer, minute))
        return due

    def _realign(self) -> None:
        clock = self.clock
        bound = min(clock.watermark, self._peers_floor)
        if bound > clock.aligned:
            clock.aligned = bound

    @property
    def held_back(self) -> float:
        """Seconds by which peers hold this partition's windows back (0: none)."""
        clock = self.clock
        if clock.watermark == -math.inf:
            return 0.0
        return clock.watermark - clock.aligned if clock.aligned > -math.inf else math.inf

    # -- closing windows ----------------------------------------------------------------
    def close(self) -> Closing | None:
        """Every window whose end the watermark passed since the last close.

        The caller emits ``windows``, makes them durable, then stores the clock (whose
        ``closed_until`` this call advanced) and only then retires the ``retired`` panes.
        Returns None when no window boundary was passed.
        """
        if self.clock.aligned == -math.inf:
            return None
        boundary = int(self.clock.aligned // PANE_SECONDS) * PANE_SECONDS
        previous = self.clock.closed_until
        if previous is not None and boundary <= previous:
            return None
        closed = close_windows(
            self.panes, self._plan, previous, boundary, self.wanted or every_window
        )
        self.clock.closed_until = boundary
        self.clock_dirty = True
        self.ids.expire(self.clock.watermark)
        return Closing(
            self.topic, self.partition, closed.windows, closed.counts, closed.retired, boundary
        )

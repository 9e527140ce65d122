"""Public-service dossiers: submissions, acceptance, completion (on time or late).

Counters take dossiers in office hours; the online portal also in the evening and at
weekends. Each dossier is accepted (or returned) within working hours, then completed
within its legal time with the agency's on-time share, else late; a few are cancelled.
Dossiers received before the simulated start are seeded so completions flow from the
first minute. The portal-backlog scenario raises submissions in its district and makes
over half of the completions there overdue.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from typing import Final

import orjson

from schemas.events import Channel, DossierStatus
from schemas.topics import partition_key
from simulator.province import Agency, Province
from simulator.reference import PROFILES, Procedure
from simulator.rhythms import (
    LOCAL_OFFSET_MS,
    WORKDAY_MS,
    add_working,
    from_working_ms,
    office_factor,
    online_factor,
    working_ms,
)
from simulator.scenarios import Scenario, ScenarioKind, find
from simulator.timefmt import DAY_MS, MINUTE_MS, iso

Batch = list[tuple[int, int, bytes, bytes]]

OFFICE_MINUTES_PER_DAY: Final = 510.0
RETURNED_SHARE: Final = 0.04
CANCELLED_SHARE: Final = 0.015
BACKLOG_LATE_SHARE: Final = 0.55
BACKLOG_SURGE: Final = 1.6
_SUBMITTED, _ACCEPTED, _RETURNED, _COMPLETED, _CANCELLED = range(5)
_STATUS: Final = (
    DossierStatus.SUBMITTED.value,
    DossierStatus.ACCEPTED.value,
    DossierStatus.RETURNED.value,
    DossierStatus.COMPLETED.value,
    DossierStatus.CANCELLED.value,
)
_RATINGS: Final = (5, 4, 3, 2, 1)
_RATING_WEIGHTS_ON_TIME: Final = (0.62, 0.26, 0.07, 0.03, 0.02)
_RATING_WEIGHTS_LATE: Final = (0.2, 0.3, 0.25, 0.15, 0.1)


@dataclass(slots=True)
class Dossier:
    """One dossier's fixed facts (the lifecycle lives in the scheduler)."""

    dossier_id: str
    agency: Agency
    procedure: Procedure
    channel: Channel
    received_ms: int
    due_ms: int
    paid_online: bool
    components_total: int
    components_reused: int


def _poisson(rnd: random.Random, mean: float) -> int:
    if mean <= 0.0:
        return 0
    limit = math.exp(-mean)
    count, product = 0, rnd.random()
    while product > limit:
        count += 1
        product *= rnd.random()
    return count


class PortalSource:
    """Generates dossier status events for every agency of the province."""

    def __init__(
        self,
        province: Province,
        seed: int,
        source_index: int,
        scenarios: tuple[Scenario, ...],
        start_ms: int,
    ) -> None:
        self._rng = random.Random(f"{seed}:portal")
        self._index = source_index
        self._agencies = province.agencies
        self._backlogs = find(scenarios, ScenarioKind.PORTAL_BACKLOG)
        self._queue: list[tuple[int, int, int, Dossier]] = []
        self._sequence = 0
        self._dossiers = 0
        self._days: dict[int, str] = {}
        self._seed_history(start_ms)

    def _new_dossier(self, agency: Agency, received_ms: int, online: bool) -> Dossier:
        rng = self._rng
        procedure = rng.choice(agency.procedures)
        postal = not online and rng.random() < 0.03
        channel = Channel.ONLINE if online else Channel.POSTAL if postal else Channel.COUNTER
        low, high = procedure.components
        total = rng.randint(low, high)
        reused = sum(1 for _ in range(total) if rng.random() < (0.4 if online else 0.12))
        paid = procedure.fee and rng.random() < (0.8 if online else 0.22)
        self._dossiers += 1
        local_day = (received_ms + LOCAL_OFFSET_MS) // DAY_MS
        day = self._days.get(local_day)
        if day is None:
            day = self._days[local_day] = iso(local_day * DAY_MS)[2:10].replace("-", "")
        return Dossier(
            dossier_id=f"{agency.agency_id}-{day}-{self._dossiers:06d}",
            agency=agency,
            procedure=procedure,
            channel=channel,
            received_ms=received_ms,
            due_ms=add_working(received_ms, int(procedure.legal_days * WORKDAY_MS)),
            paid_online=paid,
            components_total=total,
            components_reused=reused,
        )

    def _schedule(self, at_ms: int, status: int, dossier: Dossier, not_before: int) -> None:
        if at_ms >= not_before:
            self._sequence += 1
            heapq.heappush(self._queue, (at_ms, self._sequence, status, dossier))

    def _plan(self, dossier: Dossier, not_before: int) -> None:
        """Schedule a dossier's whole lifecycle (events before ``not_before`` are dropped)."""
        rng = self._rng
        received = dossier.received_ms
        self._schedule(received, _SUBMITTED, dossier, not_before)
        if dossier.channel is Channel.COUNTER:
            accepted = received + int(MINUTE_MS * rng.uniform(2, 15))
        else:
            accepted = add_working(received, int(WORKDAY_MS * rng.uniform(0.02, 0.4)))
        draw = rng.random()
        if draw < RETURNED_SHARE:
            self._schedule(accepted, _RETURNED, dossier, not_before)
            return
        self._schedule(accepted, _ACCEPTED, dossier, not_before)
        legal = int(dossier.procedure.legal_days * WORKDAY_MS)
        if rng.random() < dossier.agency.on_time_share:
            procedure_ms = int(legal * rng.uniform(0.2, 0.95))
        else:
            procedure_ms = int(legal * rng.uniform(1.05, 1.9)) + int(WORKDAY_MS * rng.random())
        done = max(add_working(received, procedure_ms), accepted + 5 * MINUTE_MS)
        if draw < RETURNED_SHARE + CANCELLED_SHARE:
            start, stop = working_ms(accepted), working_ms(done)
            cancelled = from_working_ms(start + int((stop - start) * rng.random()) + MINUTE_MS)
            self._schedule(cancelled, _CANCELLED, dossier, not_before)
            return
        self._schedule(done, _COMPLETED, dossier, not_before)

    def _seed_history(self, start_ms: int) -> None:
        """Dossiers received before ``start_ms`` whose later events fall after it."""
        rng = self._rng
        start_work = working_ms(start_ms)
        for agency in self._agencies:
            share = agency.daily_dossiers / len(agency.procedures)
            for procedure in agency.procedures:
                window_days = max(1.0, procedure.legal_days * 2.0)
                for _ in range(_poisson(rng, share * window_days)):
                    work = start_work - int(window_days * WORKDAY_MS * rng.random())
                    received = from_working_ms(work)
                    dossier = self._new_dossier(agency, received, rng.random() < 0.7)
                    self._plan(dossier, start_ms)

    def _surge(self, agency: Agency, ms: int) -> float:
        for scenario in self._backlogs:
            if scenario.district is agency.district and scenario.active(ms):
                return BACKLOG_SURGE
        return 1.0

    def tick(self, minute_ms: int, out: Batch) -> None:
        """Append this minute's dossier events to ``out`` as (occurred_ms, source, key, value)."""
        rng = self._rng
        counter_open = office_factor(minute_ms)
        online_open = online_factor(minute_ms)
        for agency in self._agencies:
            per_minute = (
                agency.daily_dossiers / OFFICE_MINUTES_PER_DAY * self._surge(agency, minute_ms)
            )
            online_share = PROFILES[agency.district].online_share
            online = _poisson(rng, per_minute * online_share * online_open)
            counter = _poisson(rng, per_minute * (1 - online_share) * counter_open)
            for is_online in (True,) * online + (False,) * counter:
                received = minute_ms + rng.randrange(MINUTE_MS)
                self._plan(self._new_dossier(agency, received, is_online), received)
        end = minute_ms + MINUTE_MS
        queue = self._queue
        while queue and queue[0][0] < end:
            at, _, status, dossier = heapq.heappop(queue)
            out.append(
                (
                    at,
                    self._index,
                    partition_key(dossier.agency.district.value),
                    self._event(at, status, dossier),
                )
            )

    def _event(self, at: int, status: int, dossier: Dossier) -> bytes:
        rng = self._rng
        received, due = dossier.received_ms, dossier.due_ms
        rating: int | None = None
        if status == _COMPLETED:
            if self._surge(dossier.agency, at) > 1.0 and rng.random() < BACKLOG_LATE_SHARE:
                overdue = int(WORKDAY_MS * rng.uniform(0.3, 6.0))
                due = min(due, from_working_ms(working_ms(at) - overdue))
                legal = int(dossier.procedure.legal_days * WORKDAY_MS)
                received = min(received, from_working_ms(working_ms(due) - legal))
            chance = 0.45 if dossier.channel is Channel.ONLINE else 0.25
            if rng.random() < chance:
                weights = _RATING_WEIGHTS_ON_TIME if at <= due else _RATING_WEIGHTS_LATE
                rating = rng.choices(_RATINGS, weights)[0]
        agency = dossier.agency
        channel = dossier.channel.value
        event = {
            "event_id": f"{dossier.dossier_id}:{_STATUS[status]}",
            "source": "dvc-haugiang" if channel == "online" else "motcua-haugiang",
            "occurred_at": iso(at),
            "schema_version": 1,
            "district": agency.district.value,
            "dossier_id": dossier.dossier_id,
            "procedure_code": dossier.procedure.code,
            "agency_id": agency.agency_id,
            "level": agency.level.value,
            "channel": channel,
            "status": _STATUS[status],
            "received_at": iso(received),
            "due_at": iso(due),
            "paid_online": dossier.paid_online,
            "components_total": dossier.components_total,
            "components_reused": dossier.components_reused,
            "rating": rating,
        }
        return orjson.dumps(event)

    @property
    def pending(self) -> int:
        """Scheduled events not yet emitted."""
        return len(self._queue)


def daily_dossiers(province: Province) -> float:
    """Expected dossiers per working day, province-wide."""
    return sum(agency.daily_dossiers for agency in province.agencies)

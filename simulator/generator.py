"""The pure event generator: a deterministic iterator of messages for a simulated period.

Time advances a simulated minute at a time. Each minute every sensor reads and every site
is probed (at its own fixed second of the minute) and the portal's dossiers move on; the
events of a minute are emitted in event-time order, then faults are injected. Same
``SimConfig`` (seed included), same messages, byte for byte. No I/O, no wall clock.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from schemas.decode import ReasonKind
from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC
from simulator import faults
from simulator.farm import FarmSource
from simulator.faults import FaultKind, FaultRates
from simulator.network import NetworkSource
from simulator.portal import PortalSource, daily_dossiers
from simulator.province import Province, build_province
from simulator.scenarios import Scenario
from simulator.timefmt import MINUTE_MS

SOURCES: Final = ("portal", "network", "farm")
LATE_DELAY_MS: Final = (3 * MINUTE_MS, 30 * MINUTE_MS)
OUT_OF_ORDER_DELAY_MS: Final = (1_000, 12_000)
DUPLICATE_DELAY_MS: Final = (0, 5_000)


class Message(NamedTuple):
    """One message to produce, with what the simulator knows about it.

    ``fault`` is the injected fault (None for a clean event); ``expect`` the
    ``reason_kind`` the decoder must reject it with (None: it decodes); ``occurred_ms``
    the event time of a decodable event; ``sim_ms`` the simulated clock when sent.
    """

    topic: str
    key: bytes
    value: bytes | None
    fault: FaultKind | None
    expect: ReasonKind | None
    occurred_ms: int | None
    sim_ms: int


@dataclass(frozen=True)
class Topics:
    """Topic names of the three sources."""

    portal: str = PORTAL_TOPIC
    network: str = NETWORK_TOPIC
    farm: str = FARM_TOPIC

    def name(self, source: str) -> str:
        """The topic of ``source`` (portal, network or farm)."""
        return str(getattr(self, source))

    @classmethod
    def parse(cls, spec: str | None, prefix: str = "") -> Topics:
        """From ``portal=a,network=b,farm=c`` (missing ones: ``prefix`` + default name)."""
        names = {source: prefix + cls().name(source) for source in SOURCES}
        for part in filter(None, (spec or "").split(",")):
            source, sep, topic = part.partition("=")
            source = source.strip()
            if not sep or source not in SOURCES or not topic.strip():
                raise ValueError(f"bad topic override {part!r}: use portal=NAME,network=..,farm=..")
            names[source] = topic.strip()
        return cls(**names)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate: ``[start_ms, end_ms)`` of simulated time (open-ended if None)."""

    start_ms: int
    end_ms: int | None = None
    seed: int = 1
    topics: Topics = field(default_factory=Topics)
    sources: tuple[str, ...] = SOURCES
    scenarios: tuple[Scenario, ...] = ()
    faults: FaultRates = field(default_factory=FaultRates)
    sent_from_ms: int | None = None
    """Wall clock when sending starts (to Kafka: the least record timestamp), if known;
    future faults are dated ahead of it too, so that a past period's are refused."""

    def __post_init__(self) -> None:
        unknown = set(self.sources) - set(SOURCES)
        if unknown or not self.sources:
            raise ValueError(f"sources must be among {', '.join(SOURCES)}, got {self.sources}")
        if self.end_ms is not None and self.end_ms <= self.start_ms:
            raise ValueError("the simulated end must be after the start")


def events_per_minute(province: Province, sources: tuple[str, ...] = SOURCES) -> float:
    """Expected clean events per simulated minute, averaged over a week."""
    rate = 0.0
    if "network" in sources:
        rate += len(province.sites)
    if "farm" in sources:
        rate += len(province.sensors)
    if "portal" in sources:
        rate += daily_dossiers(province) * 5 / 7 * 2.95 / (24 * 60)
    return rate


class _Injector:
    """Turns clean events into messages, injecting faults and holding delayed ones."""

    def __init__(self, config: SimConfig, topics: list[str], sources: list[str]) -> None:
        self.rng = random.Random(f"{config.seed}:faults")
        self.rates = config.faults
        self.topics = topics
        self.sources = sources
        self.held: list[tuple[int, int, Message]] = []
        self.sequence = 0
        self.not_before_ms = max(config.end_ms or 0, config.sent_from_ms or 0)
        rates = config.faults
        self.cuts = (
            rates.malformed,
            rates.malformed + rates.invalid,
            rates.malformed + rates.invalid + rates.future,
            rates.malformed + rates.invalid + rates.future + rates.late,
            rates.replacing,
        )

    def hold(self, release_ms: int, message: Message) -> None:
        self.sequence += 1
        heapq.heappush(self.held, (release_ms, self.sequence, message._replace(sim_ms=release_ms)))

    def inject(self, at: int, index: int, key: bytes, value: bytes) -> Message | None:
        """The message to send now for a clean event, or None when it is held back."""
        rng = self.rng
        topic = self.topics[index]
        draw = rng.random()
        malformed_cut, invalid_cut, future_cut, late_cut, ooo_cut = self.cuts
        if draw < ooo_cut:
            if draw < malformed_cut:
                bad, expect = faults.malformed(value, rng)
                return Message(topic, key, bad, "malformed", expect, None, at)
            if draw < invalid_cut:
                bad_value, expect = faults.invalid(self.sources[index], value, rng)
                return Message(topic, key, bad_value, "invalid", expect, None, at)
            if draw < future_cut:
                ahead_of = max(at, self.not_before_ms)
                bad_value, expect = faults.future(value, ahead_of, rng)
                return Message(topic, key, bad_value, "future", expect, None, at)
            low, high = LATE_DELAY_MS if draw < late_cut else OUT_OF_ORDER_DELAY_MS
            kind: FaultKind = "late" if draw < late_cut else "out_of_order"
            self.hold(at + rng.randint(low, high), Message(topic, key, value, kind, None, at, at))
            return None
        message = Message(topic, key, value, None, None, at, at)
        if self.rates.duplicates and rng.random() < self.rates.duplicates:
            low, high = DUPLICATE_DELAY_MS
            self.hold(at + rng.randint(low, high), message._replace(fault="duplicate"))
        return message


def generate(config: SimConfig, province: Province | None = None) -> Iterator[Message]:
    """Messages of the simulated period, in the order to send them."""
    province = province or build_province(config.seed)
    start = config.start_ms
    end = config.end_ms
    sources: list[PortalSource | NetworkSource | FarmSource] = []
    names: list[str] = []
    for name in config.sources:
        index = len(sources)
        names.append(name)
        if name == "portal":
            sources.append(PortalSource(province, config.seed, index, config.scenarios, start))
        elif name == "network":
            sources.append(NetworkSource(province, config.seed, index, config.scenarios))
        else:
            sources.append(FarmSource(province, config.seed, index, config.scenarios))
    topics = [config.topics.name(name) for name in names]
    injector = _Injector(config, topics, names)
    held = injector.held
    inject = injector.inject if config.faults.any else None
    minute_ms = start - start % MINUTE_MS
    while end is None or minute_ms < end:
        batch: list[tuple[int, int, bytes, bytes]] = []
        for source in sources:
            source.tick(minute_ms, batch)
        batch.sort(key=_event_time)
        for at, index, key, value in batch:
            if at < start or (end is not None and at >= end):
                continue
            while held and held[0][0] <= at:
                yield heapq.heappop(held)[2]
            if inject is None:
                yield Message(topics[index], key, value, None, None, at, at)
            else:
                message = inject(at, index, key, value)
                if message is not None:
                    yield message
        minute_ms += MINUTE_MS
    while held and (end is None or held[0][0] < end):
        yield heapq.heappop(held)[2]


def _event_time(item: tuple[int, int, bytes, bytes]) -> int:
    return item[0]

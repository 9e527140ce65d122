"""Which KPI rows a replay compares: time range, topics, KPIs, entities and window kinds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.kpi import EntityKind
from schemas.topics import RAW_TOPICS
from streams.catalog import CATALOG, kpis_for_topic
from streams.window_rows import WINDOW_KINDS, KpiRow

SHORT_TOPICS: dict[str, str] = {topic.split(".")[1]: topic for topic in RAW_TOPICS}
"""``portal`` -> ``city.portal.dossier.v1`` and so on."""

ALL_WINDOWS: tuple[str, ...] = tuple(WINDOW_KINDS.values())


@dataclass(frozen=True)
class Selection:
    """Rows whose window lies inside ``[start, end)`` (epoch seconds) and match the filters.

    ``kpis``, ``entities`` ((kind, id) pairs) and ``windows`` ('1m', '15m', '1h') are None
    or empty when not filtered.
    """

    start: float
    end: float
    topics: tuple[str, ...] = RAW_TOPICS
    kpis: frozenset[str] = frozenset()
    entities: frozenset[tuple[str, str]] = frozenset()
    windows: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("the end of the range must be after its start")

    def in_range(self, window_start: float, window_end: float) -> bool:
        """True when the window lies inside the range."""
        return window_start >= self.start and window_end <= self.end

    def keeps(self, row: KpiRow) -> bool:
        """True when ``row`` takes part in the comparison."""
        return (
            row.window_start.timestamp() >= self.start
            and row.window_end.timestamp() <= self.end
            and (not self.kpis or row.kpi in self.kpis)
            and (not self.entities or (row.entity_kind, row.entity_id) in self.entities)
            and (not self.windows or row.window_kind in self.windows)
        )

    def kpi_names(self) -> list[str]:
        """Names of the compared KPIs (those of the selected topics, filtered)."""
        names = [k.name for topic in self.topics for k in kpis_for_topic(topic)]
        return [n for n in names if not self.kpis or n in self.kpis]

    def window_kinds(self) -> list[str]:
        """The compared window kinds."""
        return [w for w in ALL_WINDOWS if not self.windows or w in self.windows]


def _split(values: Iterable[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_topics(values: Sequence[str]) -> tuple[str, ...]:
    """Raw topic names from full names or ``portal``/``network``/``farm``; ValueError otherwise."""
    topics: list[str] = []
    for name in _split(values):
        topic = SHORT_TOPICS.get(name, name)
        if topic not in RAW_TOPICS:
            known = ", ".join([*SHORT_TOPICS, *RAW_TOPICS])
            raise ValueError(f"unknown raw topic {name!r}; known: {known}")
        if topic not in topics:
            topics.append(topic)
    return tuple(topics)


def parse_kpis(values: Sequence[str]) -> frozenset[str]:
    """KPI names, checked against the catalog."""
    known = {k.name for k in CATALOG}
    names = _split(values)
    for name in names:
        if name not in known:
            raise ValueError(f"unknown KPI {name!r}; known: {', '.join(sorted(known))}")
    return frozenset(names)


def parse_entities(values: Sequence[str]) -> frozenset[tuple[str, str]]:
    """``KIND:ID`` pairs (kind among district, agency, site, sensor)."""
    kinds = {k.value for k in EntityKind}
    out: set[tuple[str, str]] = set()
    for value in _split(values):
        kind, sep, entity_id = value.partition(":")
        if not sep or kind not in kinds or not entity_id:
            raise ValueError(
                f"bad entity {value!r}: use KIND:ID with KIND among {', '.join(sorted(kinds))} "
                "(e.g. district:vi-thanh)"
            )
        out.add((kind, entity_id))
    return frozenset(out)


def parse_windows(values: Sequence[str]) -> frozenset[str]:
    """Window kinds among 1m, 15m, 1h."""
    names = _split(values)
    for name in names:
        if name not in ALL_WINDOWS:
            raise ValueError(f"unknown window {name!r}; use {', '.join(ALL_WINDOWS)}")
    return frozenset(names)


def topics_for_kpis(kpis: frozenset[str]) -> tuple[str, ...]:
    """The raw topics that feed ``kpis`` (all raw topics when empty)."""
    if not kpis:
        return RAW_TOPICS
    return tuple(t for t in RAW_TOPICS if any(k.name in kpis for k in kpis_for_topic(t)))

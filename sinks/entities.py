"""Table ``entity``: each entity the sink writes KPI rows for, with its district and position.

An entity is inserted on its first KPI row (position from ``schemas.geo``) and never
updated. The sink remembers which it has stored, so a batch of known entities costs
nothing; after a restart the first batch per entity meets ``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import psycopg

from schemas.geo import position
from schemas.places import District
from streams.window_rows import KpiRow

INSERT: Final = (
    b"INSERT INTO entity (entity_kind, entity_id, district, longitude, latitude) "
    b"VALUES (%s, %s, %s, %s, %s) ON CONFLICT (entity_kind, entity_id) DO NOTHING"
)

KNOWN_DISTRICTS: Final = frozenset(d.value for d in District)
EntityKey = tuple[str, str, str]
"""(entity_kind, entity_id, district)."""


class EntityRegister:
    """Inserts the entities of KPI rows that this process has not stored yet."""

    def __init__(self) -> None:
        self.stored: set[tuple[str, str]] = set()

    def new_entities(self, rows: Iterable[KpiRow]) -> list[EntityKey]:
        """Entities of ``rows`` not stored yet, in a known district (first one seen wins)."""
        found: dict[tuple[str, str], str] = {}
        for row in rows:
            key = (row.entity_kind, row.entity_id)
            if key not in self.stored and key not in found:
                found[key] = row.district
        return [
            (kind, entity_id, district)
            for (kind, entity_id), district in found.items()
            if district in KNOWN_DISTRICTS
        ]

    async def store(self, conn: psycopg.AsyncConnection[Any], rows: Iterable[KpiRow]) -> int:
        """Insert the new entities of ``rows`` in one transaction; how many were new here."""
        new = self.new_entities(rows)
        if not new:
            return 0
        values = [(*key, *position(*key)) for key in new]
        async with conn.transaction(), conn.cursor() as cur:
            await cur.executemany(INSERT, values)
        self.stored.update((kind, entity_id) for kind, entity_id, _ in new)
        return len(new)

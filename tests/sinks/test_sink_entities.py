"""The sink records each entity once, in its district, at the position schemas.geo gives it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sink_support import kpi_row

from schemas.geo import OUTLINES, contains, position
from schemas.kpi import EntityKind
from schemas.places import District
from sinks.migrate import migrate
from sinks.stages import KpiStage

pytestmark = pytest.mark.integration


async def _entities(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
    cur = await conn.execute(
        "SELECT entity_kind, entity_id, district, longitude, latitude FROM entity ORDER BY 1, 2"
    )
    return list(await cur.fetchall())


async def test_kpi_rows_register_their_entities_once(new_database: Callable[..., str]) -> None:
    url = new_database("sink_entities")
    migrate(url)
    made = [kpi_row(i) for i in range(120)]  # 50 sensors of Vi Thanh, several windows each
    made.append(kpi_row(500, entity_kind=EntityKind.DISTRICT.value, entity_id="nga-bay",
                        district="nga-bay"))  # fmt: skip
    made.append(kpi_row(501, entity_id="ghost", district="atlantis"))
    rows = made
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        stage = KpiStage()
        await stage.write(conn, rows)
        first = await _entities(conn)
        assert await stage.entities.store(conn, rows) == 0
        await KpiStage().write(conn, rows)  # a restarted sink meets ON CONFLICT DO NOTHING
        assert await _entities(conn) == first
    assert len(first) == 51, "50 sensors and a district; the unknown district has no place"
    for kind, entity_id, district, lon, lat in first:
        assert (lon, lat) == position(kind, entity_id, district)
        assert contains(OUTLINES[District(district)], lon, lat)

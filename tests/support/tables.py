"""KPI tables for comparisons: identity -> values, from a KPI topic or from TimescaleDB."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import psycopg

from schemas.topics import KPI_TOPIC
from tests.support.kafka import read_topic

Identity = tuple[Any, ...]


def kpi_table_from_topic(records: list[Any]) -> dict[Identity, tuple[float, int]]:
    """What an upserting sink would hold: identity -> (value, count), the last record wins.

    Records are packs of KpiWindow objects (as the workers send them) or older single-row
    objects."""
    table: dict[Identity, tuple[float, int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        pack = orjson.loads(record.value)
        for item in pack if isinstance(pack, list) else [pack]:
            triples = (
                item["kpis"] if "kpis" in item else [(item["kpi"], item["value"], item["count"])]
            )
            for kpi, value, count, *_ in triples:
                identity = (
                    kpi,
                    item["entity_kind"],
                    item["entity_id"],
                    item["window_start"],
                    item["window_end"],
                )
                table[identity] = (value, count)
    return table


def kpi_table_from_database(url: str, table: str = "kpi") -> dict[Identity, tuple[Any, ...]]:
    """identity -> (window_kind, value, count, first_offset, last_offset) of every row."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT kpi, entity_kind, entity_id, window_start, window_end, window_kind, value, "
            f"count, first_offset, last_offset FROM {table}"  # table is a test constant
        ).fetchall()
    return {tuple(r[:5]): tuple(r[5:]) for r in rows}


def kpis_on_topic(bootstrap: str, topic: str = KPI_TOPIC) -> dict[Identity, tuple[float, int]]:
    """:func:`kpi_table_from_topic` of everything on ``topic`` now."""
    return kpi_table_from_topic(asyncio.run(read_topic(bootstrap, topic)))

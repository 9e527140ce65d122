"""Synthetic but realistic KPI rows for every catalog KPI, districts and window kinds.

Agencies, sites and sensors get 1-minute and 1-hour rows only, as from the worker (its
hopping 15-minute window is kept per district). Values follow a slow daily-ish wave per
district plus noise, inside a plausible range per KPI, so that some districts sit on each
side of every target. Counting KPIs and ``mean_x_window_minutes`` scale with the window
length, as the real ones do.

As a script it fills a database for load measurements, e.g. one week of 1-minute and
15-minute rows of the eight districts::

    python tests/dashboards/dashboards_synthetic.py --database-url URL --hours 168 \
        --window-kinds 1m,15m --entities-per-district 0
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from schemas.geo import position
from schemas.places import District
from sinks.writer import COLUMNS
from streams.catalog import CATALOG, KpiDef

WINDOW_MINUTES = {"1m": 1, "15m": 15, "1h": 60}
RANGES: dict[str, tuple[float, float]] = {
    "portal.dossiers_received": (1.0, 6.0),
    "portal.online_submission_rate": (0.62, 0.97),
    "portal.online_payment_rate": (0.35, 0.85),
    "portal.on_time_rate": (0.86, 1.0),
    "portal.processing_time_p50_hours": (4.0, 30.0),
    "portal.processing_time_p95_hours": (30.0, 140.0),
    "portal.component_reuse_rate": (0.15, 0.65),
    "portal.rating_mean": (3.4, 4.9),
    "portal.dossiers_completed": (0.5, 5.0),
    "network.availability_ratio": (0.955, 1.0),
    "network.latency_p95_ms": (35.0, 290.0),
    "network.loss_mean_pct": (0.0, 6.0),
    "network.downlink_4g_mean_mbps": (22.0, 62.0),
    "network.downlink_5g_mean_mbps": (55.0, 240.0),
    "network.outage_minutes": (0.0, 0.08),
    "network.share_2g_subscribers": (0.02, 0.16),
    "farm.salinity_mean_gl": (0.4, 4.2),
    "farm.salinity_max_gl": (0.8, 6.5),
    "farm.salinity_minutes_above_4": (0.0, 0.5),
    "farm.soil_moisture_min_pct": (18.0, 62.0),
    "farm.air_temperature_max_c": (27.0, 38.5),
    "farm.water_level_mean_cm": (25.0, 130.0),
    "farm.completeness_ratio": (0.78, 1.0),
    "farm.battery_min_pct": (8.0, 100.0),
}
SCALED = frozenset({"count", "sum", "mean_x_window_minutes"})
ENTITY_PREFIX = {"agency": "agency", "site": "site", "sensor": "sensor"}

Row = tuple[
    str,
    str,
    str,
    str,
    str,
    datetime,
    datetime,
    float,
    int,
    str,
    int,
    int,
    int,
    int,
    float,
    None,
    None,
]


def _range(k: KpiDef) -> tuple[float, float]:
    if k.name in RANGES:
        return RANGES[k.name]
    return (0.5, 1.0) if k.unit == "percentunit" else (0.0, 100.0)


def value_of(
    k: KpiDef, district_index: int, minute: float, window_minutes: int, rng: random.Random
) -> float:
    """A plausible value of ``k`` for one district and window."""
    low, high = _range(k)
    wave = 0.5 + 0.35 * math.sin(minute / 180.0 + district_index * 0.8) + rng.uniform(-0.15, 0.15)
    value = low + (high - low) * min(1.0, max(0.0, wave))
    if k.accumulator in SCALED:
        value *= window_minutes
        if k.accumulator == "count":
            value = float(round(value))
    return round(value, 6)


def rows(
    end: datetime,
    hours: float,
    window_kinds: Sequence[str] = ("1m", "15m", "1h"),
    entities_per_district: int = 1,
    entity_hours: float = 0.5,
    seed: int = 7,
) -> Iterator[Row]:
    """KPI rows of every catalog KPI for windows ending at or before ``end``."""
    rng = random.Random(seed)
    end = end.replace(second=0, microsecond=0)
    offset = 0
    for kind in window_kinds:
        size = WINDOW_MINUTES[kind]
        step = 60 if kind == "1h" else 1
        first = end - timedelta(hours=hours)
        if kind == "1h":
            first = first.replace(minute=0)
        start = first
        while start + timedelta(minutes=size) <= end:
            window_end = start + timedelta(minutes=size)
            minute = start.timestamp() / 60.0
            recent = end - start <= timedelta(hours=entity_hours) + 2 * timedelta(minutes=size)
            recent = recent and kind != "15m"  # the worker keeps the hopping window per district
            for d_index, district in enumerate(District):
                for k in CATALOG:
                    entities = [("district", district.value)]
                    if recent:
                        entities += [
                            (ek.value, f"{ENTITY_PREFIX[ek.value]}-{district.value}-{i}")
                            for ek in k.entity_kinds
                            if ek.value != "district"
                            for i in range(entities_per_district)
                        ]
                    for entity_kind, entity_id in entities:
                        count = 10 * size + d_index
                        offset += count
                        yield (
                            k.name,
                            entity_kind,
                            entity_id,
                            district.value,
                            kind,
                            start,
                            window_end,
                            value_of(k, d_index, minute, size, rng),
                            count,
                            k.topic,
                            d_index % 4,
                            offset - count,
                            offset - 1,
                            count,
                            float(count),
                            None,  # no sketch: quantiles show the worst district
                            None,
                        )
            start += timedelta(minutes=step)


def insert(database_url: str, source: Iterator[Row]) -> int:
    """COPY ``source`` into table ``kpi``; the number of rows written."""
    written = 0
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY kpi ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in source:
                copy.write_row(row)
                written += 1
        cur.execute("ANALYZE kpi")
    return written


def insert_entities(database_url: str) -> int:
    """Fill table ``entity`` with the position of every entity of table ``kpi``, as the sink
    does; the number of entities."""
    with psycopg.connect(database_url) as conn:
        found = conn.execute("SELECT DISTINCT entity_kind, entity_id, district FROM kpi").fetchall()
        conn.cursor().executemany(
            "INSERT INTO entity (entity_kind, entity_id, district, longitude, latitude) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(kind, entity_id, district, *position(kind, entity_id, district))
             for kind, entity_id, district in found],
        )  # fmt: skip
    return len(found)


def main(argv: Sequence[str] | None = None) -> int:
    """Fill a migrated database with synthetic KPI rows (for load measurements)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--window-kinds", default="1m,15m,1h")
    parser.add_argument("--entities-per-district", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    n = insert(
        args.database_url,
        rows(
            datetime.now(UTC),
            args.hours,
            args.window_kinds.split(","),
            args.entities_per_district,
        ),
    )
    print(f"{n} rows in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

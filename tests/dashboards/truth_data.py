"""A small data set whose board figures are computed by hand (tests/dashboards/test_board_truth.py).

KPI rows (15-minute windows, the boards' default) for three districts, relative to ``now``:

- ``LATEST`` (window start now-18 min): Vi Thanh and Nga Bay, the values of ``DISTRICT_KPIS``;
- ``PREVIOUS`` (now-19 min, one hop earlier) and ``OLDER`` (now-40 min): both districts and
  Long My (only ``OLDER``), every KPI at its ``older`` value, weight 1.

Entities (agency, site, sensor) have 1-minute windows only, as the worker writes them (the
hopping window is for districts): the values of ``ENTITY_KPIS`` in ``ENTITY_LATEST``
(now-2 min), ``ENTITY_OLDER_VALUE`` one minute before.

Decoys that no panel may show: 1-minute district rows of the same KPIs (another window
kind), a row of Chau Thanh seven hours back (outside every board's range), entity rows one
window older.

The Prometheus side is an OpenMetrics file for ``promtool tsdb create-blocks-from
openmetrics``: two workers, one sink, and decoys of the other job (a worker exporting
``ioc_sink_database_up 0``, a sink exporting ``ioc_events_consumed_total``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Final

from schemas.places import District
from schemas.topics import NETWORK_TOPIC, PORTAL_TOPIC
from streams.catalog import by_name

LATEST: Final = timedelta(minutes=-18)
PREVIOUS: Final = timedelta(minutes=-19)
OLDER: Final = timedelta(minutes=-40)
OUT_OF_RANGE: Final = timedelta(hours=-7)
DECOY_1M: Final = timedelta(minutes=-5)
ENTITY_LATEST: Final = timedelta(minutes=-2)
ENTITY_PREVIOUS: Final = timedelta(minutes=-3)

VT, NB, LM = District.VI_THANH.value, District.NGA_BAY.value, District.LONG_MY.value

# kpi -> ((Vi Thanh value, weight), (Nga Bay value, weight), older value)
DISTRICT_KPIS: Final[dict[str, tuple[tuple[float, float], tuple[float, float], float]]] = {
    "portal.dossiers_received": ((12, 12), (8, 8), 5),
    "portal.online_submission_rate": ((0.9, 10), (0.6, 30), 0.8125),
    "portal.online_payment_rate": ((0.5, 4), (0.25, 12), 0.4),
    "portal.on_time_rate": ((1.0, 6), (0.875, 8), 0.955),
    "portal.processing_time_p50_hours": ((6.5, 6), (30, 8), 20),
    "portal.processing_time_p95_hours": ((50, 6), (120, 8), 200),
    "portal.component_reuse_rate": ((0.2, 5), (0.4, 15), 0.3),
    "portal.rating_mean": ((4.5, 2), (3.0, 4), 4.25),
    "portal.dossiers_completed": ((7, 7), (3, 3), 2),
    "network.availability_ratio": ((0.999, 1000), (0.98, 250), 0.965),
    "network.latency_p95_ms": ((80, 500), (260, 400), 145.5),
    "network.loss_mean_pct": ((0.5, 100), (3.0, 300), 1.0),
    "network.downlink_4g_mean_mbps": ((50, 20), (30, 20), 35.25),
    "network.downlink_5g_mean_mbps": ((150, 3), (90, 1), 110),
    "network.outage_minutes": ((0.0, 10), (3.0, 10), 0.6),
    "network.share_2g_subscribers": ((0.1, 1000), (0.05, 3000), 0.12),
    "farm.salinity_mean_gl": ((1.5, 30), (4.5, 10), 0.75),
    "farm.salinity_max_gl": ((2.1, 30), (6.4, 10), 1.2),
    "farm.salinity_minutes_above_4": ((0.0, 30), (9.0, 10), 0.0),
    "farm.soil_moisture_min_pct": ((35, 30), (22.5, 10), 40),
    "farm.air_temperature_max_c": ((33.2, 30), (35.8, 10), 31),
    "farm.water_level_mean_cm": ((80, 30), (40, 10), 55),
    "farm.completeness_ratio": ((1.0, 45), (0.8, 15), 0.9),
    "farm.battery_min_pct": ((88, 30), (18, 10), 55),
}

# entity kind -> entity id -> (district, {kpi: value}) in LATEST
ENTITY_KPIS: Final[dict[str, dict[str, tuple[str, dict[str, float]]]]] = {
    "agency": {
        "so-tu-phap": (
            VT,
            {
                "portal.on_time_rate": 0.9,
                "portal.online_submission_rate": 0.75,
                "portal.online_payment_rate": 0.6,
                "portal.processing_time_p95_hours": 30,
                "portal.dossiers_received": 4,
                "portal.dossiers_completed": 3,
                "portal.rating_mean": 4.0,
            },
        ),
        "ubnd-nga-bay": (
            NB,
            {
                "portal.on_time_rate": 0.8,
                "portal.online_submission_rate": 1.0,
                "portal.online_payment_rate": 0.125,
                "portal.processing_time_p95_hours": 10,
                "portal.dossiers_received": 6,
                "portal.dossiers_completed": 5,
                "portal.rating_mean": 3.75,
            },
        ),
        "so-xay-dung": (
            NB,
            {"portal.online_submission_rate": 0.5, "portal.dossiers_received": 2},
        ),
    },
    "site": {
        "vt-001": (
            VT,
            {
                "network.availability_ratio": 1.0,
                "network.latency_p95_ms": 45,
                "network.loss_mean_pct": 0.25,
                "network.downlink_4g_mean_mbps": 61.5,
                "network.downlink_5g_mean_mbps": 240,
                "network.outage_minutes": 0.0,
                "network.share_2g_subscribers": 0.08,
            },
        ),
        "nb-001": (
            NB,
            {
                "network.availability_ratio": 0.9,
                "network.latency_p95_ms": 310,
                "network.loss_mean_pct": 7.5,
                "network.downlink_4g_mean_mbps": 25,
                "network.outage_minutes": 1.5,
                "network.share_2g_subscribers": 0.15,
            },
        ),
        "nb-002": (
            NB,
            {
                "network.availability_ratio": 0.99995,
                "network.latency_p95_ms": 120,
                "network.loss_mean_pct": 1.125,
                "network.downlink_4g_mean_mbps": 44.44,
                "network.downlink_5g_mean_mbps": 101.25,
                "network.outage_minutes": 0.25,
                "network.share_2g_subscribers": 0.001,
            },
        ),
    },
    "sensor": {
        "vt-s01": (
            VT,
            {
                "farm.salinity_max_gl": 1.8,
                "farm.salinity_mean_gl": 1.2,
                "farm.salinity_minutes_above_4": 0.0,
                "farm.soil_moisture_min_pct": 45,
                "farm.water_level_mean_cm": 90,
                "farm.completeness_ratio": 1.0,
                "farm.battery_min_pct": 76,
            },
        ),
        "nb-s01": (
            NB,
            {
                "farm.salinity_max_gl": 7.25,
                "farm.salinity_mean_gl": 5.5,
                "farm.salinity_minutes_above_4": 12.0,
                "farm.soil_moisture_min_pct": 20.5,
                "farm.water_level_mean_cm": 35,
                "farm.completeness_ratio": 0.8,
                "farm.battery_min_pct": 15,
            },
        ),
        "nb-s02": (
            NB,
            {
                "farm.salinity_max_gl": 4.0,
                "farm.salinity_mean_gl": 3.125,
                "farm.salinity_minutes_above_4": 0.5,
                "farm.soil_moisture_min_pct": 30,
                "farm.water_level_mean_cm": 60.25,
                "farm.completeness_ratio": 0.9333,
                "farm.battery_min_pct": 49.5,
            },
        ),
    },
}
ENTITY_POSITIONS: Final[dict[tuple[str, str], tuple[str, float, float]]] = {
    ("site", "vt-001"): (VT, 105.47, 9.79),
    ("site", "nb-001"): (NB, 105.82, 9.82),
    ("site", "nb-002"): (NB, 105.80, 9.84),
    ("sensor", "vt-s01"): (VT, 105.45, 9.76),
    ("sensor", "nb-s01"): (NB, 105.83, 9.80),
    ("sensor", "nb-s02"): (NB, 105.85, 9.83),
    ("site", "ct-4g-001"): (District.CHAU_THANH.value, 105.80, 9.93),
    ("agency", "so-tu-phap"): (VT, 105.47, 9.78),
    ("agency", "ubnd-nga-bay"): (NB, 105.82, 9.81),
    ("agency", "so-xay-dung"): (NB, 105.81, 9.82),
}
"""Rows of table ``entity`` as the sink writes them for every entity with KPI rows:
(district, longitude, latitude); ct-4g-001 has no KPI rows."""
ENTITY_OLDER_VALUE: Final = 0.123
"""Every entity KPI one window before ``ENTITY_LATEST``: shown nowhere."""

Row = tuple[str, str, str, str, str, datetime, datetime, float, int, str, int, int, int, int, float]


def _row(
    kpi: str,
    kind: str,
    entity: tuple[str, str],
    district: str,
    start: datetime,
    value: float,
    weight: float,
) -> Row:
    minutes = 1 if kind == "1m" else 15
    count = max(1, round(weight))
    entity_kind, entity_id = entity
    return (
        kpi, entity_kind, entity_id, district, kind, start, start + timedelta(minutes=minutes),
        float(value), count, by_name(kpi).topic, 0, 0, count - 1, count, float(weight),
        None,  # no sketch: a quantile panel shows its worst district, as for older rows
        None,
    )  # fmt: skip


def rows(now: datetime) -> Iterator[Row]:
    """Every KPI row of the data set for boards queried at ``now``."""
    for kpi, ((vt, vt_weight), (nb, nb_weight), older) in DISTRICT_KPIS.items():
        yield _row(kpi, "15m", ("district", VT), VT, now + LATEST, vt, vt_weight)
        yield _row(kpi, "15m", ("district", NB), NB, now + LATEST, nb, nb_weight)
        for district in (VT, NB):
            yield _row(kpi, "15m", ("district", district), district, now + PREVIOUS, older, 1)
        for district in (VT, NB, LM):
            yield _row(kpi, "15m", ("district", district), district, now + OLDER, older, 1)
            decoy = 9 * older + 1
            yield _row(kpi, "1m", ("district", district), district, now + DECOY_1M, decoy, 1)
        chau_thanh = District.CHAU_THANH.value
        far = now + OUT_OF_RANGE
        yield _row(kpi, "15m", ("district", chau_thanh), chau_thanh, far, older, 1)
    for entity_kind, entities in ENTITY_KPIS.items():
        for entity_id, (district, values) in entities.items():
            entity = (entity_kind, entity_id)
            for kpi, value in values.items():
                yield _row(kpi, "1m", entity, district, now + ENTITY_LATEST, value, 1)
                older = ENTITY_OLDER_VALUE
                yield _row(kpi, "1m", entity, district, now + ENTITY_PREVIOUS, older, 1)


SCRAPE_SECONDS: Final = 5
HISTORY: Final = timedelta(minutes=30)
WORKERS: Final = ("w1:9464", "w2:9464")
PORTAL, NETWORK = PORTAL_TOPIC, NETWORK_TOPIC


def _series(
    name: str, labels: dict[str, str], slope: float, start: float = 1000.0
) -> tuple[str, dict[str, str], float, float]:
    return name, labels, slope, start


def openmetrics(now: datetime) -> str:
    """Samples every 5 s over the half hour before ``now``: counters rise at fixed rates."""
    w1 = {"job": "worker", "instance": WORKERS[0]}
    w2 = {"job": "worker", "instance": WORKERS[1]}
    sink = {"job": "sink", "instance": "s1:9465"}
    series = [
        _series("ioc_events_consumed_total", {**w1, "topic": PORTAL}, 12.0),
        _series("ioc_events_consumed_total", {**w2, "topic": NETWORK}, 18.0),
        _series("ioc_events_consumed_total", {**sink, "topic": PORTAL}, 1000.0),
        _series("ioc_events_invalid_total", {**w1, "topic": PORTAL, "reason": "schema"}, 0.2),
        _series("ioc_events_invalid_total", {**w2, "topic": NETWORK, "reason": "bounds"}, 0.05),
        _series("ioc_events_late_total", {**w1, "topic": PORTAL}, 0.0),
        _series("ioc_consumer_lag_messages", {**w1, "topic": PORTAL}, 0.0, 120.0),
        _series("ioc_consumer_lag_messages", {**w2, "topic": NETWORK}, 0.0, 1500.0),
        _series("ioc_consumer_lag_messages", {**sink, "topic": "city.kpi.v1"}, 0.0, 99999.0),
        _series("ioc_watermark_delay_seconds", {**w1, "topic": PORTAL}, 0.0, 12.0),
        _series("ioc_watermark_delay_seconds", {**w2, "topic": NETWORK}, 0.0, 95.0),
        _series("ioc_sink_database_up", sink, 0.0, 1.0),
        _series("ioc_sink_database_up", w1, 0.0, 0.0),
        _series("up", w1, 0.0, 1.0),
        _series("up", w2, 0.0, 1.0),
        _series("up", sink, 0.0, 1.0),
    ]
    end = int(now.timestamp())
    begin = end - int(HISTORY.total_seconds())
    lines: list[str] = []
    by_name_: dict[str, list[str]] = {}
    for name, labels, slope, start in series:
        text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        samples = by_name_.setdefault(name, [])
        for t in range(begin, end + 1, SCRAPE_SECONDS):
            samples.append(f"{name}{{{text}}} {start + slope * (t - begin)} {t}")
    alerts = by_name_.setdefault("ALERTS", [])
    firing = (
        'alertname="SalinityHigh",alertstate="firing",district="nga-bay",'
        'environment="dev",severity="critical",team="agriculture"'
    )
    pending = (
        'alertname="SiteDown",alertstate="pending",district="vi-thanh",'
        'environment="dev",severity="critical",team="network"'
    )
    resolved = (
        'alertname="FarmSensorSilent",alertstate="firing",district="long-my",'
        'environment="dev",severity="warning",team="agriculture"'
    )
    for t in range(end - 600, end + 1, SCRAPE_SECONDS):
        alerts.append(f"ALERTS{{{firing}}} 1 {t}")
        alerts.append(f"ALERTS{{{pending}}} 1 {t}")
    for t in range(begin, end - 900, SCRAPE_SECONDS):
        alerts.append(f"ALERTS{{{resolved}}} 1 {t}")
    for name, samples in by_name_.items():
        kind = "counter" if name.endswith("_total") else "gauge"
        metric = name.removesuffix("_total") if kind == "counter" else name
        lines.append(f"# TYPE {metric} {kind}")
        lines += samples
    lines.append("# EOF")
    return "\n".join(lines) + "\n"

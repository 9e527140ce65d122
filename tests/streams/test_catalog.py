"""The KPI catalog: names, observations of hand-built events, targets, pane helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from schemas.events import DossierEvent, ProbeEvent, SensorReading
from schemas.kpi import EntityKind
from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC
from streams.accumulators import ACCUMULATORS, State
from streams.catalog import (
    ALERTABLE,
    CATALOG,
    KpiDef,
    Target,
    apply_event,
    by_name,
    entities_of,
    kpis_for_topic,
    window_values,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

BRIEF_NAMES = {
    "portal.dossiers_received",
    "portal.online_submission_rate",
    "portal.online_payment_rate",
    "portal.on_time_rate",
    "portal.processing_time_p50_hours",
    "portal.processing_time_p95_hours",
    "portal.component_reuse_rate",
    "portal.rating_mean",
    "portal.dossiers_completed",
    "network.availability_ratio",
    "network.latency_p95_ms",
    "network.loss_mean_pct",
    "network.downlink_4g_mean_mbps",
    "network.downlink_5g_mean_mbps",
    "network.outage_minutes",
    "network.share_2g_subscribers",
    "farm.salinity_mean_gl",
    "farm.salinity_max_gl",
    "farm.salinity_minutes_above_4",
    "farm.soil_moisture_min_pct",
    "farm.air_temperature_max_c",
    "farm.water_level_mean_cm",
    "farm.completeness_ratio",
    "farm.battery_min_pct",
}
ALERTABLE_NAMES = {
    "farm.salinity_max_gl",
    "farm.salinity_mean_gl",
    "network.availability_ratio",
    "network.downlink_4g_mean_mbps",
    "network.downlink_5g_mean_mbps",
    "portal.on_time_rate",
    "portal.online_submission_rate",
    "farm.completeness_ratio",
    "network.latency_p95_ms",
}

_seq = iter(range(1_000_000))


def envelope(district: str = "vi-thanh", at: datetime = T0) -> dict[str, Any]:
    """Envelope fields; events are validated from JSON, as the worker does."""
    return {
        "event_id": f"e-{next(_seq)}",
        "source": "test",
        "occurred_at": at,
        "schema_version": 1,
        "district": district,
    }


def dossier(**kw: Any) -> DossierEvent:
    fields: dict[str, Any] = {
        "dossier_id": "d-1",
        "procedure_code": "1.001",
        "agency_id": "so-tnmt",
        "level": "province",
        "channel": "online",
        "status": "submitted",
        "received_at": T0,
    }
    fields.update(kw)
    return DossierEvent.model_validate_json(orjson.dumps({**envelope(), **fields}))


def probe(**kw: Any) -> ProbeEvent:
    fields: dict[str, Any] = {"site_id": "vt-4g-012", "technology": "4G", "up": True}
    fields.update(kw)
    return ProbeEvent.model_validate_json(orjson.dumps({**envelope(), **fields}))


def reading(**kw: Any) -> SensorReading:
    fields: dict[str, Any] = {
        "sensor_id": "sal-01",
        "farm_id": "farm-7",
        "zone": "z1",
        "kind": "salinity",
        "value": 1.5,
        "battery_pct": 80.0,
    }
    fields.update(kw)
    return SensorReading.model_validate_json(orjson.dumps({**envelope(), **fields}))


def obs(name: str, event: Any) -> tuple[float, float] | None:
    return by_name(name).observe(event)


def test_catalog_names_and_metadata() -> None:
    assert {k.name for k in CATALOG} == BRIEF_NAMES
    assert len(CATALOG) == len(BRIEF_NAMES)
    assert {k.name for k in ALERTABLE} == ALERTABLE_NAMES
    for kpi in CATALOG:
        assert kpi.accumulator in ACCUMULATORS
        assert kpi.title_en and kpi.title_vi and kpi.unit and kpi.description
        assert kpi.topic in (PORTAL_TOPIC, NETWORK_TOPIC, FARM_TOPIC)
        assert kpi.entity_kinds[0] is EntityKind.DISTRICT
        assert len(kpi.entity_kinds) == 2
        assert kpi.name.split(".")[0] == kpi.topic.split(".")[1]
        assert len(kpi.name) <= 64
        if kpi.alertable:
            assert kpi.target is not None
    assert by_name("portal.on_time_rate").title_vi == "Tỷ lệ hồ sơ giải quyết đúng hạn"
    assert by_name("portal.online_submission_rate").title_vi == "Tỷ lệ hồ sơ nộp trực tuyến"
    assert sum(len(kpis_for_topic(t)) for t in (PORTAL_TOPIC, NETWORK_TOPIC, FARM_TOPIC)) == 24
    assert kpis_for_topic("city.other.v1") == ()
    with pytest.raises(KeyError, match="unknown KPI"):
        by_name("portal.nope")


def test_kpidef_rejects_bad_definitions() -> None:
    base = by_name("portal.rating_mean")
    with pytest.raises(ValueError, match="unknown accumulator"):
        KpiDef("x", PORTAL_TOPIC, "median", "none", "x", "x", base.entity_kinds, base.observe)
    with pytest.raises(ValueError, match="keyed"):
        KpiDef(
            "x", PORTAL_TOPIC, "mean", "none", "x", "x", base.entity_kinds, base.observe,
            observe_key=lambda e: "k",
        )  # fmt: skip


def test_portal_observations() -> None:
    submitted_online = dossier(status="submitted", channel="online")
    submitted_counter = dossier(status="submitted", channel="counter")
    done_at = T0 + timedelta(hours=30)
    late = dossier(
        status="completed",
        occurred_at=done_at,
        due_at=T0 + timedelta(hours=24),
        paid_online=True,
        rating=4,
    )
    exactly_due = dossier(status="completed", occurred_at=done_at, due_at=done_at)
    no_due = dossier(status="completed", occurred_at=done_at)

    assert obs("portal.dossiers_received", submitted_online) == (1.0, 1.0)
    assert obs("portal.dossiers_received", late) is None
    assert obs("portal.dossiers_completed", late) == (1.0, 1.0)
    assert obs("portal.dossiers_completed", submitted_online) is None
    assert obs("portal.online_submission_rate", submitted_online) == (1.0, 1.0)
    assert obs("portal.online_submission_rate", submitted_counter) == (0.0, 1.0)
    assert obs("portal.online_submission_rate", late) is None
    assert obs("portal.online_payment_rate", late) == (1.0, 1.0)
    assert obs("portal.online_payment_rate", no_due) == (0.0, 1.0)
    assert obs("portal.online_payment_rate", submitted_online) is None
    assert obs("portal.on_time_rate", late) == (0.0, 1.0)
    assert obs("portal.on_time_rate", exactly_due) == (1.0, 1.0)
    assert obs("portal.on_time_rate", no_due) is None
    assert obs("portal.processing_time_p50_hours", late) == (30.0, 1.0)
    assert obs("portal.processing_time_p95_hours", late) == (30.0, 1.0)
    assert obs("portal.processing_time_p50_hours", submitted_online) is None
    assert obs("portal.rating_mean", late) == (4.0, 1.0)
    assert obs("portal.rating_mean", no_due) is None
    reuse = dossier(components_total=4, components_reused=1)
    assert obs("portal.component_reuse_rate", reuse) == (0.25, 4.0)
    assert obs("portal.component_reuse_rate", dossier(components_total=0)) is None
    assert (
        obs("portal.component_reuse_rate", dossier(status="accepted", components_total=4)) is None
    )


def test_network_observations() -> None:
    up4 = probe(technology="4G", latency_ms=35.0, loss_pct=0.5, downlink_mbps=52.0, subscribers=300)
    down4 = probe(technology="4G", up=False, latency_ms=None, downlink_mbps=None, loss_pct=100.0)
    up5 = probe(technology="5G", downlink_mbps=180.0, subscribers=100)
    up2 = probe(technology="2G", subscribers=50)
    assert obs("network.availability_ratio", up4) == (1.0, 1.0)
    assert obs("network.availability_ratio", down4) == (0.0, 1.0)
    assert obs("network.outage_minutes", up4) == (0.0, 1.0)
    assert obs("network.outage_minutes", down4) == (1.0, 1.0)
    assert obs("network.latency_p95_ms", up4) == (35.0, 1.0)
    assert obs("network.latency_p95_ms", down4) is None
    assert obs("network.latency_p95_ms", up5) is None
    assert obs("network.loss_mean_pct", up4) == (0.5, 1.0)
    assert obs("network.loss_mean_pct", down4) is None
    assert obs("network.downlink_4g_mean_mbps", up4) == (52.0, 1.0)
    assert obs("network.downlink_4g_mean_mbps", up5) is None
    assert obs("network.downlink_4g_mean_mbps", down4) is None
    assert obs("network.downlink_5g_mean_mbps", up5) == (180.0, 1.0)
    assert obs("network.downlink_5g_mean_mbps", up4) is None
    assert obs("network.share_2g_subscribers", up2) == (1.0, 50.0)
    assert obs("network.share_2g_subscribers", up4) == (0.0, 300.0)
    assert obs("network.share_2g_subscribers", down4) is None


def test_farm_observations() -> None:
    salty = reading(kind="salinity", value=4.2, battery_pct=15.0)
    at_limit = reading(kind="salinity", value=4.0)
    soil = reading(kind="soil_moisture", value=35.0, sensor_id="soil-02")
    air = reading(kind="air_temperature", value=33.5)
    level = reading(kind="water_level", value=-12.0)
    ph = reading(kind="ph", value=6.5)
    assert obs("farm.salinity_mean_gl", salty) == (4.2, 1.0)
    assert obs("farm.salinity_max_gl", salty) == (4.2, 1.0)
    assert obs("farm.salinity_mean_gl", soil) is None
    assert obs("farm.salinity_minutes_above_4", salty) == (1.0, 1.0)
    assert obs("farm.salinity_minutes_above_4", at_limit) == (0.0, 1.0)
    assert obs("farm.salinity_minutes_above_4", air) is None
    assert obs("farm.soil_moisture_min_pct", soil) == (35.0, 1.0)
    assert obs("farm.soil_moisture_min_pct", salty) is None
    assert obs("farm.air_temperature_max_c", air) == (33.5, 1.0)
    assert obs("farm.water_level_mean_cm", level) == (-12.0, 1.0)
    assert obs("farm.water_level_mean_cm", ph) is None
    assert obs("farm.battery_min_pct", salty) == (15.0, 1.0)
    assert obs("farm.completeness_ratio", ph) == (1.0, 1.0)
    key = by_name("farm.completeness_ratio").observe_key
    assert key is not None
    assert key(soil) == "soil-02/soil_moisture"
    for kpi in kpis_for_topic(FARM_TOPIC):
        assert kpi.observe_key is None or kpi.name == "farm.completeness_ratio"


@pytest.mark.parametrize(
    ("name", "green", "amber", "red"),
    [
        ("portal.online_submission_rate", [0.80, 1.0], [0.70, 0.7999], [0.6999, 0.0]),
        ("portal.on_time_rate", [0.95], [0.90, 0.949], [0.899]),
        ("network.availability_ratio", [0.99], [0.97], [0.969]),
        ("network.latency_p95_ms", [150.0, 0.0], [150.1, 250.0], [250.1]),
        ("network.loss_mean_pct", [2.0], [5.0], [5.01]),
        ("network.downlink_4g_mean_mbps", [40.0], [30.0], [29.9]),
        ("network.downlink_5g_mean_mbps", [100.0], [70.0], [69.9]),
        ("farm.salinity_max_gl", [0.3, 2.0], [2.01, 4.0], [4.01, 12.0]),
        ("farm.salinity_mean_gl", [2.0], [4.0], [4.01]),
        ("farm.completeness_ratio", [0.95], [0.80], [0.79]),
        ("farm.battery_min_pct", [30.0], [20.0], [19.9]),
    ],
)
def test_target_boundaries(
    name: str, green: list[float], amber: list[float], red: list[float]
) -> None:
    target = by_name(name).target
    assert target is not None
    assert [target.status(v) for v in green] == ["green"] * len(green)
    assert [target.status(v) for v in amber] == ["amber"] * len(amber)
    assert [target.status(v) for v in red] == ["red"] * len(red)


def test_target_validation() -> None:
    with pytest.raises(ValueError, match="green side"):
        Target(">=", 0.9, 0.95)
    with pytest.raises(ValueError, match="green side"):
        Target("<=", 4.0, 2.0)


def test_entities_of() -> None:
    assert entities_of(dossier()) == (
        (EntityKind.DISTRICT, "vi-thanh"),
        (EntityKind.AGENCY, "so-tnmt"),
    )
    assert entities_of(probe()) == (
        (EntityKind.DISTRICT, "vi-thanh"),
        (EntityKind.SITE, "vt-4g-012"),
    )
    assert entities_of(reading()) == (
        (EntityKind.DISTRICT, "vi-thanh"),
        (EntityKind.SENSOR, "sal-01"),
    )
    for kind, _ in entities_of(probe()):
        assert isinstance(kind, EntityKind)


def run_pane(events: list[Any], topic: str) -> dict[str, State]:
    pane: dict[str, State] = {}
    for event in events:
        apply_event(pane, kpis_for_topic(topic), event)
    return pane


def test_apply_event_and_window_values_farm() -> None:
    events = [
        reading(kind="salinity", value=v, sensor_id=s, battery_pct=b)
        for v, s, b in [(3.0, "a", 90.0), (5.0, "a", 85.0), (4.5, "b", 40.0), (1.0, "b", 60.0)]
    ]
    events.append(reading(kind="ph", value=7.0, sensor_id="a", battery_pct=70.0))
    pane = run_pane(events, FARM_TOPIC)
    assert "farm.soil_moisture_min_pct" not in pane
    rows = {k: (v, n) for k, v, n, _ in window_values([pane], kpis_for_topic(FARM_TOPIC), 120.0)}
    assert rows["farm.salinity_mean_gl"] == (3.375, 4)
    assert rows["farm.salinity_max_gl"] == (5.0, 4)
    assert rows["farm.salinity_minutes_above_4"] == (1.0, 4)  # half of 2 minutes
    assert rows["farm.battery_min_pct"] == (40.0, 5)
    # keys a/salinity: 2, b/salinity: 2, a/ph: 1 of 2 expected each in 2 minutes
    assert rows["farm.completeness_ratio"] == (5 / 6, 5)
    assert "farm.water_level_mean_cm" not in rows


def test_merged_panes_equal_one_pane() -> None:
    minutes = [
        [probe(up=True, latency_ms=float(10 + i), subscribers=10) for i in range(5)],
        [probe(up=False), probe(technology="2G", subscribers=30)],
        [probe(technology="5G", downlink_mbps=120.0, latency_ms=200.0)],
    ]
    panes = [run_pane(events, NETWORK_TOPIC) for events in minutes]
    frozen = orjson.dumps(panes)
    kpis = kpis_for_topic(NETWORK_TOPIC)
    merged = window_values(panes, kpis, 180.0)
    assert orjson.dumps(panes) == frozen, "window_values mutated a pane"
    whole = run_pane([e for events in minutes for e in events], NETWORK_TOPIC)
    assert merged == window_values([whole], kpis, 180.0)
    rows = {k: (v, n) for k, v, n, _ in merged}
    assert rows["network.availability_ratio"] == (7 / 8, 8)
    assert rows["network.outage_minutes"] == pytest.approx((3 * 1 / 8, 8))
    assert rows["network.share_2g_subscribers"] == (30 / 80, 6)
    assert rows["network.latency_p95_ms"][1] == 6
    assert "network.downlink_4g_mean_mbps" not in rows
    assert window_values([], kpis, 180.0) == []
    retired = window_values([{"network.retired_kpi": [1]}, panes[0]], kpis, 180.0)
    assert retired == window_values(panes[:1], kpis, 180.0)


def test_portal_pane() -> None:
    events = [dossier(channel=c) for c in ("online", "online", "online", "counter")]
    events += [
        dossier(
            status="completed", occurred_at=T0 + timedelta(hours=h), due_at=T0 + timedelta(hours=8)
        )
        for h in (2, 4, 6, 10)
    ]
    pane = run_pane(events, PORTAL_TOPIC)
    rows = {k: (v, n) for k, v, n, _ in window_values([pane], kpis_for_topic(PORTAL_TOPIC), 60.0)}
    assert rows["portal.dossiers_received"] == (4.0, 4)
    assert rows["portal.dossiers_completed"] == (4.0, 4)
    assert rows["portal.online_submission_rate"] == (0.75, 4)
    assert rows["portal.on_time_rate"] == (0.75, 4)
    assert rows["portal.processing_time_p50_hours"][0] == pytest.approx(4.0, rel=0.01)
    assert rows["portal.processing_time_p95_hours"][0] == pytest.approx(6.0, rel=0.01)
    assert "portal.rating_mean" not in rows

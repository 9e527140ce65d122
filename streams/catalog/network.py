"""KPIs of the network monitors: how each probe event feeds each KPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from schemas.events import (
    ProbeEvent,
    Technology,
)
from schemas.kpi import EntityKind
from schemas.topics import NETWORK_TOPIC
from streams.catalog.definitions import KpiDef, Observation, Target

_ONE: Final[Observation] = (1.0, 1.0)
_ZERO: Final[Observation] = (0.0, 1.0)
_D, _A, _S, _N = EntityKind.DISTRICT, EntityKind.AGENCY, EntityKind.SITE, EntityKind.SENSOR
_NETWORK_KINDS: Final = (_D, _S)


def _up(e: ProbeEvent) -> Observation | None:
    return _ONE if e.up else _ZERO


def _down(e: ProbeEvent) -> Observation | None:
    return _ZERO if e.up else _ONE


def _latency(e: ProbeEvent) -> Observation | None:
    latency = e.latency_ms
    return (latency, 1.0) if e.up and latency is not None else None


def _loss(e: ProbeEvent) -> Observation | None:
    loss = e.loss_pct
    return (loss, 1.0) if e.up and loss is not None else None


def _downlink_of(tech: Technology) -> Callable[[ProbeEvent], Observation | None]:
    def observe(e: ProbeEvent) -> Observation | None:
        downlink = e.downlink_mbps
        if e.technology != tech or not e.up or downlink is None:
            return None
        return (downlink, 1.0)

    return observe


def _share_2g(e: ProbeEvent) -> Observation | None:
    subscribers = e.subscribers
    if subscribers <= 0:
        return None
    return (1.0 if e.technology == Technology.G2 else 0.0, float(subscribers))


def _network(name: str, acc: str, unit: str, en: str, vi: str, observe: Any, **kw: Any) -> KpiDef:
    return KpiDef(
        f"network.{name}", NETWORK_TOPIC, acc, unit, en, vi, _NETWORK_KINDS, observe, **kw
    )


NETWORK: Final[tuple[KpiDef, ...]] = (
    _network(
        "availability_ratio",
        "mean",
        "percentunit",
        "Availability",
        "Tỷ lệ sẵn sàng mạng",
        _up,
        target=Target(">=", 0.99, 0.97),
        alertable=True,
        decimals=4,
        description="Probes up / probes.",
    ),
    _network(
        "latency_p95_ms",
        "quantile:0.95",
        "ms",
        "Latency p95",
        "Độ trễ (phân vị 95)",
        _latency,
        target=Target("<=", 150.0, 250.0),
        alertable=True,
        decimals=0,
        description="95th percentile of latency_ms of probes that are up.",
    ),
    _network(
        "loss_mean_pct",
        "mean",
        "percent",
        "Mean packet loss",
        "Tỷ lệ mất gói trung bình",
        _loss,
        target=Target("<=", 2.0, 5.0),
        description="Mean loss_pct of probes that are up.",
    ),
    _network(
        "downlink_4g_mean_mbps",
        "mean",
        "Mbits",
        "4G mean downlink",
        "Tốc độ tải xuống trung bình 4G",
        _downlink_of(Technology.G4),
        target=Target(">=", 40.0, 30.0),
        alertable=True,
        decimals=1,
        description="Mean downlink_mbps of 4G probes that are up.",
    ),
    _network(
        "downlink_5g_mean_mbps",
        "mean",
        "Mbits",
        "5G mean downlink",
        "Tốc độ tải xuống trung bình 5G",
        _downlink_of(Technology.G5),
        target=Target(">=", 100.0, 70.0),
        alertable=True,
        decimals=1,
        description="Mean downlink_mbps of 5G probes that are up.",
    ),
    _network(
        "outage_minutes",
        "mean_x_window_minutes",
        "m",
        "Outage minutes",
        "Số phút mất kết nối",
        _down,
        decimals=1,
        description="Fraction of probes down x window minutes.",
    ),
    _network(
        "share_2g_subscribers",
        "mean",
        "percentunit",
        "2G subscriber share",
        "Tỷ lệ thuê bao 2G",
        _share_2g,
        description="Subscribers attached to 2G / all attached subscribers, over probes.",
    ),
)

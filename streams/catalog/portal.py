"""KPIs of the public-service portal: how each dossier event feeds each KPI."""

from __future__ import annotations

from typing import Any, Final

from schemas.events import (
    Channel,
    DossierEvent,
    DossierStatus,
)
from schemas.kpi import EntityKind
from schemas.topics import PORTAL_TOPIC
from streams.catalog.definitions import KpiDef, Observation, Target

_ONE: Final[Observation] = (1.0, 1.0)
_ZERO: Final[Observation] = (0.0, 1.0)
_D, _A, _S, _N = EntityKind.DISTRICT, EntityKind.AGENCY, EntityKind.SITE, EntityKind.SENSOR
_PORTAL_KINDS: Final = (_D, _A)
_SUBMITTED = DossierStatus.SUBMITTED
_COMPLETED = DossierStatus.COMPLETED


def _submitted(e: DossierEvent) -> Observation | None:
    return _ONE if e.status == _SUBMITTED else None


def _completed(e: DossierEvent) -> Observation | None:
    return _ONE if e.status == _COMPLETED else None


def _online_submission(e: DossierEvent) -> Observation | None:
    if e.status != _SUBMITTED:
        return None
    return _ONE if e.channel == Channel.ONLINE else _ZERO


def _online_payment(e: DossierEvent) -> Observation | None:
    if e.status != _COMPLETED:
        return None
    return _ONE if e.paid_online else _ZERO


def _on_time(e: DossierEvent) -> Observation | None:
    if e.status != _COMPLETED or e.due_at is None:
        return None
    return _ONE if e.occurred_at <= e.due_at else _ZERO


def _processing_hours(e: DossierEvent) -> Observation | None:
    if e.status != _COMPLETED:
        return None
    return ((e.occurred_at - e.received_at).total_seconds() / 3600.0, 1.0)


def _component_reuse(e: DossierEvent) -> Observation | None:
    total = e.components_total
    if e.status != _SUBMITTED or total <= 0:
        return None
    return (e.components_reused / total, float(total))


def _rating(e: DossierEvent) -> Observation | None:
    rating = e.rating
    return None if rating is None else (float(rating), 1.0)


def _portal(name: str, acc: str, unit: str, en: str, vi: str, observe: Any, **kw: Any) -> KpiDef:
    return KpiDef(f"portal.{name}", PORTAL_TOPIC, acc, unit, en, vi, _PORTAL_KINDS, observe, **kw)


PORTAL: Final[tuple[KpiDef, ...]] = (
    _portal(
        "dossiers_received",
        "count",
        "none",
        "Dossiers received",
        "Số hồ sơ tiếp nhận",
        _submitted,
        decimals=0,
        description="Dossier events with status submitted.",
    ),
    _portal(
        "online_submission_rate",
        "mean",
        "percentunit",
        "Online submission rate",
        "Tỷ lệ hồ sơ nộp trực tuyến",
        _online_submission,
        target=Target(">=", 0.80, 0.70),
        alertable=True,
        description="Submitted dossiers with channel online / submitted dossiers.",
    ),
    _portal(
        "online_payment_rate",
        "mean",
        "percentunit",
        "Online payment rate",
        "Tỷ lệ thanh toán trực tuyến",
        _online_payment,
        description="Completed dossiers paid online / completed dossiers.",
    ),
    _portal(
        "on_time_rate",
        "mean",
        "percentunit",
        "On-time completion rate",
        "Tỷ lệ hồ sơ giải quyết đúng hạn",
        _on_time,
        target=Target(">=", 0.95, 0.90),
        alertable=True,
        description="Completed at or before due_at / completed dossiers that have a due_at.",
    ),
    _portal(
        "processing_time_p50_hours",
        "quantile:0.5",
        "h",
        "Processing time p50",
        "Thời gian giải quyết (trung vị)",
        _processing_hours,
        decimals=1,
        description="Median of occurred_at - received_at of completed dossiers, hours.",
    ),
    _portal(
        "processing_time_p95_hours",
        "quantile:0.95",
        "h",
        "Processing time p95",
        "Thời gian giải quyết (phân vị 95)",
        _processing_hours,
        decimals=1,
        description="95th percentile of occurred_at - received_at of completed dossiers.",
    ),
    _portal(
        "component_reuse_rate",
        "mean",
        "percentunit",
        "Component reuse rate",
        "Tỷ lệ tái sử dụng thành phần hồ sơ",
        _component_reuse,
        description="Sum of reused / sum of total components of submitted dossiers.",
    ),
    _portal(
        "rating_mean",
        "mean",
        "none",
        "Mean citizen rating",
        "Điểm hài lòng trung bình",
        _rating,
        description="Mean of the 1-5 citizen ratings of events that carry one.",
    ),
    _portal(
        "dossiers_completed",
        "count",
        "none",
        "Dossiers completed",
        "Số hồ sơ đã giải quyết",
        _completed,
        decimals=0,
        description="Dossier events with status completed.",
    ),
)

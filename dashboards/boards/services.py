"""Public services board: the provincial service portal (Decision 766/QD-TTg indicators)."""

from __future__ import annotations

from typing import Final

from grafanalib import core as g

from dashboards.boards.domain import EntityTable, build_domain
from dashboards.kpis import SERVICES

UID: Final = "ioc-services"
AGENCIES: Final = EntityTable(
    entity_kind="agency",
    title="Cơ quan giải quyết — giá trị mới nhất (đúng hạn thấp nhất trước)",
    header="Cơ quan",
    columns=(
        ("portal.on_time_rate", "Đúng hạn"),
        ("portal.online_submission_rate", "Nộp trực tuyến"),
        ("portal.online_payment_rate", "Thanh toán trực tuyến"),
        ("portal.processing_time_p95_hours", "Thời gian xử lý p95"),
        ("portal.dossiers_received", "Tiếp nhận"),
        ("portal.dossiers_completed", "Đã giải quyết"),
        ("portal.rating_mean", "Hài lòng"),
    ),
    sort_by="portal.on_time_rate",
)


def build() -> g.Dashboard:
    """The public services board."""
    return build_domain(
        SERVICES, UID, AGENCIES, "Online public services: submissions, on-time completion."
    )

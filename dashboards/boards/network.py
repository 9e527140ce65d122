"""Network board: availability, latency, loss and throughput of cell sites and links."""

from __future__ import annotations

from typing import Final

from grafanalib import core as g

from dashboards import sql
from dashboards.boards.domain import EntityTable, build_domain
from dashboards.geomap import MapLayer
from dashboards.kpis import NETWORK, kpi

UID: Final = "ioc-network"
SITES: Final = EntityTable(
    entity_kind="site",
    title="Trạm và tuyến — giá trị mới nhất (sẵn sàng thấp nhất trước)",
    header="Trạm",
    columns=(
        ("network.availability_ratio", "Sẵn sàng"),
        ("network.latency_p95_ms", "Độ trễ p95"),
        ("network.loss_mean_pct", "Mất gói"),
        ("network.downlink_4g_mean_mbps", "4G"),
        ("network.downlink_5g_mean_mbps", "5G"),
        ("network.outage_minutes", "Phút mất kết nối"),
        ("network.share_2g_subscribers", "Thuê bao 2G"),
    ),
    sort_by="network.availability_ratio",
)


SITES_LAYER: Final = MapLayer(
    "Trạm và tuyến", "site", "Trạm", sql.Column(kpi("network.availability_ratio"), "Sẵn sàng")
)
"""Cell sites, fibre and LAN links, coloured by availability."""
MAP_TITLE: Final = "Bản đồ trạm và tuyến — tỷ lệ sẵn sàng"


def build() -> g.Dashboard:
    """The network board."""
    return build_domain(
        NETWORK,
        UID,
        SITES,
        "Telecom network quality by district and site.",
        province_map=(MAP_TITLE, SITES_LAYER),
    )

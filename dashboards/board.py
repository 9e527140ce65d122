"""The dashboard frame every board shares: uid, tags, time zone, refresh, variables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from grafanalib import core as g

SCHEMA_VERSION: Final = 39
"""Grafana 10/11 dashboard schema: data sources referenced by ``{type, uid}``."""
TIMEZONE: Final = "Asia/Ho_Chi_Minh"
TAGS: Final = ("smartcity-ioc", "hau-giang")
WALL_REFRESH: Final = "30s"
DESK_REFRESH: Final = "1m"


def dashboard(
    uid: str,
    title: str,
    panels: Sequence[Any],
    *,
    description: str,
    refresh: str = DESK_REFRESH,
    time_from: str = "now-6h",
    templating: g.Templating | None = None,
    tags: Sequence[str] = (),
) -> g.Dashboard:
    """A board with fixed uid and panel ids numbered 1, 2, ... in the order given."""
    return g.Dashboard(
        title=title,
        uid=uid,
        description=description,
        panels=list(panels),
        refresh=refresh,
        time=g.Time(time_from, "now"),
        timezone=TIMEZONE,
        templating=templating or g.Templating(),
        tags=[*TAGS, *tags],
        editable=False,
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        schemaVersion=SCHEMA_VERSION,
    ).auto_panel_ids()

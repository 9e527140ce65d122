"""Template variables of the SQL boards: ``district`` and ``window_kind``."""

from __future__ import annotations

from typing import Final

from grafanalib import core as g

from dashboards import sql
from dashboards.datasources import TIMESCALEDB

WINDOW_KINDS: Final = sql.WINDOW_KINDS
DEFAULT_WINDOW_KIND: Final = "15m"
"""The hopping 15-minute window every minute: a rolling rate that is fresh and steady."""


def district() -> g.Template:
    """Districts with KPI rows in the time range, by Vietnamese name; multi-select, All."""
    template = g.Template(
        name="district",
        label="Huyện / thị xã / thành phố",
        query=sql.district_variable_query(),
        dataSource=TIMESCALEDB.ref(),
        type="query",
        multi=True,
        includeAll=True,
        default="$__all",
        refresh=g.REFRESH_ON_TIME_RANGE_CHANGE,
        sort=g.SORT_DISABLED,
    )
    template._current = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return template


def window_kind() -> g.Template:
    """KPI window: 1-minute tumbling, 15-minute hopping (every minute) or 1-hour tumbling."""
    return g.Template(
        name="window_kind",
        label="Cửa sổ",
        query=",".join(WINDOW_KINDS),
        type="custom",
        default=DEFAULT_WINDOW_KIND,
        multi=False,
        includeAll=False,
    )


def sql_board_variables() -> g.Templating:
    """The variables every SQL board declares."""
    return g.Templating(list=[district(), window_kind()])

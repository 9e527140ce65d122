"""Run a board's panel queries outside Grafana, exactly as Grafana would send them.

Used by ``ioc dashboards preview`` / ``check`` and by the tests: every target of every panel
is taken from the generated JSON, its variables and macros expanded (``dashboards.macros``)
for the board's time range (or the panel's ``timeFrom``), then sent to TimescaleDB or to
Prometheus' HTTP API.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from common.errors import UserError
from dashboards.datasources import PROMETHEUS_SCRAPE_INTERVAL, TIMESCALEDB
from dashboards.macros import QueryContext, auto_interval, expand_promql, expand_sql, parse_duration

PROMETHEUS_SCRAPE_SECONDS = parse_duration(PROMETHEUS_SCRAPE_INTERVAL)
"""The Prometheus data source's ``timeInterval`` (used for ``$__rate_interval``)."""


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel, with what is needed to expand and run it."""

    board_uid: str
    panel_id: int
    panel_title: str
    panel_type: str
    ref_id: str
    datasource_uid: str
    text: str
    format: str
    instant: bool
    range_seconds: float
    max_data_points: int
    min_interval: str | None

    @property
    def is_sql(self) -> bool:
        """True for a TimescaleDB target."""
        return self.datasource_uid == TIMESCALEDB.uid

    @property
    def label(self) -> str:
        """``uid#panel/refId title`` for messages."""
        return f"{self.board_uid}#{self.panel_id}/{self.ref_id} {self.panel_title}"


@dataclass
class Frame:
    """A query result: column names and rows (SQL), or labelled series (PromQL)."""

    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    series: list[tuple[dict[str, str], list[tuple[float, float]]]] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def size(self) -> int:
        """Rows (SQL) or series (PromQL) returned."""
        return len(self.rows) + len(self.series)


def relative_seconds(expr: str) -> float:
    """Seconds in ``now-6h`` / ``6h`` (a board time or panel ``timeFrom``)."""
    return parse_duration(expr.removeprefix("now-"))


def walk_panels(board: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a board, including those nested in rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries(board: Mapping[str, Any]) -> list[PanelQuery]:
    """Every target of every panel of a board, in panel order."""
    board_range = relative_seconds(str(board["time"]["from"]))
    found: list[PanelQuery] = []
    for panel in walk_panels(board):
        panel_range = relative_seconds(panel["timeFrom"]) if panel.get("timeFrom") else board_range
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource") or {}
            is_sql = datasource.get("uid") == TIMESCALEDB.uid
            found.append(
                PanelQuery(
                    board_uid=str(board["uid"]),
                    panel_id=int(panel["id"]),
                    panel_title=str(panel.get("title", "")),
                    panel_type=str(panel["type"]),
                    ref_id=str(target["refId"]),
                    datasource_uid=str(datasource.get("uid", "")),
                    text=str(target["rawSql"] if is_sql else target["expr"]),
                    format=str(target.get("format", "time_series")),
                    instant=bool(target.get("instant", False)),
                    range_seconds=panel_range,
                    max_data_points=int(panel.get("maxDataPoints") or 100),
                    min_interval=panel.get("interval") or None,
                )
            )
    return found


def context(
    query: PanelQuery,
    now: datetime,
    variables: Mapping[str, Sequence[str]],
    quoted: frozenset[str] = frozenset({"district"}),
) -> QueryContext:
    """The time range, interval and variables Grafana would use for ``query`` at ``now``."""
    start = now - timedelta(seconds=query.range_seconds)
    interval = auto_interval(query.range_seconds, query.max_data_points, query.min_interval)
    return QueryContext(
        time_from=start,
        time_to=now,
        interval_seconds=interval,
        scrape_interval_seconds=PROMETHEUS_SCRAPE_SECONDS,
        variables=variables,
        quoted=quoted,
    )


def run_sql(conn: psycopg.Connection[Any], query: PanelQuery, ctx: QueryContext) -> Frame:
    """Expand and run an SQL target; the rows as Grafana would receive them."""
    text = expand_sql(query.text, ctx)
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(text.encode())
        rows = [tuple(r) for r in cur.fetchall()]
        columns = [d.name for d in cur.description or []]
    return Frame(columns=columns, rows=rows, elapsed_ms=(time.perf_counter() - started) * 1000)


def _prometheus_get(base_url: str, path: str, params: dict[str, str]) -> Any:
    url = f"{base_url.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read().decode(errors="replace")
        raise PromQLError(f"Prometheus {base_url} refused ({error.code}): {body}") from None
    except (OSError, ValueError) as error:
        raise UserError(
            f"Prometheus at {base_url} does not answer ({error}): start the local servers with "
            "`ioc dev up` or pass --prometheus-url"
        ) from None


class PromQLError(Exception):
    """Prometheus answered 4xx/5xx: the expression does not parse or cannot run."""


def run_promql(base_url: str, query: PanelQuery, ctx: QueryContext) -> Frame:
    """Expand and run a PromQL target (instant or range) against Prometheus' HTTP API."""
    expr = expand_promql(query.text, ctx)
    end = ctx.time_to.astimezone(UTC).timestamp()
    started = time.perf_counter()
    if query.instant:
        body = _prometheus_get(base_url, "/api/v1/query", {"query": expr, "time": f"{end:.3f}"})
    else:
        body = _prometheus_get(
            base_url,
            "/api/v1/query_range",
            {
                "query": expr,
                "start": f"{ctx.time_from.astimezone(UTC).timestamp():.3f}",
                "end": f"{end:.3f}",
                "step": f"{max(ctx.interval_seconds, 1.0):g}",
            },
        )
    elapsed = (time.perf_counter() - started) * 1000
    frame = Frame(elapsed_ms=elapsed)
    for item in body.get("data", {}).get("result", []):
        labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
        raw = item.get("values") or ([item["value"]] if "value" in item else [])
        points = [(float(t), float(v)) for t, v in raw]
        frame.series.append((labels, points))
    return frame

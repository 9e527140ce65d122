"""Grafana's query-time substitutions, reproduced so queries can run outside Grafana.

Grafana first interpolates template variables (``$district``, ``${window_kind}``, the
built-ins ``$__interval``, ``$__rate_interval`` ...) in the browser, then the PostgreSQL
data source expands its macros (``$__timeFilter(col)``, ``$__timeGroupAlias(col, 1m)`` ...)
on the server. :func:`expand_sql` and :func:`expand_promql` do the same, in the same order,
with the rules of Grafana's PostgreSQL data source in TimescaleDB mode:

- a variable that is multi-valued or has an "All" option becomes a comma-separated list of
  single-quoted literals (``'vi-thanh','nga-bay'``); any other variable is inserted with
  its single quotes doubled (so ``'$var'`` stays one literal), as Grafana's SQL data
  sources do (``SqlDatasource.interpolateVariable``);
- ``$__timeFilter(c)`` -> ``c BETWEEN 'from' AND 'to'`` (RFC 3339, UTC);
- ``$__timeFrom()`` / ``$__timeTo()`` -> ``'from'`` / ``'to'``;
- ``$__timeGroup(c, 5m)`` -> ``time_bucket('300s',c)``, ``$__timeGroupAlias`` adds
  ``AS "time"``; ``$__time(c)`` -> ``c AS "time"``.

A ``$__`` left over after expansion is an error: a board must only use what is reproduced
here, so what the tests run is what Grafana runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from common.durations import format_duration as common_format
from common.durations import parse_seconds

_MACRO = re.compile(r"\$__(\w+)\(([^)]*)\)")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)")


def parse_duration(text: str) -> float:
    """Seconds in a Grafana duration such as ``30s``, ``1m``, ``24h`` (quotes allowed)."""
    return parse_seconds(text.strip().strip("'\""))


def format_duration(seconds: float) -> str:
    """The shortest Grafana duration for a whole number of seconds (``60`` -> ``1m``)."""
    return common_format(timedelta(seconds=round(seconds)))


_ROUNDED_MS = (
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1500, 1000),
    (3500, 2000),
    (7500, 5000),
    (12500, 10000),
    (17500, 15000),
    (25000, 20000),
    (45000, 30000),
    (90000, 60000),
    (210000, 120000),
    (450000, 300000),
    (1050000, 600000),
    (2100000, 1200000),
    (2700000, 1800000),
    (5400000, 3600000),
    (9000000, 7200000),
    (16200000, 10800000),
    (32400000, 21600000),
    (86400000, 43200000),
    (604800000, 86400000),
    (1814400000, 604800000),
    (3628800000, 2592000000),
)


def auto_interval(range_seconds: float, max_data_points: int, min_interval: str | None) -> float:
    """Grafana's ``$__interval`` in seconds: range / max data points, rounded, floored.

    Rounding follows Grafana's ``roundInterval`` table; ``min_interval`` is the panel's (or
    data source's) minimum interval.
    """
    raw_ms = range_seconds * 1000 / max(1, max_data_points)
    rounded_ms = next((r for bound, r in _ROUNDED_MS if raw_ms < bound), 31536000000)
    floor = parse_duration(min_interval) if min_interval else 0.0
    return max(rounded_ms / 1000, floor)


@dataclass(frozen=True)
class QueryContext:
    """What Grafana knows when it sends a query: time range, interval and variables.

    ``variables`` maps a variable name to its selected values; names in ``quoted`` (the
    multi-valued or "All" variables) are rendered as quoted SQL lists.
    """

    time_from: datetime
    time_to: datetime
    interval_seconds: float = 60.0
    scrape_interval_seconds: float = 15.0
    variables: Mapping[str, Sequence[str]] = field(default_factory=dict)
    quoted: frozenset[str] = frozenset()

    def builtins(self) -> dict[str, str]:
        """Grafana's built-in variables for this context."""
        range_seconds = (self.time_to - self.time_from).total_seconds()
        rate = max(
            self.interval_seconds + self.scrape_interval_seconds, 4 * self.scrape_interval_seconds
        )
        return {
            "__interval": format_duration(self.interval_seconds),
            "__interval_ms": str(int(self.interval_seconds * 1000)),
            "__rate_interval": format_duration(rate),
            "__range": format_duration(range_seconds),
            "__range_s": str(int(range_seconds)),
        }


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def interpolate(text: str, ctx: QueryContext, *, sql: bool) -> str:
    """Replace template and built-in variables the way Grafana's front end does."""
    builtins = ctx.builtins()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in builtins:
            return builtins[name]
        if name not in ctx.variables:
            return match.group(0)
        values = list(ctx.variables[name])
        if sql and name in ctx.quoted:
            return ",".join(_sql_literal(v) for v in values)
        if not sql and len(values) > 1:
            return "(" + "|".join(re.escape(v) for v in values) + ")"
        value = values[0] if values else ""
        return value.replace("'", "''") if sql else value

    return _VARIABLE.sub(replace, text)


def _split_args(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",")] if raw.strip() else []


def _sql_macro(name: str, args: list[str], ctx: QueryContext) -> str:
    if name == "timeFilter" and len(args) == 1:
        return f"{args[0]} BETWEEN '{_rfc3339(ctx.time_from)}' AND '{_rfc3339(ctx.time_to)}'"
    if name == "timeFrom" and not args:
        return f"'{_rfc3339(ctx.time_from)}'"
    if name == "timeTo" and not args:
        return f"'{_rfc3339(ctx.time_to)}'"
    if name == "time" and len(args) == 1:
        return f'{args[0]} AS "time"'
    if name in ("timeGroup", "timeGroupAlias") and len(args) in (2, 3):
        bucket = f"time_bucket('{parse_duration(args[1]):.0f}s',{args[0]})"
        return bucket + (' AS "time"' if name == "timeGroupAlias" else "")
    raise ValueError(f"unsupported Grafana macro $__{name}({', '.join(args)})")


def expand_sql(text: str, ctx: QueryContext) -> str:
    """An SQL panel query as Grafana's PostgreSQL data source would send it."""
    interpolated = interpolate(text, ctx, sql=True)
    expanded = _MACRO.sub(
        lambda m: _sql_macro(m.group(1), _split_args(m.group(2)), ctx), interpolated
    )
    _refuse_leftovers(expanded)
    return expanded


def expand_promql(text: str, ctx: QueryContext) -> str:
    """A PromQL expression as Grafana would send it to Prometheus."""
    expanded = interpolate(text, ctx, sql=False)
    _refuse_leftovers(expanded)
    return expanded


def _refuse_leftovers(text: str) -> None:
    leftover = re.search(r"\$__\w+|\$\{\w+\}|\[\[\w+\]\]", text)
    if leftover is not None:
        raise ValueError(f"unexpanded Grafana variable or macro {leftover.group(0)!r} in query")

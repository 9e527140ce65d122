"""``ioc dashboards``: build the Grafana boards, check their queries, preview them as PNG."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from common import config
from common.errors import UserError
from dashboards.boards import BOARDS, by_slug
from dashboards.build import DEFAULT_ROOT, board_json, outputs, write
from dashboards.queries import PromQLError, context, panel_queries, run_promql, run_sql
from dashboards.variables import DEFAULT_WINDOW_KIND, WINDOW_KINDS
from schemas.places import District


def register(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``ioc dashboards build|check|preview``."""
    parser = add_parser(
        "dashboards",
        help="build the Grafana boards, check their queries, preview them",
        description="Build the Grafana boards, run their queries against TimescaleDB and "
        "Prometheus, or preview a board as a PNG.",
    )
    sub = parser.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)
    _register_build(sub.add_parser)
    _register_check(sub.add_parser)
    _register_preview(sub.add_parser)


def _register_build(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    build = add_parser(
        "build",
        help="write boards JSON and provisioning files",
        description="Write deploy/grafana/dashboards/*.json and the provisioning files "
        "(deterministic: same code, same bytes).",
    )
    build.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_ROOT,
        help=f"Grafana root to write (default {DEFAULT_ROOT})",
    )
    build.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the files under --out are stale",
    )
    build.set_defaults(handler=_build)


def _register_check(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    helptext = "run every panel query of every board; report rows and milliseconds"
    check = add_parser("check", help=helptext, description=helptext)
    _query_options(check)
    check.set_defaults(handler=_check)


def _register_preview(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    helptext = "render one board as a static PNG from the same queries"
    preview = add_parser("preview", help=helptext, description=helptext)
    preview.add_argument("board", choices=[s.slug for s in BOARDS])
    preview.add_argument("--out", type=Path, required=True, help="PNG file to write")
    _query_options(preview)
    preview.set_defaults(handler=_preview)


def _query_options(action: argparse.ArgumentParser) -> None:
    """Where the queries run and the values of the boards' variables (check and preview)."""
    action.add_argument(
        "--database-url", default=None, help="TimescaleDB URL (default IOC_DATABASE_URL)"
    )
    action.add_argument(
        "--prometheus-url",
        default=None,
        help="Prometheus base URL (default http://127.0.0.1:IOC_PROMETHEUS_PORT)",
    )
    action.add_argument(
        "--window-kind",
        choices=WINDOW_KINDS,
        default=DEFAULT_WINDOW_KIND,
        help=f"value of $window_kind (default {DEFAULT_WINDOW_KIND})",
    )
    action.add_argument(
        "--at",
        type=_moment,
        default=None,
        help="end of the time range of the TimescaleDB panels: an ISO time "
        "(2026-12-07T17:00:00+07:00; UTC without offset) or now (default). "
        "Prometheus panels show the pipeline now",
    )
    action.add_argument(
        "--district",
        action="append",
        choices=[d.value for d in District],
        help="value(s) of $district (repeatable; default All)",
    )


def _moment(text: str) -> datetime:
    """``now`` or an ISO time (UTC when it has no offset)."""
    if text.strip() == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use now or ISO, e.g. 2026-12-07T17:00:00+07:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _build(args: argparse.Namespace) -> int:
    root: Path = args.out
    if args.check:
        stale = [
            rel
            for rel, content in outputs().items()
            if not (root / rel).is_file() or (root / rel).read_bytes() != content
        ]
        for rel in stale:
            print(f"stale: {root / rel}")
        if stale:
            print("run `ioc dashboards build` and commit the result")
        return 1 if stale else 0
    changed = write(root)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(BOARDS)} boards under {root / 'dashboards'} ({len(changed)} files changed)")
    return 0


def _urls(args: argparse.Namespace) -> tuple[str, str]:
    settings = config.load()
    database_url = args.database_url or settings.database_url
    prometheus_url = args.prometheus_url or f"http://127.0.0.1:{settings.ports.prometheus}"
    return database_url, prometheus_url


def _variables(args: argparse.Namespace) -> dict[str, list[str]]:
    districts = args.district or [d.value for d in District]
    return {"district": districts, "window_kind": [args.window_kind]}


def _connect(database_url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(database_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise UserError(
            f"cannot reach TimescaleDB at {database_url.split('@')[-1]} ({error}). Start the "
            "local servers with `ioc dev up`, or pass --database-url / set IOC_DATABASE_URL"
        ) from None


def _check(args: argparse.Namespace) -> int:
    database_url, prometheus_url = _urls(args)
    variables = _variables(args)
    now = datetime.now(UTC)
    kpis_at = args.at or now
    failures = 0
    slowest = (0.0, "")
    with _connect(database_url) as conn:
        for spec in BOARDS:
            for query in panel_queries(board_json(spec.build())):
                ctx = context(query, kpis_at if query.is_sql else now, variables)
                try:
                    if query.is_sql:
                        frame = run_sql(conn, query, ctx)
                    else:
                        frame = run_promql(prometheus_url, query, ctx)
                except (psycopg.Error, PromQLError) as error:
                    failures += 1
                    print(f"FAIL  {query.label}: {str(error).splitlines()[0]}")
                    continue
                empty = query.is_sql and frame.size == 0
                failures += int(empty)
                status = "EMPTY" if empty else "ok   "
                print(f"{status} {frame.elapsed_ms:8.1f} ms {frame.size:5d} rows  {query.label}")
                if query.is_sql and frame.elapsed_ms > slowest[0]:
                    slowest = (frame.elapsed_ms, query.label)
    print(f"slowest SQL panel query: {slowest[0]:.1f} ms ({slowest[1]})")
    print("all queries ok" if not failures else f"{failures} queries failed or returned no rows")
    return 1 if failures else 0


def _preview(args: argparse.Namespace) -> int:
    from dashboards.preview import render

    database_url, prometheus_url = _urls(args)
    board = board_json(by_slug(args.board).build())
    with _connect(database_url) as conn:
        fetched = render(board, args.out, conn, prometheus_url, _variables(args), kpis_at=args.at)
    empty = sum(1 for data in fetched.values() if not any(f.size for f in data.frames))
    print(f"wrote {args.out}: {len(fetched)} panels, {empty} without data")
    return 0

"""Board structure, determinism and freshness of the committed JSON (no server needed)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from common import metrics
from dashboards import build, sql
from dashboards.boards import BOARDS, overview
from dashboards.datasources import DB_PASSWORD_ENV
from dashboards.kpis import AMBER, GREEN, RED, step_color, threshold_steps
from dashboards.macros import QueryContext, auto_interval, expand_promql, expand_sql
from dashboards.queries import panel_queries, walk_panels
from ioc.cli import main as ioc_main
from schemas.places import DISTRICT_NAMES
from streams.catalog import CATALOG, by_name

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
STATUS_COLOR = {"green": GREEN, "amber": AMBER, "red": RED}


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return {spec.slug: build.board_json(spec.build()) for spec in BOARDS}


def test_committed_files_are_fresh(tmp_path: Path) -> None:
    """Fails when dashboards/ changed without `ioc dashboards build` being run and committed."""
    assert ioc_main(["dashboards", "build", "--out", str(tmp_path)]) == 0
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert generated == sorted(Path(rel) for rel in build.outputs())
    for rel in generated:
        committed = GRAFANA / rel
        assert committed.is_file(), f"{committed} missing: run `ioc dashboards build`"
        assert committed.read_bytes() == (tmp_path / rel).read_bytes(), (
            f"{committed} is stale: run `ioc dashboards build` and commit the result"
        )
    assert ioc_main(["dashboards", "build", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "dashboards" / "overview.json").write_text("{}\n")
    assert ioc_main(["dashboards", "build", "--out", str(tmp_path), "--check"]) == 1


def test_same_code_same_bytes() -> None:
    assert build.outputs() == build.outputs()


def test_uids_fixed_and_unique(boards: dict[str, dict[str, Any]]) -> None:
    uids = [b["uid"] for b in boards.values()]
    assert uids == [f"ioc-{slug}" for slug in boards]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("slug", [spec.slug for spec in BOARDS])
def test_panels_unique_ids_inside_grid_no_overlap(
    boards: dict[str, dict[str, Any]], slug: str
) -> None:
    panels = list(walk_panels(boards[slug]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    cells: dict[tuple[int, int], int] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["w"] >= 1 and pos["h"] >= 1 and pos["x"] >= 0 and pos["y"] >= 0
        assert pos["x"] + pos["w"] <= 24, f"panel {panel['id']} leaves the 24-column grid"
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panels {cells[(x, y)]} and {panel['id']} overlap"
                cells[(x, y)] = panel["id"]


def test_overview_fits_a_1080p_wall_screen(boards: dict[str, dict[str, Any]]) -> None:
    board = boards["overview"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in walk_panels(board))
    assert rows == overview.HEIGHT <= 24
    assert 38 * rows - 8 <= 1080 - 40 - 48 - 40 - 32  # chrome shown: no scrolling
    assert board["refresh"] == "30s"
    kinds = [p["type"] for p in walk_panels(board)]
    assert kinds.count("stat") >= 6 and "table" in kinds and "timeseries" in kinds
    firing = [q for q in panel_queries(board) if "ALERTS" in q.text]
    assert firing and firing[0].instant


def _datasource_uids(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        ds = node.get("datasource")
        if isinstance(ds, dict):
            found.append(str(ds.get("uid")))
        elif ds is not None:
            found.append(f"<by name {ds!r}>")
        for key, value in node.items():
            if key != "datasource":
                found += _datasource_uids(value)
    elif isinstance(node, list):
        for item in node:
            found += _datasource_uids(item)
    return found


def test_every_datasource_reference_is_provisioned(boards: dict[str, dict[str, Any]]) -> None:
    text = (GRAFANA / "provisioning" / "datasources" / "ioc.yml").read_text()
    provisioned = {d["uid"]: d for d in yaml.safe_load(text)["datasources"]}
    for board in boards.values():
        refs = _datasource_uids(board)
        assert refs, "a board without data sources"
        unknown = set(refs) - set(provisioned)
        assert not unknown, f"{board['uid']} refers to unprovisioned data sources {unknown}"
    db = provisioned["ioc-timescaledb"]
    assert db["user"] == "ioc_grafana" and db["jsonData"]["timescaledb"] is True
    assert db["secureJsonData"]["password"] == f"${{{DB_PASSWORD_ENV}}}"
    assert provisioned["ioc-prometheus"]["url"] == "http://prometheus:9090"
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert (
        provisioned["ioc-prometheus"]["jsonData"]["timeInterval"]
        == (scrape["global"]["scrape_interval"])
    ), "Grafana's $__rate_interval assumes the data source's timeInterval is the scrape interval"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "ioc.yml").read_text())
    assert providers["providers"][0]["type"] == "file"


def test_every_catalog_kpi_is_on_a_board_with_its_unit(boards: dict[str, dict[str, Any]]) -> None:
    text = json.dumps(boards, ensure_ascii=False)
    missing = [k.name for k in CATALOG if f"'{k.name}'" not in text]
    assert not missing
    stats = {
        p["title"]: p["fieldConfig"]["defaults"]
        for b in boards.values()
        for p in walk_panels(b)
        if p["type"] == "stat"
    }
    for k in CATALOG:
        defaults = stats[k.title_vi]
        assert defaults["decimals"] == k.decimals
        assert defaults["thresholds"]["steps"] == threshold_steps(k.target)


def test_vietnamese_names_written_unescaped() -> None:
    raw = (GRAFANA / "dashboards" / "overview.json").read_text(encoding="utf-8")
    for name in DISTRICT_NAMES.values():
        assert name in raw
    assert "Trung tâm điều hành — Tổng quan" in raw


@given(st.sampled_from([k for k in CATALOG if k.target]), st.floats(-1e4, 1e4))
def test_threshold_colours_match_catalog_status(k: Any, value: float) -> None:
    assert k.target is not None
    steps = threshold_steps(k.target)
    assert step_color(steps, value) == STATUS_COLOR[k.target.status(value)]
    for edge in (k.target.value, k.target.amber):
        assert step_color(steps, edge) == STATUS_COLOR[k.target.status(edge)]


CTX = QueryContext(
    time_from=datetime(2025, 3, 1, 0, 0, tzinfo=UTC),
    time_to=datetime(2025, 3, 1, 3, 0, tzinfo=UTC),
    interval_seconds=120,
    variables={"district": ["vi-thanh", "o'hare"], "window_kind": ["15m"]},
    quoted=frozenset({"district"}),
)


def test_sql_macros_expand_like_grafana() -> None:
    sql = (
        "SELECT $__timeGroupAlias(window_start, $__interval), v FROM kpi WHERE "
        "$__timeFilter(window_start) AND district IN ($district) AND w = '$window_kind' "
        "AND t < $__timeTo() AND t >= $__timeFrom()"
    )
    assert expand_sql(sql, CTX) == (
        "SELECT time_bucket('120s',window_start) AS \"time\", v FROM kpi WHERE "
        "window_start BETWEEN '2025-03-01T00:00:00Z' AND '2025-03-01T03:00:00Z' "
        "AND district IN ('vi-thanh','o''hare') AND w = '15m' "
        "AND t < '2025-03-01T03:00:00Z' AND t >= '2025-03-01T00:00:00Z'"
    )


def test_unknown_macro_or_variable_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported Grafana macro"):
        expand_sql("SELECT $__unixEpochGroup(t, 1m)", CTX)
    with pytest.raises(ValueError, match="unexpanded"):
        expand_sql("SELECT ${nope}", CTX)


def test_promql_builtins() -> None:
    assert expand_promql("rate(x[$__rate_interval])", CTX) == "rate(x[135s])"
    assert expand_promql("x[$__range]", CTX) == "x[3h]"


def test_auto_interval_follows_grafana_rounding() -> None:
    assert auto_interval(3 * 3600, 100, "1m") == 120
    assert auto_interval(24 * 3600, 100, "1m") == 600
    assert auto_interval(600, 100, "1m") == 60
    assert auto_interval(600, 100, None) == 5


SERIES_SELECTOR = re.compile(r"\b(ioc_[a-z0-9_]+)(\{[^}]*\})?")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _owner(name: str) -> str:
    """``worker`` or ``sink``: the process whose registry exports series ``name``."""
    for job, registry in (("worker", metrics.WORKER_REGISTRY), ("sink", metrics.SINK_REGISTRY)):
        families = {m.name for m in registry.collect()}
        stripped = [name] + [name.removesuffix(s) for s in (*HISTOGRAM_SUFFIXES, "_total")]
        if families & set(stripped):
            return job
    raise AssertionError(f"{name} is exported by no process")


def test_board_promql_selects_the_job_exporting_each_series() -> None:
    queries = [q for spec in BOARDS for q in panel_queries(build.board_json(spec.build()))]
    seen = 0
    for query in (q for q in queries if not q.is_sql):
        for name, selector in SERIES_SELECTOR.findall(query.text):
            assert selector == f'{{job="{_owner(name)}"}}', f"{query.label}: {query.text}"
            seen += 1
    assert seen >= 20


def test_template_variables_reach_sql_only_through_the_whitelists() -> None:
    """Cut the whitelisted filters out of every SQL target: no variable may be left."""
    queries = [q for spec in BOARDS for q in panel_queries(build.board_json(spec.build()))]
    guarded = 0
    for query in (q for q in queries if q.is_sql):
        text = query.text
        filters = (sql.window_kind_filter(), sql.window_kind_filter(entity=True))
        guarded += sum(text.count(f) for f in (*filters, sql.district_filter()))
        rest = text
        for used in (*filters, sql.district_filter()):
            rest = rest.replace(used, "")
        assert not re.search(r"\$\{?(window_kind|district)\b", rest), query.label
    assert guarded >= 80


def test_single_value_variable_keeps_its_quotes_like_grafana() -> None:
    """Grafana doubles the ' of a single-valued SQL variable: '$window_kind' stays a literal."""
    variables = {"window_kind": ["1m' OR '1'='1"], "district": ["x');--"]}
    hostile = dataclasses.replace(CTX, variables=variables)
    expanded = expand_sql("w = '$window_kind' AND d IN ($district)", hostile)
    assert expanded == "w = '1m'' OR ''1''=''1' AND d IN ('x'');--')"


def _field_decimals(panel: dict[str, Any], field_name: str) -> Any:
    """Decimals Grafana uses for field ``field_name`` of ``panel`` (override, else default)."""
    config = panel["fieldConfig"]
    for override in config.get("overrides", []):
        if override["matcher"] == {"id": "byName", "options": field_name}:
            for prop in override["properties"]:
                if prop["id"] == "decimals":
                    return prop["value"]
    return config["defaults"].get("decimals")


PIVOT_COLUMN = re.compile(r"FILTER \(WHERE kpi = '([a-z0-9_.]+)'\) AS \"([^\"]+)\"")
SERIES_OF_KPI = re.compile(r"WHERE [^;]*?kpi = '([a-z0-9_.]+)'")
MAP_VALUE = re.compile(r"latest\.value AS \"([^\"]+)\"")


def test_every_panel_showing_a_kpi_uses_its_catalog_decimals(
    boards: dict[str, dict[str, Any]],
) -> None:
    """Stats, time series (each series) and table columns: KpiDef.decimals everywhere."""
    checked: set[tuple[str, str]] = set()
    for board in boards.values():
        for panel in walk_panels(board):
            for target in panel.get("targets", []):
                text = target.get("rawSql", "")
                if panel["type"] == "table":
                    shown = [(by_name(n), header) for n, header in PIVOT_COLUMN.findall(text)]
                elif panel["type"] == "geomap":
                    value = MAP_VALUE.search(text)
                    assert value is not None, panel["title"]
                    shown = [(by_name(n), value.group(1)) for n in SERIES_OF_KPI.findall(text)]
                else:
                    shown = [(by_name(n), by_name(n).title_vi) for n in SERIES_OF_KPI.findall(text)]
                for k, field_name in shown:
                    where = f"{board['uid']} / {panel['title']} / {field_name}"
                    assert _field_decimals(panel, field_name) == k.decimals, where
                    checked.add((panel["type"], k.name))
    everything = {k.name for k in CATALOG}
    for kind in ("stat", "timeseries"):
        assert {name for t, name in checked if t == kind} == everything, kind
    assert len({name for t, name in checked if t == "table"}) >= 15
    assert {name for t, name in checked if t == "geomap"} == {
        "network.availability_ratio",
        "farm.salinity_max_gl",
    }

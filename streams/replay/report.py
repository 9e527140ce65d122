"""The replay report: Markdown, JSON or CSV (by file extension) and a short stdout summary."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from streams.replay.compare import Comparison, Difference
from streams.replay.reading import Span
from streams.replay.recompute import TopicStats
from streams.replay.selection import Selection
from streams.replay.times import iso
from streams.windows import KpiResult

FORMATS: Final = (".md", ".json", ".csv")
MARKDOWN_MAX_DIFFERENCES: Final = 5000
CSV_COLUMNS: Final = (
    "difference",
    "fields",
    "kpi",
    "entity_kind",
    "entity_id",
    "district",
    "window_kind",
    "window_start",
    "window_end",
    "db_value",
    "replay_value",
    "db_count",
    "replay_count",
    "db_event_count",
    "replay_event_count",
    "source_topic",
    "source_partition",
    "db_first_offset",
    "db_last_offset",
    "replay_first_offset",
    "replay_last_offset",
)


@dataclass
class Report:
    """Everything a replay run found."""

    selection: Selection
    bootstrap: str
    database: str
    grace_seconds: float
    future_skew_seconds: float
    mode: str
    include_open: bool
    tolerance: float
    spans: list[Span]
    stats: dict[str, TopicStats]
    comparison: Comparison
    rows_replayed: int
    rows_stored: int
    events_read: int
    read_seconds: float
    total_seconds: float
    started_at: str
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Breaches of the key contract (an entity windowed in two partitions): exit 1."""
    missing_topics: list[str] = field(default_factory=list)
    replay_id: str | None = None
    audit_rows: int = 0
    republished: dict[str, int] = field(default_factory=dict)

    @property
    def differs(self) -> bool:
        """True when any compared row differs or the key contract was broken."""
        return bool(self.comparison.differences or self.errors)

    @property
    def events_per_second(self) -> float:
        """Records read (and recomputed) per second of reading."""
        return self.events_read / self.read_seconds if self.read_seconds > 0 else 0.0


def _lineage(row: KpiResult | None) -> str:
    if row is None:
        return "-"
    return (
        f"{row.source_topic}[{row.source_partition}] offsets {row.first_offset}..{row.last_offset}"
        f" ({row.event_count} events)"
    )


def _num(value: float | None) -> str:
    return "-" if value is None else repr(value)


def _difference_dict(diff: Difference) -> dict[str, Any]:
    row = diff.row
    out: dict[str, Any] = {
        "difference": diff.kind,
        "fields": list(diff.fields),
        "kpi": row.kpi,
        "entity_kind": row.entity_kind,
        "entity_id": row.entity_id,
        "district": row.district,
        "window_kind": row.window_kind,
        "window_start": iso(row.window_start),
        "window_end": iso(row.window_end),
    }
    for side, item in (("db", diff.db), ("replay", diff.replay)):
        out[side] = None
        if item is not None:
            out[side] = {
                "value": item.value,
                "count": item.count,
                "event_count": item.event_count,
                "source_topic": item.source_topic,
                "source_partition": item.source_partition,
                "first_offset": item.first_offset,
                "last_offset": item.last_offset,
            }
    return out


def _filters(sel: Selection) -> dict[str, list[str]]:
    return {
        "topics": list(sel.topics),
        "kpis": sorted(sel.kpis),
        "entities": [f"{k}:{i}" for k, i in sorted(sel.entities)],
        "windows": sorted(sel.windows),
    }


def to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-able data."""
    sel = report.selection
    comp = report.comparison
    return {
        "range": {"from": iso(sel.start), "to": iso(sel.end)},
        "started_at": report.started_at,
        "filters": _filters(sel),
        "settings": {
            "bootstrap": report.bootstrap,
            "database": report.database,
            "grace_seconds": report.grace_seconds,
            "future_skew_seconds": report.future_skew_seconds,
            "mode": report.mode,
            "include_open": report.include_open,
            "tolerance": report.tolerance,
        },
        "reading": {
            "events_read": report.events_read,
            "read_seconds": round(report.read_seconds, 3),
            "events_per_second": round(report.events_per_second),
            "total_seconds": round(report.total_seconds, 3),
            "missing_topics": report.missing_topics,
            "partitions": [
                {
                    "topic": s.topic,
                    "partition": s.partition,
                    "log_start": s.log_start,
                    "start": s.start,
                    "end": s.end,
                    "start_from": s.how,
                }
                for s in report.spans
            ],
        },
        "topics": {
            topic: {
                "all_read": stats.summary(),
                "in_range": stats.range_summary(),
                "invalid_by_reason": dict(sorted(stats.invalid.items())),
                "duplicates_by_kind": {
                    k: v for k, v in stats.outcomes.items() if k in ("redelivery", "event_id")
                },
            }
            for topic, stats in report.stats.items()
        },
        "comparison": {
            "rows_replayed": report.rows_replayed,
            "rows_stored": report.rows_stored,
            "rows_compared": comp.compared,
            "rows_equal": comp.equal,
            "differences": comp.counts,
            "lineage_only_differences": len(comp.lineage_only),
            "skipped_open_windows": {
                "replay": comp.skipped_open_replay,
                "db": comp.skipped_open_db,
            },
        },
        "differences": [_difference_dict(d) for d in comp.differences],
        "lineage_only": [_difference_dict(d) for d in comp.lineage_only],
        "warnings": report.warnings,
        "errors": report.errors,
        "into_table": (
            None
            if report.replay_id is None
            else {"table": "kpi_audit", "replay_id": report.replay_id, "rows": report.audit_rows}
        ),
        "republished": report.republished,
    }


def to_json(report: Report) -> bytes:
    """The report as indented JSON."""
    return orjson.dumps(to_dict(report), option=orjson.OPT_INDENT_2) + b"\n"


def to_csv(report: Report) -> str:
    """One line per difference (lineage-only differences included, marked ``lineage``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for kind, diffs in (
        ("", report.comparison.differences),
        ("lineage", report.comparison.lineage_only),
    ):
        for diff in diffs:
            row = diff.row
            db, mine = diff.db, diff.replay
            writer.writerow(
                (
                    kind or diff.kind,
                    "|".join(diff.fields),
                    row.kpi,
                    row.entity_kind,
                    row.entity_id,
                    row.district,
                    row.window_kind,
                    iso(row.window_start),
                    iso(row.window_end),
                    "" if db is None else repr(db.value),
                    "" if mine is None else repr(mine.value),
                    "" if db is None else db.count,
                    "" if mine is None else mine.count,
                    "" if db is None else db.event_count,
                    "" if mine is None else mine.event_count,
                    row.source_topic,
                    row.source_partition,
                    "" if db is None else db.first_offset,
                    "" if db is None else db.last_offset,
                    "" if mine is None else mine.first_offset,
                    "" if mine is None else mine.last_offset,
                )
            )
    return buffer.getvalue()


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(report: Report) -> str:
    """A readable report."""
    comp = report.comparison
    sel = report.selection
    out = [
        "# KPI replay report",
        "",
        f"- Range (event time): **{iso(sel.start)}** to **{iso(sel.end)}** (windows inside it)",
        f"- Verdict: **{_verdict(report)}**",
        f"- Started: {report.started_at}; took {report.total_seconds:.1f} s "
        f"(reading and recomputing {report.read_seconds:.1f} s, "
        f"{report.events_per_second:,.0f} events/s)",
        f"- Kafka: `{report.bootstrap}`; database: `{report.database}`",
        f"- Mode: {report.mode}; grace {report.grace_seconds:g} s; future skew "
        f"{report.future_skew_seconds:g} s; tolerance "
        + ("exact" if not report.tolerance else f"{report.tolerance:g} relative")
        + ("; open windows included" if report.include_open else ""),
    ]
    filters = _filters(sel)
    for name in ("kpis", "entities", "windows"):
        if filters[name]:
            out.append(f"- Filter {name}: {', '.join(filters[name])}")
    if report.replay_id:
        out.append(
            f"- Recomputed rows written to `kpi_audit` with replay_id `{report.replay_id}` "
            f"({report.audit_rows} rows)"
        )
    for topic, n in report.republished.items():
        out.append(f"- Republished {n} raw records of the range to `{topic}`")
    out += ["", "## Events", ""]
    out.append(
        "| topic | read | windowed | late | invalid | duplicate | outside the range | in range | "
        "in range windowed | in range late | in range invalid | in range duplicate |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for topic, stats in report.stats.items():
        a, r = stats.summary(), stats.range_summary()
        out.append(
            f"| {topic} | {a['read']} | {a['windowed']} | {a['late']} | {a['invalid']} | "
            f"{a['duplicate']} | {a['outside']} | {r['events']} | {r['windowed']} | "
            f"{r['late']} | {r['invalid']} | {r['duplicate']} |"
        )
    out += [
        "",
        "Outside the range: valid events, not late, whose minute lies outside the range; "
        "replay moves the watermark with them (lateness depends on every event) but folds "
        "them into no window, so it does not tell windowed from duplicate for them.",
    ]
    if report.missing_topics:
        out.append("")
        out.append(f"Topics missing on the broker: {', '.join(report.missing_topics)}")
    out += ["", "## Partitions read", "", "| topic | partition | from offset | to offset | start |"]
    out.append("|---|---:|---:|---:|---|")
    for s in report.spans:
        out.append(f"| {s.topic} | {s.partition} | {s.start} | {s.end} | {s.how} |")
    counts = comp.counts
    out += [
        "",
        "## Comparison",
        "",
        f"- Rows recomputed: {report.rows_replayed}; rows in the database: {report.rows_stored}",
        f"- Rows compared: {comp.compared}; equal: {comp.equal}",
        f"- Missing in the database: {counts['missing_in_db']}; extra in the database: "
        f"{counts['extra_in_db']}; changed: {counts['changed']}",
        f"- Equal values with different lineage: {len(comp.lineage_only)}",
        f"- Not compared, window still open at the end of the log: "
        f"{comp.skipped_open_replay} recomputed, {comp.skipped_open_db} stored",
    ]
    if report.errors:
        out += ["", "## Errors", ""]
        out += [f"- {e}" for e in report.errors]
    if report.warnings:
        out += ["", "## Warnings", ""]
        out += [f"- {w}" for w in report.warnings]
    if comp.differences:
        out += ["", "## Differences", ""]
        out.append(
            "| difference | kpi | entity | window | db value | replay value | db count | "
            "replay count | db events | replay events | db lineage | replay lineage |"
        )
        out.append("|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---|")
        for diff in comp.differences[:MARKDOWN_MAX_DIFFERENCES]:
            row, db, mine = diff.row, diff.db, diff.replay
            kind = diff.kind + (f" ({', '.join(diff.fields)})" if diff.fields else "")
            out.append(
                "| "
                + " | ".join(
                    _md_escape(cell)
                    for cell in (
                        kind,
                        row.kpi,
                        f"{row.entity_kind}:{row.entity_id}",
                        f"{row.window_kind} {iso(row.window_start)}",
                        _num(None if db is None else db.value),
                        _num(None if mine is None else mine.value),
                        "-" if db is None else str(db.count),
                        "-" if mine is None else str(mine.count),
                        "-" if db is None else str(db.event_count),
                        "-" if mine is None else str(mine.event_count),
                        _lineage(db),
                        _lineage(mine),
                    )
                )
                + " |"
            )
        hidden = len(comp.differences) - MARKDOWN_MAX_DIFFERENCES
        if hidden > 0:
            out.append("")
            out.append(f"{hidden} more differences: write a .json or .csv report to see all.")
    return "\n".join(out) + "\n"


def _verdict(report: Report) -> str:
    comp = report.comparison
    if report.errors:
        return f"{len(report.errors)} entities in two partitions (the key contract is broken)"
    if report.differs:
        return f"{len(comp.differences)} of {comp.compared} rows differ"
    return f"all {comp.compared} compared rows equal"


def summary(report: Report, max_differences: int = 20) -> str:
    """A few lines for stdout."""
    sel = report.selection
    comp = report.comparison
    counts = comp.counts
    lines = [
        f"replay {iso(sel.start)} .. {iso(sel.end)}: {_verdict(report)}",
        f"  read {report.events_read} records in {report.read_seconds:.1f} s "
        f"({report.events_per_second:,.0f}/s), {report.mode}",
    ]
    for topic, stats in report.stats.items():
        a, r = stats.summary(), stats.range_summary()
        lines.append(
            f"  {topic}: read {a['read']} (windowed {a['windowed']}, late {a['late']}, "
            f"invalid {a['invalid']}, duplicate {a['duplicate']}, outside the range "
            f"{a['outside']}); in range {r['events']} (late {r['late']}, invalid "
            f"{r['invalid']}, duplicate {r['duplicate']})"
        )
    lines.append(
        f"  rows: recomputed {report.rows_replayed}, stored {report.rows_stored}, "
        f"compared {comp.compared}, equal {comp.equal}, missing in db "
        f"{counts['missing_in_db']}, extra in db {counts['extra_in_db']}, changed "
        f"{counts['changed']}; not compared (open windows) "
        f"{comp.skipped_open_replay + comp.skipped_open_db}"
    )
    if comp.lineage_only:
        lines.append(f"  {len(comp.lineage_only)} rows have equal values but different lineage")
    for error in report.errors:
        lines.append(f"  error: {error}")
    for warning in report.warnings:
        lines.append(f"  warning: {warning}")
    for diff in comp.differences[:max_differences]:
        row = diff.row
        what = f"{diff.kind}"
        if diff.kind == "changed" and diff.db is not None and diff.replay is not None:
            parts = []
            for name in diff.fields:
                parts.append(
                    f"{name} db={getattr(diff.db, name)!r} replay={getattr(diff.replay, name)!r}"
                )
            what += " " + ", ".join(parts)
        lines.append(
            f"  - {row.kpi} {row.entity_kind}:{row.entity_id} {row.window_kind} "
            f"{iso(row.window_start)}: {what}; lineage {_lineage(diff.replay or diff.db)}"
        )
    hidden = len(comp.differences) - max_differences
    if hidden > 0:
        lines.append(f"  ... {hidden} more differences (see --report)")
    return "\n".join(lines)


def write(report: Report, path: Path) -> None:
    """Write the report in the format of ``path``'s extension (.md, .json, .csv)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_bytes(to_json(report))
    elif suffix == ".csv":
        path.write_text(to_csv(report), encoding="utf-8")
    elif suffix == ".md":
        path.write_text(to_markdown(report), encoding="utf-8")
    else:
        raise ValueError(f"report {path}: use a .md, .json or .csv file name")

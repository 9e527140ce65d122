"""The replay report as a file: Markdown, JSON or CSV, by file extension."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Final

import orjson

from streams.replay.compare import Difference
from streams.replay.report import Report, filters, lineage, number, verdict
from streams.replay.times import iso

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


def to_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-able data."""
    sel = report.selection
    comp = report.comparison
    return {
        "range": {"from": iso(sel.start), "to": iso(sel.end)},
        "started_at": report.started_at,
        "filters": filters(sel),
        "settings": _settings_dict(report),
        "reading": _reading_dict(report),
        "topics": _topics_dict(report),
        "comparison": _comparison_dict(report),
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


def _settings_dict(report: Report) -> dict[str, Any]:
    return {
        "bootstrap": report.bootstrap,
        "database": report.database,
        "grace_seconds": report.grace_seconds,
        "future_skew_seconds": report.future_skew_seconds,
        "mode": report.mode,
        "include_open": report.include_open,
        "tolerance": report.tolerance,
    }


def _reading_dict(report: Report) -> dict[str, Any]:
    return {
        "events_read": report.events_read,
        "read_seconds": round(report.read_seconds, 3),
        "events_per_second": round(report.events_per_second),
        "clock_notes": report.clock_notes,
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
    }


def _topics_dict(report: Report) -> dict[str, Any]:
    return {
        topic: {
            "all_read": stats.summary(),
            "in_range": stats.range_summary(),
            "invalid_by_reason": dict(sorted(stats.invalid.items())),
            "duplicates_by_kind": {
                k: v for k, v in stats.outcomes.items() if k in ("redelivery", "event_id")
            },
        }
        for topic, stats in report.stats.items()
    }


def _comparison_dict(report: Report) -> dict[str, Any]:
    comp = report.comparison
    return {
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
    out = [
        *_md_header(report),
        *_md_events(report),
        *_md_partitions(report),
        *_md_comparison(report),
        *_md_notes("Errors", report.errors),
        *_md_notes("Warnings", report.warnings),
        *_md_differences(report),
    ]
    return "\n".join(out) + "\n"


def _md_header(report: Report) -> list[str]:
    sel = report.selection
    out = [
        "# KPI replay report",
        "",
        f"- Range (event time): **{iso(sel.start)}** to **{iso(sel.end)}** (windows inside it)",
        f"- Verdict: **{verdict(report)}**",
        f"- Started: {report.started_at}; took {report.total_seconds:.1f} s "
        f"(reading and recomputing {report.read_seconds:.1f} s, "
        f"{report.events_per_second:,.0f} events/s)",
        f"- Kafka: `{report.bootstrap}`; database: `{report.database}`",
        f"- Mode: {report.mode}; grace {report.grace_seconds:g} s; future skew "
        f"{report.future_skew_seconds:g} s; tolerance "
        + ("exact" if not report.tolerance else f"{report.tolerance:g} relative")
        + ("; open windows included" if report.include_open else ""),
        f"- Records judged by a worker's noted wall clock (city.clock.v1): {report.clock_notes}",
    ]
    chosen = filters(sel)
    for name in ("kpis", "entities", "windows"):
        if chosen[name]:
            out.append(f"- Filter {name}: {', '.join(chosen[name])}")
    if report.replay_id:
        out.append(
            f"- Recomputed rows written to `kpi_audit` with replay_id `{report.replay_id}` "
            f"({report.audit_rows} rows)"
        )
    for topic, n in report.republished.items():
        out.append(f"- Republished {n} raw records of the range to `{topic}`")
    return out


def _md_events(report: Report) -> list[str]:
    out = [
        "",
        "## Events",
        "",
        "| topic | read | windowed | late | invalid | duplicate | outside the range | in range | "
        "in range windowed | in range late | in range invalid | in range duplicate |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
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
        out += ["", f"Topics missing on the broker: {', '.join(report.missing_topics)}"]
    return out


def _md_partitions(report: Report) -> list[str]:
    out = ["", "## Partitions read", "", "| topic | partition | from offset | to offset | start |"]
    out.append("|---|---:|---:|---:|---|")
    for s in report.spans:
        out.append(f"| {s.topic} | {s.partition} | {s.start} | {s.end} | {s.how} |")
    return out


def _md_comparison(report: Report) -> list[str]:
    comp = report.comparison
    counts = comp.counts
    return [
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


def _md_notes(title: str, notes: list[str]) -> list[str]:
    return ["", f"## {title}", "", *(f"- {note}" for note in notes)] if notes else []


def _md_differences(report: Report) -> list[str]:
    differences = report.comparison.differences
    if not differences:
        return []
    out = [
        "",
        "## Differences",
        "",
        "| difference | kpi | entity | window | db value | replay value | db count | "
        "replay count | db events | replay events | db lineage | replay lineage |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    out += [_md_difference_row(diff) for diff in differences[:MARKDOWN_MAX_DIFFERENCES]]
    hidden = len(differences) - MARKDOWN_MAX_DIFFERENCES
    if hidden > 0:
        out += ["", f"{hidden} more differences: write a .json or .csv report to see all."]
    return out


def _md_difference_row(diff: Difference) -> str:
    row, db, mine = diff.row, diff.db, diff.replay
    kind = diff.kind + (f" ({', '.join(diff.fields)})" if diff.fields else "")
    cells = (
        kind,
        row.kpi,
        f"{row.entity_kind}:{row.entity_id}",
        f"{row.window_kind} {iso(row.window_start)}",
        number(None if db is None else db.value),
        number(None if mine is None else mine.value),
        "-" if db is None else str(db.count),
        "-" if mine is None else str(mine.count),
        "-" if db is None else str(db.event_count),
        "-" if mine is None else str(mine.event_count),
        lineage(db),
        lineage(mine),
    )
    return "| " + " | ".join(_md_escape(cell) for cell in cells) + " |"


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

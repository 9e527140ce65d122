"""The replay report (what a replay run found) and its short stdout summary; the files it is
written to are made by `streams.replay.report_files`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from streams.replay.compare import Comparison
from streams.replay.reading import Span
from streams.replay.recompute import TopicStats
from streams.replay.selection import Selection
from streams.replay.times import iso
from streams.window_rows import KpiRow

FORMATS: Final = (".md", ".json", ".csv")


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
    clock_notes: int = 0
    """Records judged by the wall-clock time a worker noted (streams.clocknotes)."""

    @property
    def differs(self) -> bool:
        """True when any compared row differs or the key contract was broken."""
        return bool(self.comparison.differences or self.errors)

    @property
    def events_per_second(self) -> float:
        """Records read (and recomputed) per second of reading."""
        return self.events_read / self.read_seconds if self.read_seconds > 0 else 0.0


def lineage(row: KpiRow | None) -> str:
    """Where a row's events came from: topic, partition, offsets and count."""
    if row is None:
        return "-"
    return (
        f"{row.source_topic}[{row.source_partition}] offsets {row.first_offset}..{row.last_offset}"
        f" ({row.event_count} events)"
    )


def number(value: float | None) -> str:
    """A value as the report prints it (``-`` when absent)."""
    return "-" if value is None else repr(value)


def filters(sel: Selection) -> dict[str, list[str]]:
    """The selection's filters by name."""
    return {
        "topics": list(sel.topics),
        "kpis": sorted(sel.kpis),
        "entities": [f"{k}:{i}" for k, i in sorted(sel.entities)],
        "windows": sorted(sel.windows),
    }


def verdict(report: Report) -> str:
    """One line: equal, how many rows differ, or the broken key contract."""
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
        f"replay {iso(sel.start)} .. {iso(sel.end)}: {verdict(report)}",
        f"  read {report.events_read} records in {report.read_seconds:.1f} s "
        f"({report.events_per_second:,.0f}/s), {report.mode}",
    ]
    if report.clock_notes:
        lines.append(
            f"  {report.clock_notes} records judged by the wall clock their worker noted "
            "(city.clock.v1)"
        )
    for topic, stats in report.stats.items():
        a, r = stats.summary(), stats.range_summary()
        lines.append(
            f"  {topic}: read {a['read']} (windowed {a['windowed']}, late {a['late']}, "
            f"invalid {a['invalid']}, duplicate {a['duplicate']}, re-routed {a['rerouted']}, "
            f"outside the range {a['outside']}); in range {r['events']} (late {r['late']}, invalid "
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
            f"{iso(row.window_start)}: {what}; lineage {lineage(diff.replay or diff.db)}"
        )
    hidden = len(comp.differences) - max_differences
    if hidden > 0:
        lines.append(f"  ... {hidden} more differences (see --report)")
    return "\n".join(lines)

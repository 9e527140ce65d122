"""What a simulator run sent: counts per topic, fault kind and expected rejection."""

from __future__ import annotations

from collections import Counter
from typing import Any

from simulator.generator import Message
from simulator.timefmt import iso


class Summary:
    """Counts messages as they are sent; ``as_dict`` is the ``--summary-json`` document.

    Per topic: ``messages`` sent; ``valid`` = messages that decode (clean, duplicate, late,
    out-of-order); ``clean`` = valid minus duplicates and late events (what the workers
    should window); ``faults`` by kind; ``rejected`` by the expected ``reason_kind``.
    """

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str | None, str | None]] = Counter()
        self.first_sim_ms: int | None = None
        self.last_sim_ms: int | None = None
        self.min_occurred_ms: int | None = None
        self.max_occurred_ms: int | None = None

    def add(self, message: Message) -> None:
        """Count one sent message."""
        self._counts[(message.topic, message.fault, message.expect)] += 1
        if self.first_sim_ms is None:
            self.first_sim_ms = message.sim_ms
        self.last_sim_ms = message.sim_ms
        occurred = message.occurred_ms
        if occurred is not None:
            if self.min_occurred_ms is None or occurred < self.min_occurred_ms:
                self.min_occurred_ms = occurred
            if self.max_occurred_ms is None or occurred > self.max_occurred_ms:
                self.max_occurred_ms = occurred

    @property
    def messages(self) -> int:
        """Messages counted so far."""
        return sum(self._counts.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts (deterministic for a deterministic run)."""
        topics: dict[str, dict[str, Any]] = {}
        for (topic, fault, expect), count in sorted(
            self._counts.items(), key=lambda item: tuple(str(part) for part in item[0])
        ):
            entry = topics.setdefault(
                topic, {"messages": 0, "valid": 0, "clean": 0, "faults": {}, "rejected": {}}
            )
            entry["messages"] += count
            if fault is not None:
                entry["faults"][fault] = entry["faults"].get(fault, 0) + count
            if expect is None:
                entry["valid"] += count
                if fault not in ("duplicate", "late"):
                    entry["clean"] += count
            else:
                entry["rejected"][expect] = entry["rejected"].get(expect, 0) + count
        totals: dict[str, Any] = {
            "messages": 0,
            "valid": 0,
            "clean": 0,
            "faults": {},
            "rejected": {},
        }
        for entry in topics.values():
            for name in ("messages", "valid", "clean"):
                totals[name] += entry[name]
            for group in ("faults", "rejected"):
                for kind, count in entry[group].items():
                    totals[group][kind] = totals[group].get(kind, 0) + count
        return {
            "topics": topics,
            "totals": totals,
            "sim_clock": _range(self.first_sim_ms, self.last_sim_ms),
            "event_time": _range(self.min_occurred_ms, self.max_occurred_ms),
        }


def _range(low: int | None, high: int | None) -> dict[str, str | None]:
    return {
        "from": None if low is None else iso(low),
        "to": None if high is None else iso(high),
    }


def render_text(summary: dict[str, Any]) -> str:
    """A few human-readable lines of a summary document."""
    lines = []
    for topic, entry in summary["topics"].items():
        extras = ", ".join(f"{k} {v}" for k, v in sorted(entry["faults"].items()))
        lines.append(
            f"{topic}: {entry['messages']} messages, {entry['valid']} valid, "
            f"{entry['clean']} clean" + (f"; faults: {extras}" if extras else "")
        )
    totals = summary["totals"]
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(totals["rejected"].items()))
    lines.append(
        f"total: {totals['messages']} messages, {totals['valid']} valid"
        + (f"; expected rejections: {rejected}" if rejected else "")
    )
    clock = summary["sim_clock"]
    lines.append(f"simulated time: {clock['from']} .. {clock['to']}")
    for key in ("elapsed_seconds", "events_per_second"):
        if key in summary:
            lines.append(f"{key.replace('_', ' ')}: {summary[key]}")
    return "\n".join(lines)

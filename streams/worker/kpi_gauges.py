"""What closed windows tell Prometheus: rows emitted per window kind, and the newest
1-minute value of every alertable KPI per entity (the gauges the KPI alert rules read)."""

from __future__ import annotations

from typing import Final

from common import metrics
from streams.catalog import ALERTABLE
from streams.windows import WINDOW_KINDS, Closing

_ALERTABLE_NAMES: Final = frozenset(k.name for k in ALERTABLE)
Labels = tuple[str, str, str, str]
"""(kpi, entity kind, entity id, district)."""


class KpiGauges:
    """``ioc_kpi_last_value`` and ``ioc_kpi_last_window_end`` per alertable KPI and entity
    (at most ``metrics.SERIES_CAP`` series), and ``ioc_kpi_rows_emitted_total``."""

    def update(self, closings: dict[int, Closing]) -> None:
        """Count the rows of ``closings`` and set the gauges to the newest minute of each."""
        emitted = dict.fromkeys(WINDOW_KINDS.values(), 0)
        latest: dict[Labels, tuple[float, int]] = {}
        for closing in closings.values():
            rows, newest = closing.emitted(_ALERTABLE_NAMES)
            for kind, n in rows.items():
                emitted[kind] += n
            if not latest:
                latest = newest
                continue
            for labels, seen in newest.items():
                other = latest.get(labels)
                if other is None or other[1] <= seen[1]:
                    latest[labels] = seen
        metrics.KPI_LAST.set_all(latest.items())
        for kind, n in emitted.items():
            if n:
                metrics.KPI_ROWS_EMITTED.labels(window=kind).inc(n)

"""The operations wall as pictures: a PNG of every board, for a newcomer without Grafana."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import psycopg

from common.errors import UserError
from dashboards.boards import BOARDS
from dashboards.build import board_json
from dashboards.variables import DEFAULT_WINDOW_KIND
from schemas.places import District


def write_board_pngs(
    out_dir: Path, database_url: str, prometheus_url: str, kpis_at: datetime
) -> list[tuple[Path, int, int]]:
    """Render every board into ``out_dir/<slug>.png`` with the boards' default variables.

    Returns (path, panels, panels with data) per board. KPI panels show the range ending
    ``kpis_at``, Prometheus panels the pipeline now.
    """
    try:
        from dashboards.preview import render  # matplotlib: the dev and preview extras
    except ImportError as error:
        raise UserError(
            f"cannot draw the boards ({error}); install the preview extra: "
            "pip install -e '.[preview]'"
        ) from None
    variables = {"district": [d.value for d in District], "window_kind": [DEFAULT_WINDOW_KIND]}
    written = []
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        for spec in BOARDS:
            path = out_dir / f"{spec.slug}.png"
            fetched = render(
                board_json(spec.build()), path, conn, prometheus_url, variables, kpis_at=kpis_at
            )
            with_data = sum(1 for data in fetched.values() if any(f.size for f in data.frames))
            written.append((path, len(fetched), with_data))
    return written

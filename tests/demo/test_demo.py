"""The README's main job: ``ioc demo`` end to end, its printed figures checked against the
database (not against its own printout)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from common.config import Settings
from dashboards.boards import BOARDS
from schemas.places import DISTRICT_NAMES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IOC = str(Path(sys.executable).parent / "ioc")
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def test_demo_runs_end_to_end_and_its_summary_matches_the_database(
    settings: Settings, tmp_path: Path
) -> None:
    summary_file = tmp_path / "demo.json"
    result = subprocess.run(
        [IOC, "demo", "--hours", "0.75", "--summary-json", str(summary_file), "--timeout", "400"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Conservation" in result.stdout and "Where to look next" in result.stdout
    summary = json.loads(summary_file.read_text())
    figures = summary["conservation"]
    assert figures["balanced"] and figures["consumed"] == summary["sent"] > 10_000
    assert figures["dead_lettered"] > 0 and figures["duplicates"] > 0 and figures["late"] > 0
    start, end_of_period = (datetime.fromisoformat(summary["period"][k]) for k in ("start", "end"))
    local_start, local_end = start.astimezone(LOCAL), end_of_period.astimezone(LOCAL)
    assert local_start.weekday() < 5 and local_start.date() == local_end.date()
    assert time(7) <= local_start.time() and local_end.time() <= time(17), (start, end_of_period)
    boards = summary["boards"]
    assert boards.keys() == {spec.slug for spec in BOARDS}
    for slug, board in boards.items():
        assert Path(board["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert board["png"] in result.stdout
        if slug in ("services", "network", "agriculture"):
            assert board["with_data"] == board["panels"], (slug, board)
    latest = summary["latest"]
    assert {"farm.salinity_max_gl", "network.availability_ratio"} <= latest.keys()
    assert len(latest["portal.on_time_rate"]) == len(DISTRICT_NAMES)
    query = """
        SELECT value, window_end FROM kpi
        WHERE kpi = %s AND entity_kind = 'district' AND entity_id = %s AND window_kind = '15m'
          AND window_end <= %s
        ORDER BY window_end DESC LIMIT 1
    """
    with psycopg.connect(settings.database_url) as conn:
        for kpi, districts in latest.items():
            for district, (value, end) in districts.items():
                row = conn.execute(query, (kpi, district, end_of_period)).fetchone()
                assert row is not None, (kpi, district)
                assert (row[0], row[1].isoformat()) == (value, end), (kpi, district)
        salinity = latest["farm.salinity_max_gl"]
        others = max(v for d, (v, _) in salinity.items() if d != "long-my")
        assert salinity["long-my"][0] > 2 * others, "the salinity intrusion shows in Long My"
        outage = latest["network.availability_ratio"]
        assert outage["phung-hiep"][0] < min(v for d, (v, _) in outage.items() if d != "phung-hiep")

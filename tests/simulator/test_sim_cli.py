"""``ioc simulate`` in file mode, its argument parsing and its pacing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
import pytest

from common.errors import UserError
from ioc.cli import build_parser, main
from schemas.decode import Rejection, decode
from simulator.cli import make_plan, parse_start
from simulator.generator import Message
from simulator.output import SLACK, Pacer, paced_chunks, read_jsonl

START = "2025-03-14T01:00:00Z"
FAULTS = [
    "--malformed",
    "0.05",
    "--invalid",
    "0.05",
    "--duplicates",
    "0.05",
    "--late",
    "0.05",
    "--future",
    "0.05",
    "--out-of-order",
    "0.05",
]


def _simulate(tmp_path: Path, name: str, *extra: str) -> tuple[bytes, dict[str, Any]]:
    out, summary = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.json"
    argv = ["simulate", "--out", str(out), "--summary-json", str(summary), "--start", START]
    assert main([*argv, *extra]) == 0
    return out.read_bytes(), orjson.loads(summary.read_bytes())


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    args = ["--sim-duration", "4m", "--seed", "7", *FAULTS, "--scenario", "site-outage"]
    first, summary = _simulate(tmp_path, "a", *args)
    second, _ = _simulate(tmp_path, "b", *args)
    other, _ = _simulate(tmp_path, "c", *[a if a != "7" else "8" for a in args])
    assert first == second
    assert first != other
    assert first.endswith(b"\n") and first.count(b"\n") == summary["totals"]["messages"]


def test_file_lines_decode_as_the_summary_says(tmp_path: Path) -> None:
    _, summary = _simulate(tmp_path, "s", "--sim-duration", "3m", *FAULTS, "--topic-prefix", "t1.")
    rejected: dict[str, int] = {}
    valid = 0
    for topic, key, value, timestamp_ms in read_jsonl(tmp_path / "s.jsonl"):
        assert topic.startswith("t1.city.") and key
        result = decode(topic, value, produced_at_ms=timestamp_ms)
        if isinstance(result, Rejection):
            rejected[result.reason_kind] = rejected.get(result.reason_kind, 0) + 1
        else:
            valid += 1
    totals = summary["totals"]
    assert valid == totals["valid"]
    assert rejected == totals["rejected"]
    assert summary["start"] == "2025-03-14T01:00:00.000Z"
    assert summary["sim_clock"]["to"] < "2025-03-14T01:03:00"


def test_events_limit_and_sources(tmp_path: Path) -> None:
    data, summary = _simulate(
        tmp_path, "n", "--events", "1234", "--sources", "farm", "--topics", "farm=sensors"
    )
    assert summary["totals"]["messages"] == 1234
    assert set(summary["topics"]) == {"sensors"}
    assert data.count(b"\n") == 1234


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenario", "flood"], "bad --scenario"),
        (["--scenario", "site-outage=hanoi"], "bad --scenario"),
        (["--topics", "weather=x"], "bad topic override"),
        (["--start", "yesterday"], "bad --start"),
        (["--malformed", "0.7", "--invalid", "0.7"], "exceed 1"),
        (["--sources", "portal,weather"], "sources must be"),
    ],
)
def test_user_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main(["simulate", "--out", str(tmp_path / "x.jsonl"), "--events", "1", *argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_unreachable_kafka_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--events", "5", "--bootstrap", "127.0.0.1:1"]) == 2
    assert "ioc dev up" in capsys.readouterr().err


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    text = capsys.readouterr().out
    for option in ("--rate", "--sim-duration", "--scenario", "--out-of-order", "--topics"):
        assert option in text


def test_starts() -> None:
    now = 1_800_000_000_000
    assert parse_start("now", now) == now
    assert parse_start("-3h", now) == now - 3 * 3_600_000
    assert parse_start("now-90m", now) == now - 90 * 60_000
    assert parse_start("2025-03-14T08:00:00+07:00", now) == 1_741_914_000_000
    assert parse_start("2025-03-14T01:00:00", now) == 1_741_914_000_000


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["simulate", *argv])


def test_default_start_ends_the_run_about_now() -> None:
    now = 1_800_000_000_000
    plan = make_plan(_args("--sim-duration", "3h"), now)
    assert plan.sim.end_ms is not None and now - 60_000 < plan.sim.end_ms <= now
    events = make_plan(_args("--events", "100000"), now)
    assert now - 3 * 3_600_000 < events.sim.start_ms < now - 3_600_000
    live = make_plan(_args(), now)
    assert now - 60_000 < live.sim.start_ms <= now and live.sim.end_ms is None
    scenario = make_plan(
        _args(
            "--scenario",
            "salinity-intrusion",
            "--scenario-district",
            "vi-thuy",
            "--scenario-after",
            "10m",
            "--start",
            "now",
        ),
        now,
    )
    (only,) = scenario.sim.scenarios
    assert only.district.value == "vi-thuy" and only.start_ms == now + 600_000


def test_a_scenario_may_be_under_way_when_the_simulation_starts() -> None:
    now = 1_800_000_000_000
    plan = make_plan(
        _args(
            "--start=now",
            "--scenario=site-outage",
            "--scenario=salinity-intrusion",
            "--scenario-start=now-80m",
        ),
        now,
    )
    outage, salinity = plan.sim.scenarios
    assert outage.start_ms == salinity.start_ms == now - 80 * 60_000
    assert outage.active(now) and not outage.active(now + 10 * 60_000)
    assert salinity.ramp(now, 30 * 60_000) == 1.0
    with pytest.raises(UserError, match="--scenario-start"):
        make_plan(_args("--scenario=site-outage", "--scenario-start=yesterday"), now)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pacer_limits_rate_speed_and_holds_at_the_wall_clock() -> None:
    clock = FakeClock()
    rate = Pacer(rate=100, clock=clock)
    assert rate.wait_seconds(0, 0) == 0
    assert rate.wait_seconds(50, 0) == pytest.approx(0.5)
    speed = Pacer(speed=60, clock=clock)
    assert speed.wait_seconds(0, 5_000_000) == 0
    assert speed.wait_seconds(1, 5_000_000 + 120_000) == pytest.approx(2.0)
    hold = Pacer(hold=True, clock=clock)
    assert hold.wait_seconds(0, 999_000) == 0
    assert hold.wait_seconds(1, 1_003_000) == pytest.approx(3.0)


def _fake_messages(count: int, step_ms: int) -> list[Message]:
    return [
        Message("t", b"k", b"{}", None, None, 1_000_000 + i * step_ms, 1_000_000 + i * step_ms)
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("pacer_args", "seconds"),
    [({"rate": 100.0}, 2.99), ({"speed": 60.0}, 2.495), ({"rate": 100.0, "speed": 30.0}, 4.99)],
)
def test_paced_chunks_never_send_early(pacer_args: dict[str, float], seconds: float) -> None:
    clock = FakeClock()
    start = clock.now
    pacer = Pacer(clock=clock, **pacer_args)  # type: ignore[arg-type]
    sent = 0
    chunks = 0
    for wait, chunk in paced_chunks(_fake_messages(300, 500), pacer):
        clock.now += wait
        chunks += 1
        for message in chunk:
            assert pacer.wait_seconds(sent, message.sim_ms) <= SLACK + 1e-9
            sent += 1
    assert sent == 300
    assert clock.now - start == pytest.approx(seconds, abs=0.05)
    assert chunks < 300


def test_paced_chunks_stop_at_the_deadline() -> None:
    clock = FakeClock()
    pacer = Pacer(rate=100.0, clock=clock)
    sent = 0
    for wait, chunk in paced_chunks(_fake_messages(1000, 10), pacer, deadline=clock.now + 1.0):
        clock.now += wait
        sent += len(chunk)
    assert 95 <= sent <= 103


def test_unpaced_chunks_are_large() -> None:
    chunks = list(paced_chunks(_fake_messages(5000, 1), Pacer()))
    assert [len(c) for _, c in chunks] == [1024, 1024, 1024, 1024, 904]
    assert all(wait == 0 for wait, _ in chunks)

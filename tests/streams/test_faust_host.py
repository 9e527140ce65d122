"""streams.worker.faust_host against Faust's own objects (a real faust.App, not started)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from common.config import Settings
from schemas.topics import FARM_TOPIC
from streams.worker.faust_host import FaustHost


class Write(NamedTuple):
    partition: int
    key: bytes
    value: bytes | None


class Fetched(NamedTuple):
    partition: int
    offset: int


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FaustHost:
    monkeypatch.setenv("IOC_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IOC_APP_ID", "host-test")
    return FaustHost(Settings())


async def _no_batches(topic: str, records: Any) -> None:
    raise AssertionError("no records are fetched in these tests")


def test_a_source_gets_a_changelogged_table_and_one_agent_per_lane(host: FaustHost) -> None:
    lanes = host.add_source(FARM_TOPIC, "ioc-windows-farm", _no_batches)
    assert lanes >= 1
    agents = [name for name in host.app.agents if "windows_farm" in name]
    assert len(agents) == lanes
    table = host.app.tables["ioc-windows-farm"]
    assert table.changelog_topic.get_topic_name() == "host-test-ioc-windows-farm-changelog"
    assert table.partitions == host.settings.partitions


def test_state_writes_reach_the_table_and_its_changelog_in_order(
    host: FaustHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.add_source(FARM_TOPIC, "ioc-windows-farm", _no_batches)
    sent: list[tuple[Any, ...]] = []

    async def send(*args: Any) -> None:
        sent.append(args)

    monkeypatch.setattr(host.app.producer, "send", send)
    writes = [Write(2, b"s|2|1", b"a"), Write(2, b"c|2", b"clock"), Write(2, b"s|2|1", None)]
    asyncio.run(host.write_state(FARM_TOPIC, writes))
    assert host.restored_state(FARM_TOPIC) == [(b"c|2", b"clock")]
    changelog = "host-test-ioc-windows-farm-changelog"
    assert [a[:4] for a in sent] == [(changelog, w.key, w.value, 2) for w in writes]


@pytest.fixture
def seeks(host: FaustHost, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """The (topic, partition, offset) of every seek ``host`` is asked for."""
    asked: list[tuple[str, int, int]] = []

    async def seek(topic: str, partition: int, offset: int) -> None:
        asked.append((topic, partition, offset))

    monkeypatch.setattr(host, "seek", seek)
    return asked


def test_a_gap_is_read_again_once_and_accepted_the_second_time(
    host: FaustHost, seeks: list[tuple[str, int, int]]
) -> None:
    records = [Fetched(0, 10), Fetched(1, 5), Fetched(0, 13), Fetched(0, 14)]
    processed = {0: 9, 1: -1}.__getitem__
    kept = asyncio.run(host.without_gaps(FARM_TOPIC, records, processed))
    assert kept == [Fetched(0, 10), Fetched(1, 5)]  # 11 and 12 went missing: read again
    assert seeks == [(FARM_TOPIC, 0, 11)]
    again = asyncio.run(host.without_gaps(FARM_TOPIC, records[2:], {0: 10}.__getitem__))
    assert again == records[2:] and len(seeks) == 1  # the same gap twice is genuine


def test_one_partitions_consecutive_records_are_kept_whole_and_a_gap_in_them_is_not(
    host: FaustHost, seeks: list[tuple[str, int, int]]
) -> None:
    run = [Fetched(3, offset) for offset in range(8, 13)]  # 8 and 9 read again: kept
    assert asyncio.run(host.without_gaps(FARM_TOPIC, run, {3: 9}.__getitem__)) == run
    late = [Fetched(3, offset) for offset in range(12, 15)]
    assert asyncio.run(host.without_gaps(FARM_TOPIC, late, {3: 9}.__getitem__)) == []
    twice = [Fetched(3, 10), Fetched(3, 10), Fetched(3, 12)]  # consecutive count, a gap
    kept = asyncio.run(host.without_gaps(FARM_TOPIC, twice, {3: 9}.__getitem__))
    assert kept == twice[:2] and seeks == [(FARM_TOPIC, 3, 10), (FARM_TOPIC, 3, 11)]


def test_before_the_consumer_runs_nothing_is_held_or_known(host: FaustHost) -> None:
    host.add_source(FARM_TOPIC, "ioc-windows-farm", _no_batches)
    assert not host.held()
    assert host.highwater(FARM_TOPIC, 0) is None
    assert host.restored() is False  # Faust's recovery has not completed

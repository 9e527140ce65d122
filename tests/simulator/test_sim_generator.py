"""The pure generator: determinism, faults with their expected rejections, entity counts."""

from __future__ import annotations

import re
from collections import Counter
from itertools import islice

import pytest

from schemas.decode import Rejection, decode
from schemas.events import Level
from schemas.places import District
from simulator.faults import FAULT_KINDS, FaultRates
from simulator.generator import Message, SimConfig, Topics, generate
from simulator.province import build_province
from simulator.summary import Summary

START_MS = 1_741_914_000_000  # 2025-03-14T01:00:00Z = Friday 08:00 local
MINUTE = 60_000
ID = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")
FAULTY = FaultRates(
    malformed=0.08, invalid=0.08, duplicates=0.08, late=0.08, future=0.08, out_of_order=0.08
)


def _messages(minutes: int, seed: int = 1, **kwargs: object) -> list[Message]:
    config = SimConfig(start_ms=START_MS, end_ms=START_MS + minutes * MINUTE, seed=seed, **kwargs)  # type: ignore[arg-type]
    return list(generate(config))


def test_same_seed_same_messages_other_seed_others() -> None:
    first = _messages(3, seed=5, faults=FAULTY)
    assert first == _messages(3, seed=5, faults=FAULTY)
    assert [m.value for m in first] != [m.value for m in _messages(3, seed=6, faults=FAULTY)]


def test_faults_do_not_change_the_clean_events_they_spare() -> None:
    clean = {m.value for m in _messages(3)}
    faulty = _messages(3, faults=FAULTY)
    spared = [m for m in faulty if m.fault is None]
    assert spared and all(m.value in clean for m in spared)


def test_every_fault_is_rejected_with_its_reason_or_decodes() -> None:
    messages = _messages(15, seed=3, faults=FAULTY)
    kinds: Counter[tuple[str | None, str | None]] = Counter()
    for message in messages:
        result = decode(message.topic, message.value, produced_at_ms=message.sim_ms)
        got = result.reason_kind if isinstance(result, Rejection) else None
        assert got == message.expect, (message, result)
        kinds[(message.fault, got)] += 1
    assert {fault for fault, _ in kinds} == {None, *FAULT_KINDS}
    assert {got for _, got in kinds} == {
        None,
        "malformed",
        "not_object",
        "empty",
        "oversized",
        "invalid",
        "schema_version",
        "future",
    }
    for fault in ("duplicate", "late", "out_of_order"):
        assert kinds[(fault, None)] > 0


def test_future_faults_of_a_past_period_are_ahead_of_the_wall_clock_of_sending() -> None:
    """A period that ended a day ago, sent now: record timestamps are about now, so a
    future fault dated 1-6 h after the period would be accepted and move the watermark."""
    sent_from = START_MS + 24 * 60 * MINUTE
    messages = _messages(15, seed=3, faults=FAULTY, sent_from_ms=sent_from)
    future = [m for m in messages if m.fault == "future"]
    assert future
    for message in future:
        result = decode(message.topic, message.value, produced_at_ms=sent_from)
        assert isinstance(result, Rejection) and result.reason_kind == "future", result
    clean = [m for m in messages if m.fault is None]
    assert all(
        not isinstance(decode(m.topic, m.value, produced_at_ms=sent_from), Rejection) for m in clean
    )


def test_delays_and_duplicates_keep_bytes_and_shift_the_send_time() -> None:
    messages = _messages(40, seed=4, faults=FAULTY, sources=("farm",))
    first_sent: dict[bytes | None, int] = {}
    for index, message in enumerate(messages):
        first_sent.setdefault(message.value, index)
        lag = message.sim_ms - (message.occurred_ms or message.sim_ms)
        if message.fault == "late":
            assert 3 * MINUTE <= lag <= 30 * MINUTE
        elif message.fault == "out_of_order":
            assert 1_000 <= lag <= 12_000
        elif message.fault == "duplicate":
            assert 0 <= lag <= 5_000
            assert first_sent[message.value] < index
        else:
            assert lag == 0
    sent_at = [m.sim_ms for m in messages]
    assert sent_at == sorted(sent_at)


def test_each_sensor_reads_and_each_site_is_probed_once_a_minute() -> None:
    province = build_province(1)
    messages = _messages(4, sources=("network", "farm"))
    per_entity = Counter(
        m.value.split(b'"event_id":"')[1].split(b":")[0] for m in messages if m.value
    )
    assert len(per_entity) == len(province.sites) + len(province.sensors)
    assert set(per_entity.values()) == {4}
    assert all(START_MS <= (m.occurred_ms or 0) < START_MS + 4 * MINUTE for m in messages)


def test_province_has_every_district_with_sites_sensors_and_agencies() -> None:
    province = build_province(1)
    assert province == build_province(1)
    for district in District:
        sites = [s for s in province.sites if s.district is district]
        sensors = [s for s in province.sensors if s.district is district]
        assert 30 <= len(sites) <= 60, district
        assert 40 <= len(sensors) <= 80, district
        levels = {a.level for a in province.agencies if a.district is district}
        assert {Level.DISTRICT, Level.COMMUNE} <= levels
    assert {a.level for a in province.agencies} == set(Level)
    ids = (
        [a.agency_id for a in province.agencies]
        + [s.site_id for s in province.sites]
        + [s.sensor_id for s in province.sensors]
    )
    assert len(ids) == len(set(ids))
    assert all(ID.match(i) for i in ids)
    assert any(s.site_id.startswith("vt-4g-") for s in province.sites)
    assert any(s.sensor_id.startswith("lm-sal-") for s in province.sensors)


def test_keys_are_districts_and_topics_follow_the_config() -> None:
    topics = Topics.parse("network=n1", prefix="p.")
    assert topics == Topics("p.city.portal.dossier.v1", "n1", "p.city.farm.sensor.v1")
    with pytest.raises(ValueError, match="bad topic override"):
        Topics.parse("sensors=x")
    messages = _messages(2, topics=topics)
    assert {m.topic for m in messages} == set(topics.__dict__.values())
    assert {m.key.decode() for m in messages} <= {d.value for d in District}


def test_summary_counts_conserve_messages() -> None:
    summary = Summary()
    messages = _messages(10, seed=9, faults=FAULTY)
    for message in messages:
        summary.add(message)
    doc = summary.as_dict()
    totals = doc["totals"]
    assert totals["messages"] == len(messages)
    assert totals["messages"] == totals["valid"] + sum(totals["rejected"].values())
    assert totals["valid"] == sum(1 for m in messages if m.expect is None)
    assert totals["clean"] == sum(
        1 for m in messages if m.expect is None and m.fault not in ("duplicate", "late")
    )
    for fault in FAULT_KINDS:
        assert totals["faults"][fault] == sum(1 for m in messages if m.fault == fault)
    assert sum(t["messages"] for t in doc["topics"].values()) == len(messages)
    assert doc["sim_clock"]["from"].startswith("2025-03-14T01:00")


def test_open_ended_generation_streams_lazily() -> None:
    config = SimConfig(start_ms=START_MS, seed=2)
    assert len(list(islice(generate(config), 5000))) == 5000


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="sources"):
        SimConfig(start_ms=START_MS, sources=("weather",))
    with pytest.raises(ValueError, match="after the start"):
        SimConfig(start_ms=START_MS, end_ms=START_MS)
    with pytest.raises(ValueError, match="exceed 1"):
        FaultRates(malformed=0.6, invalid=0.6)
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultRates(late=-0.1)

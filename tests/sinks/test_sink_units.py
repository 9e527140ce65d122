"""Pure parts of the sink: durations, KPI message decoding, window kinds, back-off, dead letters."""

from __future__ import annotations

import orjson
import pytest
from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st
from sink_support import kpi_row, message, single_row_message

from schemas.decode import read_deadletter
from sinks.batch import Batch, Item
from sinks.deadletter import dead_letter
from sinks.kpi_codec import BadMessage, decode_kpis
from sinks.migrate import MIGRATIONS_DIR, load_migrations
from sinks.options import Backoff
from streams.window_rows import KpiRow


def decode_one(value: bytes | None) -> KpiRow | BadMessage:
    """The one row (or refusal) of a message that holds one."""
    (decoded,) = decode_kpis(value)
    return decoded


@pytest.mark.parametrize(("minutes", "kind"), [(1, "1m"), (15, "15m"), (60, "1h")])
def test_decode_valid_row_and_window_kind(minutes: int, kind: str) -> None:
    row = kpi_row(3, minutes=minutes)
    assert row.window_kind == kind
    assert decode_kpis(message(row)[1]) == [row]


@pytest.mark.parametrize(("minutes", "kind"), [(1, "1m"), (15, "15m"), (60, "1h")])
def test_decode_an_older_workers_single_row(minutes: int, kind: str) -> None:
    row = kpi_row(3, minutes=minutes, weight=2.5)
    assert decode_one(single_row_message(row)) == row
    assert decode_one(single_row_message(row._replace(weight=None))) == row._replace(weight=None)


@pytest.mark.parametrize(
    ("value", "reason_kind"),
    [
        (None, "empty"),
        (b"", "empty"),
        (b"{not json", "malformed"),
        (b"[1, 2]", "not_object"),
        (b'{"kpi": "x"}', "invalid"),
    ],
)
def test_decode_refuses_bad_messages(value: bytes | None, reason_kind: str) -> None:
    decoded = decode_kpis(value)[0]
    assert isinstance(decoded, BadMessage)
    assert decoded.reason_kind == reason_kind and decoded.reason


def test_decode_refuses_unknown_window_length() -> None:
    row = kpi_row(1, minutes=5)
    for value in (message(row)[1], single_row_message(row)):
        decoded = decode_one(value)
        assert isinstance(decoded, BadMessage)
        assert "300 s" in decoded.reason


def test_decode_refuses_negative_window() -> None:
    row = kpi_row(1)
    swapped = row._replace(window_start=row.window_end, window_end=row.window_start)
    assert isinstance(decode_one(single_row_message(swapped)), BadMessage)
    assert isinstance(decode_one(message(swapped)[1]), BadMessage)


@given(st.binary(max_size=300))
def test_decode_never_raises(value: bytes) -> None:
    assert all(isinstance(d, BadMessage) for d in decode_kpis(value))


def test_backoff_is_capped_exponential() -> None:
    delays = [Backoff().delay(attempt) for attempt in range(10)]
    assert delays[:6] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0]
    assert set(delays[5:]) == {15.0}
    assert Backoff().delay(10_000) == 15.0


def test_dead_letter_reads_back_with_the_workers_parser() -> None:
    value = dead_letter(
        "database", "23514: check", topic="city.kpi.v1", partition=2, offset=7, key=b"k", value=b"v"
    )
    parsed = read_deadletter(value)
    assert (parsed.reason_kind, parsed.origin_topic, parsed.origin_partition) == (
        "database",
        "city.kpi.v1",
        2,
    )
    assert parsed.origin_offset == 7 and parsed.raw == b"v"


def test_migration_files_are_numbered_without_gaps() -> None:
    migrations = load_migrations(MIGRATIONS_DIR)
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "kpi"


def test_decode_pack_of_single_rows() -> None:
    good = single_row_message(kpi_row(1))
    pack = b"[" + good + b"," + good.replace(b'"count":', b'"count":-') + b"]"
    decoded = decode_kpis(pack)
    assert len(decoded) == 2
    assert decoded[0] == kpi_row(1)
    assert isinstance(decoded[1], BadMessage) and decoded[1].reason_kind == "invalid"
    assert decode_kpis(b"[1, 2") == [BadMessage("malformed", decode_kpis(b"[1, 2")[0].reason)]
    assert len(decode_kpis(good)) == 1


def window_of(row: KpiRow, kpis: list[list[object]]) -> bytes:
    """A KpiWindow JSON object with the entity, bounds and lineage of ``row``."""
    fields = orjson.loads(message(row)[1])[0]
    return orjson.dumps({**fields, "kpis": kpis})


def test_decode_pack_of_windows_as_the_workers_send_them() -> None:
    row = kpi_row(3)
    good = window_of(row, [["farm.a", 1.5, 4], ["farm.b", 2, 0]])
    negative = window_of(row, [["farm.a", 1.0, -1]])
    decoded = decode_kpis(
        b"[" + b",".join([good, negative, window_of(kpi_row(4, minutes=2), [["x", 1, 1]])]) + b"]"
    )
    assert [r.kpi for r in decoded[:2] if not isinstance(r, BadMessage)] == ["farm.a", "farm.b"]
    a, b = decoded[:2]
    assert not isinstance(a, BadMessage) and not isinstance(b, BadMessage)
    assert a == row._replace(kpi="farm.a", value=1.5, count=4, weight=None)
    assert (a.value, a.count, b.value, b.count) == (1.5, 4, 2.0, 0)
    assert isinstance(decoded[2], BadMessage) and "kpis.0.2" in decoded[2].reason
    assert isinstance(decoded[3], BadMessage) and "window length 120" in decoded[3].reason
    assert len(decoded) == 4
    (refused,) = decode_kpis(b"[" + window_of(row, []) + b"]")
    assert isinstance(refused, BadMessage) and refused.reason_kind == "invalid"


def test_a_failed_batch_goes_again_in_front_of_the_newer_one() -> None:
    tp, other = TopicPartition("t", 0), TopicPartition("t", 1)
    older: Batch[str] = Batch(offsets={tp: 5}, stamps=[1], polled=2)
    older.items = [Item(None, "a"), Item(None, "b")]  # type: ignore[arg-type]
    newer: Batch[str] = Batch(offsets={tp: 9, other: 3}, stamps=[2], polled=1)
    newer.items = [Item(None, "c")]  # type: ignore[arg-type]
    older.absorb(newer)
    assert [item.payload for item in older.items] == ["a", "b", "c"]
    assert (older.offsets, older.stamps, older.polled) == ({tp: 9, other: 3}, [1, 2], 3)

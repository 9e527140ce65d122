"""The province's entity registry (``IOC_ENTITY_REGISTRY``): how the file is read, and what a
bad line says."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import UserError
from streams.routing import Claim, EntityClaims, decode_claim, load_entity_registry

HEADER = "entity_kind,entity_id,district\n"


def registry(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "entities.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_registry_gives_each_listed_entity_its_district(tmp_path: Path) -> None:
    path = registry(
        tmp_path,
        HEADER + "sensor,lm-sal-1,long-my\n\nsite, vt-4g-2 ,vi-thanh\nagency,ub-lm,long-my\n"
        "sensor,lm-sal-1,long-my\n",
    )
    assert load_entity_registry(path) == {
        "lm-sal-1": "long-my",
        "vt-4g-2": "vi-thanh",
        "ub-lm": "long-my",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ":1: the first line must be entity_kind,entity_id,district"),
        ("id,district\n", ":1: the first line must be"),
        (HEADER + "sensor,lm-sal-1\n", ":2: expected 3 columns, found 2"),
        (HEADER + "pump,p1,long-my\n", ":2: entity_kind 'pump' is not one of"),
        (HEADER + "sensor,s1,saigon\n", ":2: 'saigon' is not a district of the province"),
        (
            HEADER + "sensor,s1,long-my\nsensor,s1,nga-bay\n",
            ":3: 's1' is listed under 'long-my' already",
        ),
    ],
)
def test_a_bad_line_is_named_with_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = registry(tmp_path, text)
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        load_entity_registry(path)


def test_a_missing_registry_says_which_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"cannot read the entity registry .*nowhere\.csv"):
        load_entity_registry(tmp_path / "nowhere.csv")


def test_the_first_claim_of_an_entity_wins_and_the_registry_comes_before_any() -> None:
    claims = EntityClaims({"lm-sal-1": "long-my"})
    claims.add(
        [
            Claim("sensor", "vt-sal-1", "vi-thanh"),
            Claim("sensor", "lm-sal-1", "nga-bay"),
            Claim("sensor", "vt-sal-1", "nga-bay"),
        ]
    )
    assert claims == {"lm-sal-1": "long-my", "vt-sal-1": "vi-thanh"}


@pytest.mark.parametrize(
    "raw", [None, b"", b"\xff", b"[]", b'{"entity_id": "x"}', b'{"entity_kind": 1, '
    b'"entity_id": "x", "district": "long-my"}', b'{"a": 1, "b": 2, "c": 3}'],
)  # fmt: skip
def test_a_record_that_is_not_a_claim_is_skipped(raw: bytes | None) -> None:
    assert decode_claim(raw) is None


def test_a_claim_reads_back_as_written() -> None:
    claim = Claim("site", "ht-4g-07", "vi-thanh")
    assert decode_claim(claim.encode()) == claim
    assert claim.key() == b"ht-4g-07"


def test_claims_read_from_record_values_skip_what_is_no_claim() -> None:
    claims = EntityClaims()
    first, later = Claim("sensor", "s-1", "long-my"), Claim("sensor", "s-1", "nga-bay")
    claims.read([b"junk", None, first.encode(), b"{}", later.encode()])
    assert claims == {"s-1": "long-my"}

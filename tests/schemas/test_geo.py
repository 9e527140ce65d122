"""District outlines tile the province without overlaps; every entity lands in its district."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemas.geo import OUTLINES, SEATS, contains, district_at, position
from schemas.places import District
from simulator.province import build_province


def test_every_district_has_an_outline_holding_its_seat() -> None:
    assert set(OUTLINES) == set(District) == set(SEATS)
    for district, (lon, lat) in SEATS.items():
        assert district_at(lon, lat) is district


def test_outlines_do_not_overlap() -> None:
    for i in range(200):
        for j in range(200):
            lon, lat = 105.30 + i * 0.0033 + 0.0001, 9.55 + j * 0.0025 + 0.0001
            holders = [d for d, outline in OUTLINES.items() if contains(outline, lon, lat)]
            assert len(holders) <= 1, (lon, lat, holders)


@given(
    st.sampled_from(["agency", "site", "sensor"]),
    st.text(min_size=1, max_size=30),
    st.sampled_from(list(District)),
)
def test_an_entity_stays_in_its_district(kind: str, entity_id: str, district: District) -> None:
    lon, lat = position(kind, entity_id, district)
    assert contains(OUTLINES[district], lon, lat)
    assert position(kind, entity_id, district) == (lon, lat)


def test_simulated_entities_lie_in_their_districts() -> None:
    province = build_province(42)
    entities = [*province.agencies, *province.sites, *province.sensors]
    assert all(district_at(*e.position) is e.district for e in entities)
    assert len({e.position for e in province.sites}) == len(province.sites)

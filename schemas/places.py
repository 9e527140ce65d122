"""The province's districts: the one list every part of the product shares."""

from __future__ import annotations

from enum import StrEnum


class District(StrEnum):
    """The eight district-level units of Hau Giang province."""

    VI_THANH = "vi-thanh"
    NGA_BAY = "nga-bay"
    LONG_MY_TOWN = "long-my-town"
    CHAU_THANH = "chau-thanh"
    CHAU_THANH_A = "chau-thanh-a"
    PHUNG_HIEP = "phung-hiep"
    VI_THUY = "vi-thuy"
    LONG_MY = "long-my"


DISTRICT_NAMES: dict[District, str] = {
    District.VI_THANH: "Thành phố Vị Thanh",
    District.NGA_BAY: "Thành phố Ngã Bảy",
    District.LONG_MY_TOWN: "Thị xã Long Mỹ",
    District.CHAU_THANH: "Huyện Châu Thành",
    District.CHAU_THANH_A: "Huyện Châu Thành A",
    District.PHUNG_HIEP: "Huyện Phụng Hiệp",
    District.VI_THUY: "Huyện Vị Thủy",
    District.LONG_MY: "Huyện Long Mỹ",
}

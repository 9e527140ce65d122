"""The simulated province on paper: district codes and profiles (urban or rural, salinity
exposure, tide lag, online habits, communes), the administrative procedures and the
provincial departments that handle them.

Place names are the real districts and communes (administrative map before the 2025
reorganisation); procedure codes follow the national catalogue's format and are
illustrative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.events import Level
from schemas.places import District

DISTRICT_CODES: Final[dict[District, str]] = {
    District.VI_THANH: "vt",
    District.NGA_BAY: "nb",
    District.LONG_MY_TOWN: "lmt",
    District.CHAU_THANH: "ct",
    District.CHAU_THANH_A: "cta",
    District.PHUNG_HIEP: "ph",
    District.VI_THUY: "vth",
    District.LONG_MY: "lm",
}


@dataclass(frozen=True)
class DistrictProfile:
    """What shapes a district: urban or rural, salinity exposure, tide lag, online habits."""

    urban: bool
    salinity_exposure: float
    tide_lag_hours: float
    online_share: float
    communes: tuple[str, ...]


def _profile(
    urban: bool, exposure: float, lag: float, online: float, communes: str
) -> DistrictProfile:
    return DistrictProfile(
        urban, exposure, lag, online, tuple(c.strip() for c in communes.split(";"))
    )


PROFILES: Final[dict[District, DistrictProfile]] = {
    District.VI_THANH: _profile(
        True,
        0.6,
        2.0,
        0.86,
        "Phường I; Phường III; Phường IV; Phường V; Phường VII; Xã Vị Tân;"
        " Xã Hỏa Lựu; Xã Tân Tiến; Xã Hỏa Tiến",
    ),
    District.NGA_BAY: _profile(
        True,
        0.1,
        4.5,
        0.84,
        "Phường Ngã Bảy; Phường Lái Hiếu; Phường Hiệp Thành; Phường Hiệp Lợi;"
        " Xã Đại Thành; Xã Tân Thành",
    ),
    District.LONG_MY_TOWN: _profile(
        True,
        0.7,
        1.5,
        0.8,
        "Phường Thuận An; Phường Trà Lồng; Phường Bình Thạnh; Phường Vĩnh Tường;"
        " Xã Long Bình; Xã Long Trị; Xã Long Trị A; Xã Long Phú; Xã Tân Phú",
    ),
    District.CHAU_THANH: _profile(
        False,
        0.05,
        5.0,
        0.78,
        "Thị trấn Ngã Sáu; Thị trấn Mái Dầm; Xã Đông Thạnh; Xã Đông Phú;"
        " Xã Phú Hữu; Xã Phú Tân; Xã Đông Phước; Xã Đông Phước A",
    ),
    District.CHAU_THANH_A: _profile(
        False,
        0.05,
        5.5,
        0.79,
        "Thị trấn Một Ngàn; Thị trấn Bảy Ngàn; Thị trấn Rạch Gòi;"
        " Thị trấn Cái Tắc; Xã Tân Hòa; Xã Trường Long Tây; Xã Thạnh Xuân;"
        " Xã Nhơn Nghĩa A; Xã Tân Phú Thạnh; Xã Trường Long A",
    ),
    District.PHUNG_HIEP: _profile(
        False,
        0.15,
        4.0,
        0.76,
        "Thị trấn Cây Dương; Thị trấn Kinh Cùng; Thị trấn Búng Tàu; Xã Tân Bình;"
        " Xã Bình Thành; Xã Thạnh Hòa; Xã Long Thạnh; Xã Phụng Hiệp; Xã Hòa Mỹ;"
        " Xã Hòa An; Xã Phương Bình; Xã Hiệp Hưng; Xã Tân Phước Hưng;"
        " Xã Phương Phú; Xã Tân Long",
    ),
    District.VI_THUY: _profile(
        False,
        0.5,
        2.5,
        0.77,
        "Thị trấn Nàng Mau; Xã Vị Trung; Xã Vị Thủy; Xã Vị Thắng;"
        " Xã Vĩnh Thuận Tây; Xã Vĩnh Trung; Xã Vĩnh Tường; Xã Vị Đông;"
        " Xã Vị Thanh; Xã Vị Bình",
    ),
    District.LONG_MY: _profile(
        False,
        1.0,
        1.0,
        0.75,
        "Thị trấn Vĩnh Viễn; Xã Thuận Hưng; Xã Thuận Hòa; Xã Vĩnh Thuận Đông;"
        " Xã Vĩnh Viễn A; Xã Lương Tâm; Xã Lương Nghĩa; Xã Xà Phiên",
    ),
}


@dataclass(frozen=True)
class Procedure:
    """An administrative procedure: legal time in working days (0.5 = within the day)."""

    code: str
    name: str
    level: Level
    legal_days: float
    components: tuple[int, int]
    fee: bool


PROCEDURES: Final[tuple[Procedure, ...]] = (
    Procedure("1.001193", "Đăng ký khai sinh", Level.COMMUNE, 0.5, (2, 3), False),
    Procedure("1.000894", "Đăng ký kết hôn", Level.COMMUNE, 0.5, (2, 4), False),
    Procedure("2.000908", "Chứng thực bản sao từ bản chính", Level.COMMUNE, 0.5, (1, 2), True),
    Procedure("1.000656", "Đăng ký khai tử", Level.COMMUNE, 0.5, (2, 3), False),
    Procedure("1.004873", "Xác nhận tình trạng hôn nhân", Level.COMMUNE, 3, (2, 3), True),
    Procedure("2.000720", "Đăng ký hộ kinh doanh", Level.DISTRICT, 3, (3, 5), True),
    Procedure(
        "1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", Level.DISTRICT, 15, (4, 8), True
    ),
    Procedure("1.004227", "Đăng ký biến động quyền sử dụng đất", Level.DISTRICT, 10, (3, 6), True),
    Procedure("2.001233", "Cấp giấy phép bán lẻ rượu", Level.DISTRICT, 10, (3, 5), True),
    Procedure("1.001776", "Trợ cấp xã hội hàng tháng", Level.DISTRICT, 7, (2, 4), False),
    Procedure("1.001612", "Đăng ký thành lập doanh nghiệp", Level.PROVINCE, 3, (4, 7), True),
    Procedure("1.001078", "Cấp phiếu lý lịch tư pháp", Level.PROVINCE, 10, (2, 3), True),
    Procedure("1.002809", "Đổi giấy phép lái xe", Level.PROVINCE, 5, (2, 3), True),
    Procedure(
        "1.004946", "Cấp chứng chỉ hành nghề khám chữa bệnh", Level.PROVINCE, 20, (4, 8), True
    ),
    Procedure(
        "1.000459", "Cấp giấy phép lao động cho người nước ngoài", Level.PROVINCE, 5, (5, 8), True
    ),
    Procedure("1.003010", "Cấp giấy phép khai thác nước mặt", Level.PROVINCE, 20, (5, 8), True),
)

PROVINCE_DEPARTMENTS: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("hg-stp", "Sở Tư pháp", ("1.001078",)),
    ("hg-skhdt", "Sở Kế hoạch và Đầu tư", ("1.001612",)),
    ("hg-sgtvt", "Sở Giao thông vận tải", ("1.002809",)),
    ("hg-syt", "Sở Y tế", ("1.004946",)),
    ("hg-sldtbxh", "Sở Lao động - Thương binh và Xã hội", ("1.000459",)),
    ("hg-stnmt", "Sở Tài nguyên và Môi trường", ("1.003010",)),
)

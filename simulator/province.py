"""The simulated province: agencies, procedures, cell sites and farm sensors of Hau Giang.

Everything here is built once, deterministically from the seed. Place names are the real
districts and communes (administrative map before the 2025 reorganisation); procedure codes
follow the national catalogue's format and are illustrative.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from schemas.events import Level, SensorKind, Technology
from schemas.geo import LonLat, position
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


@dataclass(frozen=True)
class Agency:
    """A department, district people's committee or commune one-stop shop."""

    agency_id: str
    name: str
    level: Level
    district: District
    procedures: tuple[Procedure, ...]
    daily_dossiers: float
    on_time_share: float

    @property
    def position(self) -> LonLat:
        """(lon, lat) inside its district (schemas.geo)."""
        return position("agency", self.agency_id, self.district)


@dataclass(frozen=True)
class Site:
    """A probed cell site, fibre broadband link or agency LAN link."""

    site_id: str
    district: District
    technology: Technology
    source: str
    phase_ms: int
    latency_ms: float
    downlink_mbps: float
    uplink_mbps: float
    max_subscribers: int
    loss_pct: float

    @property
    def position(self) -> LonLat:
        """(lon, lat) inside its district (schemas.geo)."""
        return position("site", self.site_id, self.district)


@dataclass(frozen=True)
class Sensor:
    """A farm IoT sensor."""

    sensor_id: str
    district: District
    farm_id: str
    zone: str
    kind: SensorKind
    phase_ms: int
    base: float
    battery_pct: float

    @property
    def position(self) -> LonLat:
        """(lon, lat) inside its district (schemas.geo)."""
        return position("sensor", self.sensor_id, self.district)


@dataclass(frozen=True)
class Province:
    """All simulated entities."""

    agencies: tuple[Agency, ...]
    sites: tuple[Site, ...]
    sensors: tuple[Sensor, ...]


_TECH_SLUG: Final = {
    Technology.G2: "2g",
    Technology.G3: "3g",
    Technology.G4: "4g",
    Technology.G5: "5g",
    Technology.FIBRE: "fib",
    Technology.LAN: "lan",
}
# latency ms, downlink Mbit/s, uplink Mbit/s, subscribers per site, loss %
_TECH_PARAMS: Final = {
    Technology.G2: (190.0, 0.15, 0.05, 350, 0.8),
    Technology.G3: (62.0, 7.0, 1.8, 900, 0.5),
    Technology.G4: (30.0, 72.0, 20.0, 1600, 0.2),
    Technology.G5: (14.0, 380.0, 60.0, 900, 0.05),
    Technology.FIBRE: (7.0, 500.0, 400.0, 0, 0.02),
    Technology.LAN: (2.0, 900.0, 900.0, 0, 0.01),
}
_OPERATORS: Final = ("nms-viettel", "nms-vnpt", "nms-mobifone")

_KIND_SLUG: Final = {
    SensorKind.SALINITY: "sal",
    SensorKind.SOIL_MOISTURE: "soil",
    SensorKind.AIR_TEMPERATURE: "air",
    SensorKind.WATER_TEMPERATURE: "wtmp",
    SensorKind.WATER_LEVEL: "lvl",
    SensorKind.PH: "ph",
}
_FARM_KINDS: Final = (
    # rice paddy, shrimp/fish pond, fruit orchard
    (SensorKind.SALINITY, SensorKind.WATER_LEVEL, SensorKind.SOIL_MOISTURE, SensorKind.PH),
    (SensorKind.SALINITY, SensorKind.WATER_TEMPERATURE, SensorKind.PH, SensorKind.WATER_LEVEL),
    (SensorKind.SOIL_MOISTURE, SensorKind.AIR_TEMPERATURE, SensorKind.SALINITY),
)


def _slug(name: str) -> str:
    table = str.maketrans(
        "àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ",
        "aaaaaaaaaaaaaaaaaeeeeeeeeeeeiiiiiooooooooooooooooouuuuuuuuuuuyyyyyd",
    )
    words = name.lower().translate(table).split()
    kind = {"phường": "p", "xã": "x", "thị": "tt"}.get(name.lower().split()[0], "x")
    skip = 2 if words[0] == "thi" else 1
    return kind + "-" + "-".join(words[skip:])


def _agencies(rng: random.Random) -> list[Agency]:
    by_code = {p.code: p for p in PROCEDURES}
    district_procs = tuple(p for p in PROCEDURES if p.level is Level.DISTRICT)
    commune_procs = tuple(p for p in PROCEDURES if p.level is Level.COMMUNE)
    agencies = [
        Agency(
            agency_id,
            name,
            Level.PROVINCE,
            District.VI_THANH,
            tuple(by_code[c] for c in codes),
            rng.uniform(20, 50),
            rng.uniform(0.95, 0.995),
        )
        for agency_id, name, codes in PROVINCE_DEPARTMENTS
    ]
    for district, profile in PROFILES.items():
        code = DISTRICT_CODES[district]
        agencies.append(
            Agency(
                f"{code}-ubnd",
                f"UBND {district.value}",
                Level.DISTRICT,
                district,
                district_procs,
                rng.uniform(40, 80) * (1.3 if profile.urban else 1.0),
                rng.uniform(0.93, 0.99),
            )
        )
        for commune in profile.communes:
            agencies.append(
                Agency(
                    f"{code}-mc-{_slug(commune)}",
                    f"Bộ phận một cửa {commune}",
                    Level.COMMUNE,
                    district,
                    commune_procs,
                    rng.uniform(8, 20),
                    rng.uniform(0.96, 0.998),
                )
            )
    return agencies


def _technology_mix(urban: bool) -> list[tuple[Technology, float]]:
    if urban:
        return [
            (Technology.G2, 0.02),
            (Technology.G3, 0.12),
            (Technology.G4, 0.52),
            (Technology.G5, 0.16),
            (Technology.FIBRE, 0.12),
            (Technology.LAN, 0.06),
        ]
    return [
        (Technology.G2, 0.04),
        (Technology.G3, 0.2),
        (Technology.G4, 0.58),
        (Technology.G5, 0.03),
        (Technology.FIBRE, 0.09),
        (Technology.LAN, 0.06),
    ]


def _sites(rng: random.Random) -> list[Site]:
    sites = []
    for district, profile in PROFILES.items():
        code = DISTRICT_CODES[district]
        count = rng.randint(42, 60) if profile.urban else rng.randint(30, 48)
        mix = _technology_mix(profile.urban)
        numbers = dict.fromkeys(_TECH_SLUG, 0)
        for _ in range(count):
            tech = rng.choices([t for t, _ in mix], weights=[w for _, w in mix])[0]
            numbers[tech] += 1
            latency, down, up, subs, loss = _TECH_PARAMS[tech]
            quality = rng.uniform(0.75, 1.25)
            source = "tslcd-haugiang" if tech is Technology.LAN else rng.choice(_OPERATORS)
            sites.append(
                Site(
                    site_id=f"{code}-{_TECH_SLUG[tech]}-{numbers[tech]:03d}",
                    district=district,
                    technology=tech,
                    source=source,
                    phase_ms=rng.randrange(60_000),
                    latency_ms=latency / quality,
                    downlink_mbps=down * quality * (0.85 if not profile.urban else 1.0),
                    uplink_mbps=up * quality,
                    max_subscribers=int(
                        subs * rng.uniform(0.5, 1.5) * (1.3 if profile.urban else 1)
                    ),
                    loss_pct=loss / quality,
                )
            )
    return sites


def _sensor_base(kind: SensorKind, rng: random.Random, acid: bool) -> float:
    if kind is SensorKind.SALINITY:
        return rng.uniform(0.1, 0.4)
    if kind is SensorKind.SOIL_MOISTURE:
        return rng.uniform(38.0, 62.0)
    if kind is SensorKind.AIR_TEMPERATURE:
        return rng.uniform(-0.8, 0.8)
    if kind is SensorKind.WATER_TEMPERATURE:
        return rng.uniform(-0.6, 0.6)
    if kind is SensorKind.WATER_LEVEL:
        return rng.uniform(40.0, 120.0)
    return rng.uniform(4.6, 5.6) if acid else rng.uniform(6.4, 7.4)


def _sensors(rng: random.Random) -> list[Sensor]:
    sensors = []
    for district, profile in PROFILES.items():
        code = DISTRICT_CODES[district]
        target = rng.randint(40, 60) if profile.urban else rng.randint(55, 80)
        numbers = dict.fromkeys(_KIND_SLUG, 0)
        farm = 0
        while target > 0:
            farm += 1
            farm_id = f"{code}-farm-{farm:02d}"
            kinds = rng.choice(_FARM_KINDS)
            acid = rng.random() < 0.25
            zones = rng.randint(1, 3)
            for zone in range(1, zones + 1):
                for kind in kinds:
                    if target == 0:
                        break
                    if zone > 1 and kind is not SensorKind.SALINITY and rng.random() < 0.5:
                        continue
                    numbers[kind] += 1
                    target -= 1
                    sensors.append(
                        Sensor(
                            sensor_id=f"{code}-{_KIND_SLUG[kind]}-{numbers[kind]:03d}",
                            district=district,
                            farm_id=farm_id,
                            zone=f"z{zone}",
                            kind=kind,
                            phase_ms=rng.randrange(60_000),
                            base=_sensor_base(kind, rng, acid),
                            battery_pct=rng.uniform(45.0, 100.0),
                        )
                    )
    return sensors


def build_province(seed: int) -> Province:
    """The province of ``seed``: same seed, same entities."""
    rng = random.Random(f"{seed}:province")
    return Province(
        agencies=tuple(_agencies(rng)), sites=tuple(_sites(rng)), sensors=tuple(_sensors(rng))
    )

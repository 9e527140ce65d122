"""The simulated province: agencies, procedures, cell sites and farm sensors of Hau Giang.

Everything here is built once, deterministically from the seed, from the districts,
communes, procedures and departments of :mod:`simulator.reference`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from schemas.events import Level, SensorKind, Technology
from schemas.geo import LonLat, position
from schemas.places import District
from simulator.reference import (
    DISTRICT_CODES,
    PROCEDURES,
    PROFILES,
    PROVINCE_DEPARTMENTS,
    Procedure,
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

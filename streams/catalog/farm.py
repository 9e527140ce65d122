"""KPIs of the farm sensors: how each reading feeds each KPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from schemas.events import (
    SensorKind,
    SensorReading,
)
from schemas.kpi import EntityKind
from schemas.topics import FARM_TOPIC
from streams.catalog.definitions import KpiDef, Observation, Target

_ONE: Final[Observation] = (1.0, 1.0)
_ZERO: Final[Observation] = (0.0, 1.0)
_D, _A, _S, _N = EntityKind.DISTRICT, EntityKind.AGENCY, EntityKind.SITE, EntityKind.SENSOR
_FARM_KINDS: Final = (_D, _N)

SALINITY_DAMAGE_GL: Final = 4.0
"""Salinity above which rice is damaged (g/L, per mille)."""


def _reading_of(kind: SensorKind) -> Callable[[SensorReading], Observation | None]:
    def observe(e: SensorReading) -> Observation | None:
        return (e.value, 1.0) if e.kind == kind else None

    return observe


def _salinity_above_4(e: SensorReading) -> Observation | None:
    if e.kind != SensorKind.SALINITY:
        return None
    return _ONE if e.value > SALINITY_DAMAGE_GL else _ZERO


def _any_reading(e: SensorReading) -> Observation | None:
    return _ONE


def _reading_key(e: SensorReading) -> str:
    return f"{e.sensor_id}/{e.kind}"  # a StrEnum formats as its value


def _battery(e: SensorReading) -> Observation | None:
    return (e.battery_pct, 1.0)


def _farm(name: str, acc: str, unit: str, en: str, vi: str, observe: Any, **kw: Any) -> KpiDef:
    return KpiDef(f"farm.{name}", FARM_TOPIC, acc, unit, en, vi, _FARM_KINDS, observe, **kw)


FARM: Final[tuple[KpiDef, ...]] = (
    _farm(
        "salinity_mean_gl",
        "mean",
        "gL",
        "Mean salinity",
        "Độ mặn trung bình",
        _reading_of(SensorKind.SALINITY),
        target=Target("<=", 2.0, SALINITY_DAMAGE_GL),
        alertable=True,
        description="Mean of salinity readings, g/L (per mille).",
    ),
    _farm(
        "salinity_max_gl",
        "max",
        "gL",
        "Maximum salinity",
        "Độ mặn cao nhất",
        _reading_of(SensorKind.SALINITY),
        target=Target("<=", 2.0, SALINITY_DAMAGE_GL),
        alertable=True,
        description="Maximum salinity reading, g/L; above 4 g/L rice is damaged.",
    ),
    _farm(
        "salinity_minutes_above_4",
        "mean_x_window_minutes",
        "m",
        "Minutes of salinity above 4 g/L",
        "Số phút độ mặn trên 4 g/L",
        _salinity_above_4,
        decimals=1,
        description="Fraction of salinity readings above 4 g/L x window minutes.",
    ),
    _farm(
        "soil_moisture_min_pct",
        "min",
        "percent",
        "Minimum soil moisture",
        "Độ ẩm đất thấp nhất",
        _reading_of(SensorKind.SOIL_MOISTURE),
        decimals=1,
        description="Minimum soil moisture reading, %.",
    ),
    _farm(
        "air_temperature_max_c",
        "max",
        "celsius",
        "Maximum air temperature",
        "Nhiệt độ không khí cao nhất",
        _reading_of(SensorKind.AIR_TEMPERATURE),
        decimals=1,
        description="Maximum air temperature reading, degC.",
    ),
    _farm(
        "water_level_mean_cm",
        "mean",
        "cm",
        "Mean water level",
        "Mực nước trung bình",
        _reading_of(SensorKind.WATER_LEVEL),
        decimals=1,
        description="Mean water level reading, cm.",
    ),
    _farm(
        "completeness_ratio",
        "per_key_completeness",
        "percentunit",
        "Data completeness",
        "Tỷ lệ đầy đủ dữ liệu",
        _any_reading,
        observe_key=_reading_key,
        target=Target(">=", 0.95, 0.80),
        alertable=True,
        description=(
            "Readings received / expected, 1 reading per minute per (sensor, kind) heard "
            "from in the window, each capped at the expected number."
        ),
    ),
    _farm(
        "battery_min_pct",
        "min",
        "percent",
        "Minimum battery",
        "Mức pin thấp nhất",
        _battery,
        target=Target(">=", 30.0, 20.0),
        decimals=0,
        description="Minimum battery_pct over all readings.",
    ),
)

"""Farm sensors: every sensor reads once a simulated minute.

Salinity and water level follow the tide (lagged by the district's distance from the sea);
salinity intrudes only in the dry season and most in the districts near the Cai Lon river;
air and water temperature and soil moisture follow the sun; batteries drain at night and
charge by day. The salinity-intrusion scenario adds 4-7 g/L over a 30-minute ramp.
"""

from __future__ import annotations

import random
from typing import Final

from schemas.events import SensorKind
from schemas.places import District
from schemas.topics import partition_key
from simulator.province import Province, Sensor
from simulator.reference import PROFILES
from simulator.rhythms import daylight, dry_season, heat, tide
from simulator.scenarios import SALINITY_RAMP_MS, Scenario, ScenarioKind, find
from simulator.timefmt import MINUTE_MS, IsoFormatter

Batch = list[tuple[int, int, bytes, bytes]]

_SAL, _SOIL, _AIR, _WTMP, _LVL, _PH = range(6)
_KIND_CODE: Final = {
    SensorKind.SALINITY: _SAL,
    SensorKind.SOIL_MOISTURE: _SOIL,
    SensorKind.AIR_TEMPERATURE: _AIR,
    SensorKind.WATER_TEMPERATURE: _WTMP,
    SensorKind.WATER_LEVEL: _LVL,
    SensorKind.PH: _PH,
}
_DISTRICTS: Final = tuple(District)


class FarmSource:
    """Generates sensor readings, one per sensor per simulated minute."""

    def __init__(
        self, province: Province, seed: int, source_index: int, scenarios: tuple[Scenario, ...]
    ) -> None:
        self._rng = random.Random(f"{seed}:farm")
        self._index = source_index
        self._fmt = IsoFormatter()
        sensors = sorted(province.sensors, key=lambda s: (s.phase_ms, s.sensor_id))
        self._rows = [self._row(sensor) for sensor in sensors]
        self._battery = [sensor.battery_pct for sensor in sensors]
        self._salinity = find(scenarios, ScenarioKind.SALINITY_INTRUSION)

    @staticmethod
    def _row(sensor: Sensor) -> tuple[int, str, str, str, bytes, int, int, float]:
        head = '{"event_id":"' + sensor.sensor_id + ":"
        mid = '","source":"gw-' + sensor.farm_id + '","occurred_at":"'
        tail = (
            '","schema_version":1,"district":"'
            + sensor.district.value
            + '","sensor_id":"'
            + sensor.sensor_id
            + '","farm_id":"'
            + sensor.farm_id
            + '","zone":"'
            + sensor.zone
            + '","kind":"'
            + sensor.kind.value
            + '","value":'
        )
        return (
            sensor.phase_ms,
            head,
            mid,
            tail,
            partition_key(sensor.district.value),
            _KIND_CODE[sensor.kind],
            _DISTRICTS.index(sensor.district),
            sensor.base,
        )

    def _district_state(self, minute_ms: int) -> list[tuple[float, float]]:
        """Per district: (normalised tide 0..1, extra salinity of a scenario, g/L)."""
        state = []
        for district in _DISTRICTS:
            level = (tide(minute_ms, PROFILES[district].tide_lag_hours) + 1.0) / 2.0
            extra = 0.0
            for scenario in self._salinity:
                if scenario.district is district:
                    extra += scenario.ramp(minute_ms, SALINITY_RAMP_MS) * (4.0 + 3.0 * level)
            state.append((level, extra))
        return state

    def tick(self, minute_ms: int, out: Batch) -> None:
        """Append this minute's readings to ``out`` as (occurred_ms, source, key, value)."""
        minute = minute_ms // MINUTE_MS
        dry = dry_season(minute_ms)
        sun = daylight(minute_ms)
        warm = heat(minute_ms)
        water_warm = heat(minute_ms, 16.0)
        state = self._district_state(minute_ms)
        exposure = [PROFILES[d].salinity_exposure * dry for d in _DISTRICTS]
        charge = 0.012 * sun - 0.004
        rnd = self._rng.random
        fmt = self._fmt
        index = self._index
        battery = self._battery
        append = out.append
        for i, row in enumerate(self._rows):
            phase, head, mid, tail, key, kind, district, base = row
            at = minute_ms + phase
            level, extra = state[district]
            noise = rnd() - 0.5
            if kind == _SAL:
                value = (base + exposure[district] * (0.6 + 2.4 * level * level) + extra) * (
                    1 + 0.06 * noise
                )
            elif kind == _LVL:
                value = base + 130.0 * (level - 0.5) + 3.0 * noise
            elif kind == _SOIL:
                value = base - 8.0 * warm - 5.0 * dry - extra * 1.5 + 1.2 * noise
                value = min(100.0, max(0.0, value))
            elif kind == _AIR:
                value = 25.2 + 8.0 * warm + 1.2 * dry + base + 0.5 * noise
            elif kind == _WTMP:
                value = 27.4 + 2.6 * water_warm + base + 0.2 * noise
            else:
                value = base + 0.08 * extra + 0.1 * noise
            charge_now = battery[i] + charge
            battery[i] = 100.0 if charge_now > 100.0 else 3.0 if charge_now < 3.0 else charge_now
            append(
                (
                    at,
                    index,
                    key,
                    f'{head}{minute}{mid}{fmt(at)}{tail}{value:.2f},"battery_pct":{battery[i]:.1f}}}'.encode(),
                )
            )

"""Scenarios: what goes wrong in one district, from a given simulated time on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from schemas.places import District
from simulator.timefmt import MINUTE_MS


class ScenarioKind(StrEnum):
    """The scenarios ``ioc simulate --scenario`` knows."""

    SALINITY_INTRUSION = "salinity-intrusion"
    SITE_OUTAGE = "site-outage"
    PORTAL_BACKLOG = "portal-backlog"


DEFAULT_DISTRICTS: Final[dict[ScenarioKind, District]] = {
    ScenarioKind.SALINITY_INTRUSION: District.LONG_MY,
    ScenarioKind.SITE_OUTAGE: District.PHUNG_HIEP,
    ScenarioKind.PORTAL_BACKLOG: District.VI_THANH,
}
SALINITY_RAMP_MS: Final = 30 * MINUTE_MS
OUTAGE_MS: Final = 90 * MINUTE_MS
OUTAGE_SHARE: Final = 0.45


@dataclass(frozen=True)
class Scenario:
    """One scenario in one district, active in ``[start_ms, end_ms)`` (open-ended if None).

    salinity-intrusion: salinity ramps up over 30 min to 4.5-8 g/L with the tide, soil dries;
    site-outage: 45 % of the cell sites and fibre links go down for 90 min, the rest carry
    more load; portal-backlog: more submissions, and over half of completions are overdue.
    """

    kind: ScenarioKind
    district: District
    start_ms: int
    end_ms: int | None = None

    def active(self, ms: int) -> bool:
        """True while the scenario is on at simulated time ``ms``."""
        return self.start_ms <= ms and (self.end_ms is None or ms < self.end_ms)

    def ramp(self, ms: int, ramp_ms: int) -> float:
        """0 before the start, rising linearly to 1 over ``ramp_ms``, 0 after the end."""
        if not self.active(ms):
            return 0.0
        return min(1.0, (ms - self.start_ms) / ramp_ms) if ramp_ms > 0 else 1.0


def make_scenario(kind: ScenarioKind, district: District | None, start_ms: int) -> Scenario:
    """A scenario with its default district and duration."""
    end = start_ms + OUTAGE_MS if kind is ScenarioKind.SITE_OUTAGE else None
    return Scenario(kind, district or DEFAULT_DISTRICTS[kind], start_ms, end)


def find(scenarios: tuple[Scenario, ...], kind: ScenarioKind) -> tuple[Scenario, ...]:
    """The scenarios of one kind."""
    return tuple(s for s in scenarios if s.kind is kind)

"""What a KPI is: its definition (`KpiDef`) and its traffic-light target (`Target`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.kpi import EntityKind
from streams.accumulators import (
    ACCUMULATORS,
    Accumulator,
    KeyedAccumulator,
)

Observation = tuple[float, float]
"""(value, weight) of one event for one KPI."""

Status = Literal["green", "amber", "red"]


@dataclass(frozen=True)
class Target:
    """A traffic-light target: green if ``value op target.value``, amber if ``value op
    target.amber``, red otherwise.

    ``Target(">=", 0.95, 0.90)``: green at 0.95 and above, amber from 0.90, red below.
    ``Target("<=", 2.0, 4.0)``: green up to 2, amber up to 4, red above 4.
    ``amber`` is therefore the red boundary, the natural alert threshold.
    """

    op: Literal[">=", "<="]
    value: float
    amber: float

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"target op must be '>=' or '<=', got {self.op!r}")
        if (self.op == ">=" and self.amber > self.value) or (
            self.op == "<=" and self.amber < self.value
        ):
            raise ValueError(f"amber bound {self.amber} lies on the green side of {self.value}")

    def status(self, value: float) -> Status:
        """Traffic-light colour of ``value``."""
        if self.op == ">=":
            if value >= self.value:
                return "green"
            return "amber" if value >= self.amber else "red"
        if value <= self.value:
            return "green"
        return "amber" if value <= self.amber else "red"


@dataclass(frozen=True)
class KpiDef:
    """One KPI: where it comes from, how it is aggregated and how it is shown.

    ``unit`` is a Grafana unit id ("percentunit", "percent", "ms", "h", "none", "Mbits",
    "m" = minutes, "celsius") or one of the custom units "gL" (grams per litre) and "cm".
    """

    name: str
    topic: str
    accumulator: str
    unit: str
    title_en: str
    title_vi: str
    entity_kinds: tuple[EntityKind, ...]
    observe: Callable[[Any], Observation | None]
    target: Target | None = None
    alertable: bool = False
    decimals: int = 2
    observe_key: Callable[[Any], str] | None = None
    description: str = ""
    acc: Accumulator = field(init=False, repr=False, compare=False)
    """``ACCUMULATORS[accumulator]``, resolved once."""

    def __post_init__(self) -> None:
        acc = ACCUMULATORS.get(self.accumulator)
        if acc is None:
            raise ValueError(f"KPI {self.name}: unknown accumulator {self.accumulator!r}")
        if self.observe_key is not None and not isinstance(acc, KeyedAccumulator):
            raise ValueError(f"KPI {self.name}: observe_key needs a keyed accumulator")
        object.__setattr__(self, "acc", acc)

"""The KPI window: the final rows of one entity and event-time window, as the workers send
them on city.kpi.v1 (the one KPI shape on the wire; inside the product a row is a
:class:`streams.window_rows.KpiRow`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from schemas.events import Id, UtcTime


class EntityKind(StrEnum):
    DISTRICT = "district"
    AGENCY = "agency"
    SITE = "site"
    SENSOR = "sensor"


KpiName = Annotated[str, Field(min_length=1, max_length=64)]
TopicName = Annotated[str, Field(min_length=1, max_length=249)]
Tally = Annotated[int, Field(ge=0)]
"""A count or offset: never negative."""
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""What a KPI value stands on (see :class:`KpiWindow`): finite, never negative."""
Bins = dict[Annotated[str, Field(pattern=r"^-?[0-9]{1,6}$")], Weight]
Sketch = tuple[Tally, Weight, Weight, Bins, Bins]
"""A quantile KPI's mergeable sketch: observations, total weight, weight at zero, then the
positive and negative DDSketch bins (1 % relative accuracy) as ``{bin key: weight}``."""


_ROW_FIELDS: Final = ("kpi", "value", "count", "weight")
"""The fields of a single-row object that a window states per KPI, in ``kpis`` order."""


def _padded(item: object) -> object:
    """An older worker's ``[kpi, value, count]``, with no weight."""
    return [*item, None] if isinstance(item, list | tuple) and len(item) == 3 else item


class KpiWindow(BaseModel):
    """The final rows of one entity's window with their lineage (which source records
    produced them), stated once.

    How the workers send rows on city.kpi.v1 (a JSON array of these per record): one
    ``[kpi, value, count, weight]`` per KPI. ``count`` is the number of observations behind
    ``value``; ``weight`` what the value stands on: the denominator of a ratio or weighted
    mean (total weight, readings expected), the observation count otherwise. Rows of
    several entities merge exactly as ``sum(value * weight) / sum(weight)``; rows without a
    weight (older workers sent ``[kpi, value, count]``) are read with ``count``. A row's
    identity is (kpi, entity_kind, entity_id, window_start, window_end).

    Older workers also sent single rows: one object with ``kpi``, ``value``, ``count`` and
    ``weight`` beside the window's fields. It is read as a window of that one KPI.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_kind: EntityKind
    entity_id: Id
    district: Id
    window_start: UtcTime
    window_end: UtcTime
    source_topic: TopicName
    source_partition: Tally
    first_offset: Tally
    last_offset: Tally
    event_count: Tally
    kpis: Annotated[
        list[Annotated[tuple[KpiName, float, Tally, Weight | None], BeforeValidator(_padded)]],
        Field(min_length=1, description="[kpi, value, count, weight] of each KPI of the window"),
    ]
    sketches: dict[KpiName, Sketch] | None = Field(
        None,
        description="district windows: the sketch of each quantile KPI, which province "
        "roll-ups merge (n, total weight, zero weight, positive bins, negative bins)",
    )

    @model_validator(mode="before")
    @classmethod
    def _single_row(cls, data: Any) -> Any:
        """An older worker's single-row object as a window of its one KPI."""
        if isinstance(data, dict) and "kpis" not in data and "kpi" in data:
            data = dict(data)
            data["kpis"] = [[data.pop(name, None) for name in _ROW_FIELDS]]
        return data

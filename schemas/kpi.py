"""The KPI row: one final value of one KPI for one entity and one event-time window; and the
KPI window: the rows of one entity and window, as the workers send them on city.kpi.v1."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

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
Bins = dict[Annotated[str, Field(pattern=r"^-?[0-9]{1,6}$")], Weight]
Sketch = tuple[Tally, Weight, Weight, Bins, Bins]
"""A quantile KPI's mergeable sketch: observations, total weight, weight at zero, then the
positive and negative DDSketch bins (1 % relative accuracy) as ``{bin key: weight}``."""
"""What a KPI value stands on (see :class:`KpiRow`): finite, never negative."""


class KpiRow(BaseModel):
    """A final KPI row with its lineage (which source records produced it).

    ``count`` is the number of observations behind ``value``; ``weight`` is what the value
    stands on: the denominator of a ratio or weighted mean (total weight, readings
    expected), the observation count otherwise. Rows of several entities merge exactly as
    ``sum(value * weight) / sum(weight)``. Rows written before ``weight`` existed have none:
    readers then take ``count``. The identity of a row is (kpi, entity_kind, entity_id,
    window_start, window_end).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kpi: KpiName
    entity_kind: EntityKind
    entity_id: Id
    district: Id
    window_start: AwareDatetime
    window_end: AwareDatetime
    value: float
    count: Tally
    source_topic: TopicName
    source_partition: Tally
    first_offset: Tally
    last_offset: Tally
    event_count: Tally
    weight: Weight | None = None

    @field_validator("window_start", "window_end")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def identity(self) -> tuple[str, str, str, datetime, datetime]:
        """The upsert key of this row."""
        return (
            self.kpi,
            self.entity_kind.value,
            self.entity_id,
            self.window_start,
            self.window_end,
        )


def _padded(item: object) -> object:
    """An older worker's ``[kpi, value, count]``, with no weight."""
    return [*item, None] if isinstance(item, list | tuple) and len(item) == 3 else item


class KpiWindow(BaseModel):
    """The final rows of one entity's window with their lineage, stated once.

    How the workers send rows on city.kpi.v1 (a JSON array of these per record): one
    ``[kpi, value, count, weight]`` per KPI instead of one :class:`KpiRow` object each, which
    would repeat the entity, window and lineage for every KPI (about 3x the bytes); older
    workers sent ``[kpi, value, count]``.
    :meth:`rows` gives the :class:`KpiRow` of each triple.
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

    def rows(self) -> list[KpiRow]:
        """One :class:`KpiRow` per KPI (already valid: every field was checked here)."""
        shared = self.model_dump(exclude={"kpis"})
        return [
            KpiRow.model_construct(
                kpi=item[0],
                value=item[1],
                count=item[2],
                weight=item[3],
                **shared,
            )
            for item in self.kpis
        ]

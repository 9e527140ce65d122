"""The KPI window: the final rows of one entity and event-time window, as the workers send
them on city.kpi.v1 (the one KPI shape on the wire; inside the product a row is a
:class:`streams.window_rows.KpiRow`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

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
    ``weight`` beside the window's fields; the sink reads it as a window of that one KPI
    (``window_of_older_worker``).
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
        list[tuple[KpiName, float, Tally, Weight | None]],
        Field(min_length=1, description="[kpi, value, count, weight] of each KPI of the window"),
    ]
    sketches: dict[KpiName, Sketch] | None = Field(
        None,
        description="district windows: the sketch of each quantile KPI, which province "
        "roll-ups merge (n, total weight, zero weight, positive bins, negative bins)",
    )


def window_of_older_worker(data: Any) -> Any:
    """What an older worker sent, as the :class:`KpiWindow` object it stands for: a
    single-row object (``kpi``, ``value``, ``count``, ``weight`` beside the window's
    fields) becomes the window of its one KPI, and ``[kpi, value, count]`` items get no
    weight; anything else is returned as it is. The sink applies it only to a message that
    is not a valid window, so current workers' packs are validated without a Python call
    per window or KPI."""
    if not isinstance(data, dict):
        return data
    if "kpis" not in data and "kpi" in data:
        data = dict(data)
        data["kpis"] = [[data.pop(name, None) for name in _ROW_FIELDS]]
    kpis = data.get("kpis")
    if isinstance(kpis, list) and any(isinstance(i, list) and len(i) == 3 for i in kpis):
        data = {**data, "kpis": [[*i, None] if isinstance(i, list) and len(i) == 3 else i
                                 for i in kpis]}  # fmt: skip
    return data

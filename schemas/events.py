"""Raw event models of the three sources, validated strictly (pydantic v2).

Each model is the full wire format of one raw topic: an envelope (``event_id``, ``source``,
``occurred_at``, ``schema_version``, ``district``) plus the source's own fields. Unknown
fields, naive or non-UTC-convertible times, out-of-range physical values and wrong types
are rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.places import District

SCHEMA_VERSION: Final = 1

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=128)]


class Envelope(BaseModel):
    """Fields every raw event carries."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    event_id: Id
    source: Text
    occurred_at: AwareDatetime
    schema_version: Literal[1]
    district: District

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class Level(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class Channel(StrEnum):
    ONLINE = "online"
    COUNTER = "counter"
    POSTAL = "postal"


class DossierStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class DossierEvent(Envelope):
    """A status transition of one public-service dossier (portal or one-stop shop)."""

    dossier_id: Id
    procedure_code: Id
    agency_id: Id
    level: Level
    channel: Channel
    status: DossierStatus
    received_at: AwareDatetime
    due_at: AwareDatetime | None = None
    paid_online: bool = False
    components_total: Annotated[int, Field(ge=0, le=100)] = 0
    components_reused: Annotated[int, Field(ge=0, le=100)] = 0
    rating: Annotated[int, Field(ge=1, le=5)] | None = None

    @field_validator("received_at", "due_at")
    @classmethod
    def _times_to_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.components_reused > self.components_total:
            raise ValueError("components_reused exceeds components_total")
        if self.received_at > self.occurred_at:
            raise ValueError("received_at is after occurred_at")
        if self.due_at is not None and self.due_at < self.received_at:
            raise ValueError("due_at is before received_at")
        return self


class Technology(StrEnum):
    G2 = "2G"
    G3 = "3G"
    G4 = "4G"
    G5 = "5G"
    FIBRE = "fibre"
    LAN = "LAN"


class ProbeEvent(Envelope):
    """One probe of a cell site, fibre broadband link or agency LAN link."""

    site_id: Id
    technology: Technology
    up: bool
    latency_ms: Annotated[float, Field(ge=0, le=60_000)] | None = None
    loss_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    downlink_mbps: Annotated[float, Field(ge=0, le=100_000)] | None = None
    uplink_mbps: Annotated[float, Field(ge=0, le=100_000)] | None = None
    subscribers: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class SensorKind(StrEnum):
    SALINITY = "salinity"
    SOIL_MOISTURE = "soil_moisture"
    AIR_TEMPERATURE = "air_temperature"
    WATER_TEMPERATURE = "water_temperature"
    WATER_LEVEL = "water_level"
    PH = "ph"


SENSOR_BOUNDS: Final[dict[SensorKind, tuple[float, float, str]]] = {
    SensorKind.SALINITY: (0.0, 40.0, "g/L"),
    SensorKind.SOIL_MOISTURE: (0.0, 100.0, "%"),
    SensorKind.AIR_TEMPERATURE: (-10.0, 60.0, "degC"),
    SensorKind.WATER_TEMPERATURE: (0.0, 50.0, "degC"),
    SensorKind.WATER_LEVEL: (-500.0, 1000.0, "cm"),
    SensorKind.PH: (0.0, 14.0, "pH"),
}


class SensorReading(Envelope):
    """One reading of a farm IoT sensor."""

    sensor_id: Id
    farm_id: Id
    zone: Id
    kind: SensorKind
    value: float
    battery_pct: Annotated[float, Field(ge=0, le=100)]

    @model_validator(mode="after")
    def _physical(self) -> Self:
        low, high, unit = SENSOR_BOUNDS[self.kind]
        if not low <= self.value <= high:
            raise ValueError(f"{self.kind.value} value {self.value} outside {low}..{high} {unit}")
        return self


RawEvent = DossierEvent | ProbeEvent | SensorReading

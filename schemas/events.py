"""Raw event models of the three sources, validated strictly (pydantic v2).

Each model is the full wire format of one raw topic: an envelope (``event_id``, ``source``,
``occurred_at``, ``schema_version``, ``district``) plus the source's own fields. Unknown
fields, naive or non-UTC-convertible times, out-of-range physical values, NaN and infinity,
and wrong types are rejected.

Validate wire bytes with ``Model.model_validate_json(raw)`` (or ``schemas.decode.decode``):
the models are strict, and strict validation of Python dicts refuses ISO time strings and
enum values given as plain strings, while strict JSON validation accepts them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from schemas.places import District

SCHEMA_VERSION: Final = 1

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=128)]


def to_utc(value: datetime) -> datetime:
    """``value`` (timezone-aware) in UTC; ValueError when UTC falls outside years 1..9999."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range once converted to UTC") from None


def _whole(value: object) -> object:
    """A float with no fraction (``5.0``) as the int it is: JSON Schema's ``integer``."""
    return int(value) if type(value) is float and value.is_integer() else value


WHOLE: Final = BeforeValidator(_whole)
"""Put last in an ``Annotated[int, Field(...), WHOLE]``: an integer, also when written
``5.0`` (as JSON Schema's ``integer`` allows), never a bool or a string; the bounds stay
``minimum`` and ``maximum`` in the JSON Schema."""

UtcTime = Annotated[AwareDatetime, AfterValidator(to_utc)]
"""A timezone-aware time, normalised to UTC (a plain function validator: one Python call)."""


class Envelope(BaseModel):
    """Fields every raw event carries."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    event_id: Annotated[Id, Field(description="Unique id of the event; resends reuse it.")]
    source: Annotated[Text, Field(description="The system that emitted the event.")]
    occurred_at: Annotated[
        UtcTime, Field(description="Event time, timezone-aware; normalised to UTC.")
    ]
    schema_version: Annotated[
        int,
        Field(ge=SCHEMA_VERSION, le=SCHEMA_VERSION, description="Wire format version: 1."),
        WHOLE,
    ]
    """A strict int bounded to 1: unlike ``Literal[1]`` it refuses ``true``."""
    district: Annotated[District, Field(description="District of the entity; the Kafka key.")]


class Level(StrEnum):
    """Administrative level of the agency that handles a dossier."""

    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class Channel(StrEnum):
    """How the citizen submitted the dossier."""

    ONLINE = "online"
    COUNTER = "counter"
    POSTAL = "postal"


class DossierStatus(StrEnum):
    """The status a dossier moved into."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class DossierEvent(Envelope):
    """A status transition of one public-service dossier (portal or one-stop shop).

    Rules across fields, which JSON Schema cannot state: components_reused <=
    components_total; received_at <= occurred_at; due_at >= received_at; every time lies
    in the years 1..9999 once converted to UTC.
    """

    dossier_id: Id
    procedure_code: Id
    agency_id: Id
    level: Level
    channel: Channel
    status: DossierStatus
    received_at: Annotated[UtcTime, Field(description="When the agency received the dossier.")]
    due_at: Annotated[UtcTime | None, Field(description="Legal completion deadline, if any.")] = (
        None
    )
    paid_online: Annotated[bool, Field(description="Fees paid through the portal.")] = False
    components_total: Annotated[
        int, Field(ge=0, le=100, description="Documents the dossier consists of."), WHOLE
    ] = 0
    components_reused: Annotated[
        int, Field(ge=0, le=100, description="Documents reused from earlier dossiers."), WHOLE
    ] = 0
    rating: Annotated[
        int | None, Field(ge=1, le=5, description="Citizen rating 1-5, when given."), WHOLE
    ] = None

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
    """Access technology of a probed cell site or link."""

    G2 = "2G"
    G3 = "3G"
    G4 = "4G"
    G5 = "5G"
    FIBRE = "fibre"
    LAN = "LAN"


class ProbeEvent(Envelope):
    """One probe of a cell site, fibre broadband link or agency LAN link.

    Rule across fields, which JSON Schema cannot state: occurred_at lies in the years
    1..9999 once converted to UTC.
    """

    site_id: Id
    technology: Technology
    up: Annotated[bool, Field(description="Whether the site or link answered the probe.")]
    latency_ms: Annotated[
        float | None, Field(ge=0, le=60_000, description="Round-trip time, ms (null when down).")
    ] = None
    loss_pct: Annotated[float | None, Field(ge=0, le=100, description="Packet loss, %.")] = None
    downlink_mbps: Annotated[
        float | None, Field(ge=0, le=100_000, description="Measured downlink, Mbit/s.")
    ] = None
    uplink_mbps: Annotated[
        float | None, Field(ge=0, le=100_000, description="Measured uplink, Mbit/s.")
    ] = None
    subscribers: Annotated[
        int, Field(ge=0, le=1_000_000, description="Mobile subscribers attached (cells)."), WHOLE
    ] = 0


class SensorKind(StrEnum):
    """What a farm sensor measures (units in ``SENSOR_BOUNDS``)."""

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


def _bounds_by_kind(schema: dict[str, Any]) -> None:
    """State each kind's value range in the JSON Schema (``if kind .. then value ..``)."""
    schema["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind.value}}, "required": ["kind"]},
            "then": {"properties": {"value": {"minimum": low, "maximum": high}}},
        }
        for kind, (low, high, _) in SENSOR_BOUNDS.items()
    ]


class SensorReading(Envelope):
    """One reading of a farm IoT sensor.

    The value range of each kind is in ``allOf``. Rule across fields, which JSON Schema
    cannot state: occurred_at lies in the years 1..9999 once converted to UTC.
    """

    model_config = ConfigDict(json_schema_extra=_bounds_by_kind)

    sensor_id: Id
    farm_id: Id
    zone: Id
    kind: SensorKind
    value: Annotated[
        float, Field(description="Reading in the unit of its kind (see SENSOR_BOUNDS).")
    ]
    battery_pct: Annotated[float, Field(ge=0, le=100, description="Sensor battery, %.")]

    @model_validator(mode="after")
    def _physical(self) -> Self:
        low, high, unit = SENSOR_BOUNDS[self.kind]
        if not low <= self.value <= high:
            raise ValueError(f"{self.kind.value} value {self.value} outside {low}..{high} {unit}")
        return self


RawEvent = DossierEvent | ProbeEvent | SensorReading

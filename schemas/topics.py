"""Topic names and partitioning keys: the one place that defines them.

Every raw event is keyed by its district. Every KPI entity (a district, an agency, a cell
site, a farm sensor) lies inside one district, so all events that feed one window live in
one partition and a window never needs a cross-partition merge. Province-wide figures are
derived from district rows (ratios are stored with their denominator as ``count``).
"""

from __future__ import annotations

from typing import Final

PORTAL_TOPIC: Final = "city.portal.dossier.v1"
NETWORK_TOPIC: Final = "city.network.probe.v1"
FARM_TOPIC: Final = "city.farm.sensor.v1"
RAW_TOPICS: Final = (PORTAL_TOPIC, NETWORK_TOPIC, FARM_TOPIC)

DEADLETTER_TOPIC: Final = "city.deadletter.v1"
LATE_TOPIC: Final = "city.late.v1"
KPI_TOPIC: Final = "city.kpi.v1"
CLOCK_TOPIC: Final = "city.clock.v1"
"""Clock notes of the workers: the wall-clock time a record was judged by, where it
changed a decision (streams.clocknotes); replay reads them."""
CLAIMS_TOPIC: Final = "city.entity-claims.v1"
"""Claims of the workers: the district of each entity the province's registry does not
list, first claim wins (streams.routing); every record is kept, replay reads them all."""


def partition_key(district: str) -> bytes:
    """The Kafka message key of a raw event: its district id, UTF-8."""
    return district.encode()

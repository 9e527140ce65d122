"""``ioc_sensor_last_seen_timestamp_seconds``: the event time of each farm sensor's newest
reading (the sensor-silent alert reads it), at most ``BoundedLabels``' cap of series."""

from __future__ import annotations

from collections.abc import Mapping

from common import metrics


class SensorGauges:
    """The last-seen gauge of every sensor a batch heard from."""

    def __init__(self) -> None:
        self.labels = metrics.BoundedLabels("ioc_sensor_last_seen_timestamp_seconds", 5000)
        self._admitted: set[tuple[str, str]] = set()

    def update(self, seen: Mapping[tuple[str, str], float]) -> None:
        """Set the gauge of each (sensor id, district) of ``seen`` to its event time."""
        admitted, admit = self._admitted, self._admit
        metrics.SENSOR_LAST_SEEN.set_all(
            (labels, (t,)) for labels, t in seen.items() if labels in admitted or admit(labels)
        )

    def _admit(self, labels: tuple[str, str]) -> bool:
        if not self.labels.admit(labels):
            return False
        self._admitted.add(labels)
        return True

"""Fast ISO-8601 UTC formatting of millisecond timestamps (the generator's hot path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 3_600_000
DAY_MS: Final = 86_400_000


class IsoFormatter:
    """Formats ms since the epoch as ``YYYY-MM-DDTHH:MM:SS.mmmZ``, caching minute prefixes."""

    def __init__(self) -> None:
        self._prefixes: dict[int, str] = {}

    def __call__(self, ms: int) -> str:
        """The ISO string of ``ms``."""
        minute, rest = divmod(ms, MINUTE_MS)
        prefix = self._prefixes.get(minute)
        if prefix is None:
            if len(self._prefixes) > 4096:
                self._prefixes.clear()
            prefix = (EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:")
            self._prefixes[minute] = prefix
        return f"{prefix}{rest // 1000:02d}.{rest % 1000:03d}Z"


def iso(ms: int) -> str:
    """ISO string of ``ms`` (uncached; for the cold path)."""
    return (EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def to_ms(value: datetime) -> int:
    """``value`` (timezone-aware) as ms since the epoch."""
    return round(value.timestamp() * 1000)

"""A one-line progress display on stderr: records read, events/s and ETA, about twice a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Rewrites one stderr line with ``\\r``; does nothing when disabled."""

    def __init__(
        self, total: int, *, enabled: bool, stream: TextIO | None = None, every: float = 0.5
    ) -> None:
        self.total = total
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.every = every
        self.done = 0
        self.started = time.monotonic()
        self.shown_at = 0.0
        self.width = 0

    def advance(self, n: int) -> None:
        """Count ``n`` more records; redraw when the last drawing is old enough."""
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.shown_at >= self.every:
            self.shown_at = now
            self._draw(self.line(now))

    def line(self, now: float) -> str:
        """The text of the progress line at monotonic time ``now``."""
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        share = f" / {self.total:,} ({100 * self.done / self.total:.0f} %)" if self.total else ""
        eta = ""
        if rate > 0 and self.total > self.done:
            eta = f", ETA {_duration((self.total - self.done) / rate)}"
        return f"replay: read {self.done:,}{share}, {rate:,.0f} events/s{eta}"

    def close(self) -> None:
        """Draw the final state and end the line."""
        if not self.enabled:
            return
        self._draw(self.line(time.monotonic()))
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, text: str) -> None:
        padding = " " * max(0, self.width - len(text))
        self.width = len(text)
        self.stream.write("\r" + text + padding)
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

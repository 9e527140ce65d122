"""Garbage collection on a schedule instead of by allocation counts.

CPython's automatic collector also runs a full collection each time the long-lived heap has
grown by a quarter: a worker catching up builds hundreds of MiB of window state and pays
for one full scan of it after another, and every young collection rescans the fetched
records waiting in the lanes. The worker turns the automatic collector off
(:func:`take_over`) and its timer calls :func:`collect` every ``TICK_SECONDS``: the youngest
generation every time (objects that survive it are not scanned again until the next full
collection), everything every ``FULL_SECONDS``. Cyclic garbage lives at most that long;
everything else is freed by reference counting as usual.
"""

from __future__ import annotations

import gc
import time
from typing import Final

TICK_SECONDS: Final = 10.0
FULL_SECONDS: Final = 300.0

_last_full = [time.monotonic()]


def take_over() -> None:
    """Stop automatic collection; objects alive now (code, settings) are never scanned."""
    gc.disable()
    gc.freeze()


def collect(now: float | None = None) -> int:
    """Collect the youngest generation, or everything once ``FULL_SECONDS`` have passed;
    returns the number of unreachable objects found."""
    now = time.monotonic() if now is None else now
    if now - _last_full[0] >= FULL_SECONDS:
        _last_full[0] = now
        return gc.collect()
    return gc.collect(0)

"""Garbage collection on a schedule instead of by allocation counts.

CPython's automatic collector scans every young object that is still alive, and also runs a
full collection each time the long-lived heap has grown by a quarter: a worker catching up
builds hundreds of MiB of window state and pays for scanning all of it, once young and
again and again when full, while finding almost no garbage (a few hundred objects in 10 s
of catch-up, measured). The worker turns the automatic collector off (:func:`take_over`)
and its timer calls :func:`collect` every ``INTERVAL_SECONDS`` for one full collection.
Cyclic garbage lives at most that long; everything else is freed by reference counting as
usual.
"""

from __future__ import annotations

import gc
from typing import Final

INTERVAL_SECONDS: Final = 300.0


def take_over() -> None:
    """Stop automatic collection; objects alive now (code, settings) are never scanned."""
    gc.disable()
    gc.freeze()


def collect() -> int:
    """One full collection; returns the number of unreachable objects found."""
    return gc.collect()

"""Replay's progress on stderr (rich): records read, events/s and time left."""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress


class Progress:
    """A rich progress bar over the records to read; does nothing when disabled."""

    def __init__(self, total: int, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        console = Console(file=stream or sys.stderr, force_terminal=stream is not None)
        self._bar = RichProgress(
            TextColumn("replay: read"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]} events/s"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._task = self._bar.add_task("replay", total=total or None, rate="0")
        if enabled:
            self._bar.start()

    def advance(self, n: int) -> None:
        """Count ``n`` more records."""
        self._bar.advance(self._task, n)
        speed = self._bar.tasks[0].speed
        self._bar.update(self._task, rate=f"{speed or 0:,.0f}")

    @property
    def done(self) -> int:
        """Records counted so far."""
        return int(self._bar.tasks[0].completed)

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._bar.stop()

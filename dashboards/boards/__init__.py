"""One module per board; ``BOARDS`` lists them in menu order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from grafanalib import core as g

from dashboards.boards import agriculture, network, overview, pipeline, services


@dataclass(frozen=True)
class BoardSpec:
    """A board: its short name (CLI, file name) and the function that builds it."""

    slug: str
    build: Callable[[], g.Dashboard]


BOARDS: Final = (
    BoardSpec("overview", overview.build),
    BoardSpec("services", services.build),
    BoardSpec("network", network.build),
    BoardSpec("agriculture", agriculture.build),
    BoardSpec("pipeline", pipeline.build),
)


def by_slug(slug: str) -> BoardSpec:
    """The board called ``slug``; KeyError lists the known ones."""
    for spec in BOARDS:
        if spec.slug == slug:
            return spec
    raise KeyError(f"unknown board {slug!r}; known: {', '.join(s.slug for s in BOARDS)}")

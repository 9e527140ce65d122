"""The worker's scheduled garbage collection (streams.worker.garbage)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.worker import garbage


class _Node:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def automatic_gc_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    yield
    if was:
        gc.enable()


def test_collect_frees_cycles_that_automatic_collection_no_longer_does(
    automatic_gc_off: None,
) -> None:
    node = _Node()
    alive = weakref.ref(node)
    del node
    assert alive() is not None, "a cycle outlives its last reference without a collector"
    assert garbage.collect() >= 1
    assert alive() is None


def test_collect_is_a_full_collection(
    monkeypatch: pytest.MonkeyPatch, automatic_gc_off: None
) -> None:
    generations: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: generations.append(generation) or 0)
    garbage.collect()
    assert generations == [2]

"""The worker's bound on KPI messages unread by the sink (streams.worker.backlog)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiokafka.errors import KafkaConnectionError

from streams.worker.backlog import KpiBacklog


class ScriptedLag(KpiBacklog):
    """The sink group's lag read from a script instead of the broker."""

    def __init__(self, lags: list[int | Exception | None], **kwargs: float) -> None:
        super().__init__("127.0.0.1:1", "sink", 100, 4, **kwargs)
        self.script: Iterator[int | Exception | None] = iter(lags)
        self.reads = 0

    async def _read(self) -> int:
        self.reads += 1
        step = next(self.script)
        if isinstance(step, Exception):
            raise step
        assert step is not None
        return step


async def test_off_never_reads_the_broker() -> None:
    backlog = ScriptedLag([])
    backlog.limit = 0
    assert await backlog.wait() == 0.0
    assert backlog.reads == 0


async def test_waits_until_the_sink_caught_up() -> None:
    backlog = ScriptedLag([500, 300, 101, 100, 0], poll_seconds=0.01)
    waited = await backlog.wait()
    assert backlog.reads == 4
    assert 0.02 <= waited < 1.0
    assert backlog.waited_seconds == waited


async def test_gives_up_after_the_longest_wait() -> None:
    backlog = ScriptedLag([10_000] * 1000, poll_seconds=0.01, max_wait_seconds=0.1)
    waited = await backlog.wait()
    assert 0.1 <= waited < 0.5


@pytest.mark.parametrize("broken", [KafkaConnectionError(), OSError("refused")])
async def test_a_broker_that_does_not_answer_means_no_wait(broken: Exception) -> None:
    backlog = ScriptedLag([broken], poll_seconds=0.01)
    assert await backlog.wait() < 0.05
    assert await backlog.lag() is None


async def test_reads_the_broker_at_most_once_a_poll() -> None:
    backlog = ScriptedLag([7, 8], poll_seconds=60)
    assert [await backlog.lag() for _ in range(5)] == [7] * 5
    assert backlog.reads == 1

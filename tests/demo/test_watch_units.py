"""The demo waits for the watermark of every raw partition before it reads the latest KPIs."""

from __future__ import annotations

from ioc.watch import WATERMARK, watermarks, watermarks_behind
from schemas.topics import RAW_TOPICS


def _samples(watermark: float, partitions: int) -> dict[str, float]:
    return {
        f'{WATERMARK}{{partition="{p}",topic="{t}"}}': watermark
        for t in RAW_TOPICS
        for p in range(partitions)
    }


def test_every_partition_at_the_period_end_is_done() -> None:
    assert watermarks_behind(_samples(1_000.0, 4), 4, 1_000.0) == 0


def test_one_partition_short_of_the_period_end_holds_the_summary_back() -> None:
    samples = _samples(1_060.0, 4)
    samples[f'{WATERMARK}{{partition="2",topic="{RAW_TOPICS[1]}"}}'] = 999.0
    assert watermarks_behind(samples, 4, 1_000.0) == 1


def test_a_partition_that_reported_no_watermark_is_behind() -> None:
    samples = _samples(1_060.0, 3)
    assert watermarks_behind(samples, 4, 1_000.0) == len(RAW_TOPICS)


def test_only_watermark_series_are_compared_for_standing_still() -> None:
    samples = {**_samples(1_000.0, 2), "ioc_events_consumed_total": 5.0}
    assert set(watermarks(samples)) == set(_samples(1_000.0, 2))

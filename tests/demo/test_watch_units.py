"""The demo waits for the watermark of every raw partition before it reads the latest KPIs."""

from __future__ import annotations

from common.metrics import samples_of, series
from ioc.watch import WATERMARK, watermarks, watermarks_behind
from schemas.topics import RAW_TOPICS


def _samples(watermark: float, partitions: int) -> dict[str, float]:
    """What a scrape of a worker holding ``partitions`` partitions of each raw topic gives."""
    text = f"# TYPE {WATERMARK} gauge\n" + "".join(
        f'{WATERMARK}{{topic="{t}",partition="{p}"}} {watermark}\n'
        for t in RAW_TOPICS
        for p in range(partitions)
    )
    return samples_of(text)


def test_every_partition_at_the_period_end_is_done() -> None:
    assert watermarks_behind(_samples(1_000.0, 4), 4, 1_000.0) == 0


def test_one_partition_short_of_the_period_end_holds_the_summary_back() -> None:
    samples = _samples(1_060.0, 4)
    samples[series(WATERMARK, {"topic": RAW_TOPICS[1], "partition": "2"})] = 999.0
    assert watermarks_behind(samples, 4, 1_000.0) == 1


def test_a_partition_that_reported_no_watermark_is_behind() -> None:
    samples = _samples(1_060.0, 3)
    assert watermarks_behind(samples, 4, 1_000.0) == len(RAW_TOPICS)


def test_only_watermark_series_are_compared_for_standing_still() -> None:
    samples = {**_samples(1_000.0, 2), "ioc_events_consumed_total": 5.0}
    assert set(watermarks(samples)) == set(_samples(1_000.0, 2))

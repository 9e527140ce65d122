"""Two workers' CPU per event, alternately, on the same topics of one private broker.

Runs path (c) of bench/streams_bench.py (``ioc worker`` until it consumed every event) with
the ``ioc`` of two installations, old and new, in alternating order (old first in odd
rounds, new first in even ones), and prints each run's CPU per event (user + system time
of the worker process over the measured span) and the medians. CPU per event is steadier
than events/s on a shared machine; give several rounds all the same.

    .venv/bin/python bench/worker_ab.py --old OTHER_CHECKOUT/.venv/bin/ioc --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tests.streams.support as support  # noqa: E402
from bench.streams_bench import _simulate, our_worker  # noqa: E402
from tests.streams.support import PrivateBroker, read_jsonl  # noqa: E402
from tests.support.kafka import produce  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the old installation's ioc")
    parser.add_argument("--new", type=Path, default=support.IOC, help="default: this one's")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ioc-bench-worker-ab-"))
    messages = read_jsonl(_simulate(args.events, args.seed, work))
    iocs = {"old": args.old, "new": args.new}
    cpu: dict[str, list[float]] = {name: [] for name in iocs}
    with PrivateBroker(work) as broker:
        asyncio.run(produce(broker.bootstrap, messages))
        n = len(messages)
        for r in range(args.rounds):
            order = list(iocs) if r % 2 == 0 else list(reversed(iocs))
            for name in order:
                support.IOC = iocs[name]
                seconds, rss, used = our_worker(broker.bootstrap, n, work, f"ab-{name}-{r}")
                cpu[name].append(used / n * 1e6)
                print(
                    f"round {r + 1} {name}: {cpu[name][-1]:.1f} us CPU/event, "
                    f"{n / seconds:,.0f} events/s, rss {rss:.0f} MiB",
                    flush=True,
                )
    old, new = statistics.median(cpu["old"]), statistics.median(cpu["new"])
    print(f"medians: old {old:.1f}, new {new:.1f} us CPU/event ({new / old - 1:+.1%})")


if __name__ == "__main__":
    main()

"""``ioc simulate``: produce a simulated province's events to Kafka or a JSONL file."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import orjson

from common import config
from common.durations import offset_seconds_arg, parse_seconds, seconds_arg
from common.errors import UserError
from schemas.places import District
from simulator.faults import FaultRates
from simulator.generator import SOURCES, Message, SimConfig, Topics, events_per_minute
from simulator.generator import generate as generate_messages
from simulator.output import Pacer, produce, write_jsonl
from simulator.province import build_province
from simulator.scenarios import Scenario, ScenarioKind, make_scenario
from simulator.summary import Summary, render_text
from simulator.timefmt import MINUTE_MS, iso

EPILOG = """\
examples:
  ioc simulate --sim-duration 3h --start now-3h         3 simulated hours ending now, to Kafka
  ioc simulate --rate 2000 --duration 60 --scenario site-outage
  ioc simulate --events 100000 --seed 7 --start 2025-03-14T00:00:00Z --out events.jsonl
  ioc simulate --sim-duration 1h --malformed 0.01 --invalid 0.01 --duplicates 0.02 \\
      --late 0.01 --future 0.005 --out-of-order 0.05 --summary-json summary.json

Without --start the simulated period ends about now (it starts as long ago as the run is
expected to cover). To Kafka, record timestamps are the wall clock of sending and the
simulated clock never runs ahead of it: only --future events are future-dated.
"""


def parse_start(text: str, now_ms: int) -> int:
    """``now``, ``-3h`` or ``now-3h`` (before now), or an ISO time (UTC without offset)."""
    text = text.strip()
    if text == "now":
        return now_ms
    if text.startswith(("-", "now-")):
        return now_ms - int(parse_seconds(text.partition("-")[2]) * 1000)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"bad --start {text!r}: use an ISO time (2025-03-14T08:00:00+07:00), now or now-3h"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    return value


def register(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``ioc simulate``."""
    parser = add_parser(
        "simulate",
        help="produce simulated portal, network and farm events (Kafka or JSONL)",
        description="Simulate Hau Giang province's service portal, network probes and farm "
        "sensors with realistic rhythms, scenarios and injected faults.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _output_options(parser)
    _pace_options(parser)
    _scenario_options(parser)
    _fault_options(parser)
    parser.set_defaults(handler=run)


def _output_options(parser: argparse.ArgumentParser) -> None:
    """Where the messages go: a JSONL file or Kafka topics."""
    where = parser.add_argument_group("output")
    where.add_argument("--out", type=Path, help="write JSON lines to this file instead of Kafka")
    where.add_argument("--bootstrap", help="Kafka bootstrap (default: IOC_KAFKA_BOOTSTRAP)")
    where.add_argument("--acks", choices=("1", "all"), default="all", help="producer acks")
    where.add_argument("--topic-prefix", default="", help="prefix of the standard topic names")
    where.add_argument("--topics", help="per-source topics: portal=NAME,network=NAME,farm=NAME")
    where.add_argument(
        "--sources", default=",".join(SOURCES), help="sources to simulate (default: all three)"
    )
    where.add_argument("--summary-json", type=Path, help="also write the summary to this file")


def _pace_options(parser: argparse.ArgumentParser) -> None:
    """How fast and how long: rates, durations, start and seed."""
    pace = parser.add_argument_group("pace and length")
    pace.add_argument(
        "--rate",
        type=_non_negative,
        default=0.0,
        help="messages per real second (0: as fast as possible)",
    )
    pace.add_argument(
        "--speed",
        type=_non_negative,
        default=0.0,
        help="simulated seconds per real second (0: no limit)",
    )
    pace.add_argument("--duration", type=seconds_arg, help="stop after this much real time")
    pace.add_argument("--events", type=int, help="stop after this many messages")
    pace.add_argument("--sim-duration", type=seconds_arg, help="simulate this much time, e.g. 3h")
    pace.add_argument("--start", help="simulated start: ISO time, now, now-3h (or --start=-3h)")
    pace.add_argument("--seed", type=int, default=1, help="same seed, same messages")


def _scenario_options(parser: argparse.ArgumentParser) -> None:
    """Which scenarios run, where and when."""
    world = parser.add_argument_group("scenarios")
    world.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME[=DISTRICT]",
        help="salinity-intrusion (long-my), site-outage (phung-hiep) or portal-backlog "
        "(vi-thanh); repeatable",
    )
    world.add_argument(
        "--scenario-district",
        choices=[d.value for d in District],
        help="district of every --scenario given without one",
    )
    world.add_argument(
        "--scenario-after",
        type=offset_seconds_arg,
        default=0.0,
        help="simulated time from the start until scenarios begin",
    )
    world.add_argument(
        "--scenario-start",
        help="when the scenarios began instead: ISO time, now or now-80m (a scenario under "
        "way when the simulation starts)",
    )


def _fault_options(parser: argparse.ArgumentParser) -> None:
    """Shares of injected faults."""
    bad = parser.add_argument_group("faults (share of events, 0..1)")
    bad.add_argument(
        "--malformed",
        type=_rate,
        default=0.0,
        help="truncated/garbage/non-object/empty/oversized values",
    )
    bad.add_argument(
        "--invalid",
        type=_rate,
        default=0.0,
        help="schema violations: out of range, wrong types, unknown fields, naive "
        "times, missing fields, wrong schema_version",
    )
    bad.add_argument("--duplicates", type=_rate, default=0.0, help="events sent twice")
    bad.add_argument(
        "--late",
        type=_rate,
        default=0.0,
        help="events held back 3-30 simulated minutes (past the grace)",
    )
    bad.add_argument("--future", type=_rate, default=0.0, help="events dated 1-6 h ahead")
    bad.add_argument(
        "--out-of-order",
        type=_rate,
        default=0.0,
        help="events held back 1-12 simulated seconds (within the grace)",
    )


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, derived from the arguments (pure)."""

    sim: SimConfig
    max_messages: int | None
    real_seconds: float | None
    rate: float
    speed: float


def _scenarios(args: argparse.Namespace, start_ms: int, now_ms: int) -> tuple[Scenario, ...]:
    scenarios = []
    begin = start_ms + int(args.scenario_after * 1000)
    if args.scenario_start is not None:
        try:
            begin = parse_start(args.scenario_start, now_ms)
        except ValueError as error:
            raise UserError(str(error).replace("--start", "--scenario-start")) from None
    for spec in args.scenario:
        name, _, district_name = spec.partition("=")
        try:
            kind = ScenarioKind(name.strip())
            district_text = district_name.strip() or args.scenario_district
            district = District(district_text) if district_text else None
        except ValueError:
            raise UserError(
                f"bad --scenario {spec!r}: use one of {', '.join(k.value for k in ScenarioKind)}"
                f", optionally =DISTRICT ({', '.join(d.value for d in District)})"
            ) from None
        scenarios.append(make_scenario(kind, district, begin))
    return tuple(scenarios)


def make_plan(args: argparse.Namespace, now_ms: int) -> Plan:
    """The run described by the parsed arguments (``now_ms`` resolves relative times)."""
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
    try:
        topics = Topics.parse(args.topics, args.topic_prefix)
        faults = FaultRates(
            malformed=args.malformed,
            invalid=args.invalid,
            duplicates=args.duplicates,
            late=args.late,
            future=args.future,
            out_of_order=args.out_of_order,
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.events is not None and args.events < 1:
        raise UserError("--events must be at least 1")
    if args.start is not None:
        try:
            start = parse_start(args.start, now_ms)
        except ValueError as error:
            raise UserError(str(error)) from None
    else:
        province = build_province(args.seed)
        per_minute = events_per_minute(province, sources) or 1.0
        span = _expected_span_ms(args, per_minute)
        start = now_ms - span
        start -= start % MINUTE_MS
    end = None if args.sim_duration is None else start + int(args.sim_duration * 1000)
    try:
        sim = SimConfig(
            start_ms=start,
            end_ms=end,
            seed=args.seed,
            topics=topics,
            sources=sources,
            scenarios=_scenarios(args, start, now_ms),
            faults=faults,
            sent_from_ms=None if args.out is not None else now_ms,
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    return Plan(sim, args.events, args.duration, args.rate, args.speed)


def _expected_span_ms(args: argparse.Namespace, per_minute: float) -> int:
    """How much simulated time the run will probably cover (0 when open-ended)."""
    if args.sim_duration is not None:
        return int(args.sim_duration * 1000)
    spans = []
    if args.events is not None:
        spans.append(args.events / per_minute * MINUTE_MS)
    if args.duration is not None and args.speed > 0:
        spans.append(args.duration * args.speed * 1000)
    if args.duration is not None and args.rate > 0:
        spans.append(args.duration * args.rate / per_minute * MINUTE_MS)
    return int(min(spans)) if spans else 0


def execute(
    plan: Plan,
    messages: Iterable[Message],
    summary: Summary,
    *,
    out: Path | None,
    bootstrap: str,
    acks: Literal[1, "all"],
) -> None:
    """Send ``messages`` as the plan says (to ``out`` or to Kafka)."""
    pacer = Pacer(rate=plan.rate, speed=plan.speed, hold=out is None)
    deadline = None if plan.real_seconds is None else pacer.started + plan.real_seconds
    if plan.max_messages is not None:
        messages = islice(messages, plan.max_messages)
    if out is not None:
        write_jsonl(messages, out, summary, pacer, deadline)
    else:
        asyncio.run(produce(messages, bootstrap, summary, pacer, acks=acks, deadline=deadline))


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (docker stop, ``ioc demo --live``) stops a run as Ctrl-C does."""
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Handler of ``ioc simulate``; Ctrl-C or SIGTERM end it with its summary."""
    settings = config.load()
    now_ms = int(time.time() * 1000)
    plan = make_plan(args, now_ms)
    if args.out is None and plan.sim.start_ms > now_ms + 60_000:
        print(
            f"ioc simulate: the simulated start {iso(plan.sim.start_ms)} is in the future; "
            "sending waits until the wall clock reaches it",
            file=sys.stderr,
        )
    summary = Summary()
    started = time.perf_counter()
    interrupted = False
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        execute(
            plan,
            generate_messages(plan.sim),
            summary,
            out=args.out,
            bootstrap=args.bootstrap or settings.kafka_bootstrap,
            acks=1 if args.acks == "1" else "all",
        )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    elapsed = time.perf_counter() - started
    document = _document(plan, summary, elapsed, interrupted, args)
    print(render_text(document))
    if args.summary_json is not None:
        try:
            args.summary_json.write_bytes(
                orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
            )
        except OSError as error:
            raise UserError(f"cannot write {args.summary_json}: {error.strerror}") from None
    return 130 if interrupted else 0


def _document(
    plan: Plan, summary: Summary, elapsed: float, interrupted: bool, args: argparse.Namespace
) -> dict[str, Any]:
    document = summary.as_dict()
    sim = plan.sim
    document.update(
        {
            "seed": sim.seed,
            "output": str(args.out) if args.out is not None else "kafka",
            "start": iso(sim.start_ms),
            "end": None if sim.end_ms is None else iso(sim.end_ms),
            "topics_used": {s: sim.topics.name(s) for s in sim.sources},
            "scenarios": [
                {
                    "kind": s.kind.value,
                    "district": s.district.value,
                    "from": iso(s.start_ms),
                    "to": None if s.end_ms is None else iso(s.end_ms),
                }
                for s in sim.scenarios
            ],
            "interrupted": interrupted,
            "elapsed_seconds": round(elapsed, 3),
            "events_per_second": round(summary.messages / elapsed) if elapsed > 0 else None,
        }
    )
    return document

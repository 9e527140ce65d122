"""All local servers together: start what is not answering, stop what we started, report."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.config import load
from common.errors import UserError
from deploy.devstack import process
from deploy.devstack.kafka import Kafka
from deploy.devstack.postgres import Postgres
from deploy.devstack.prom import Alertmanager, Prometheus
from deploy.devstack.server import Progress, Server

NAMES: tuple[str, ...] = ("kafka", "postgres", "prometheus", "alertmanager")


def servers(only: Iterable[str] | None = None) -> list[Server]:
    """The local servers (all, or those named in ``only``), in start order."""
    ports = load().ports
    every: list[Server] = [
        Kafka(ports.kafka, ports.kafka_controller),
        Postgres(ports.postgres),
        Prometheus(ports.prometheus, ports),
        Alertmanager(ports.alertmanager, ports),
    ]
    if only is None:
        return every
    wanted = set(only)
    unknown = wanted - set(NAMES)
    if unknown:
        raise UserError(f"unknown server(s) {sorted(unknown)}; choose from {', '.join(NAMES)}")
    return [s for s in every if s.name in wanted]


@dataclass
class Outcome:
    """What ``up`` did for one server."""

    server: Server
    state: str  # "already up", "started", "built"
    pid: int | None = None


def _port_taken(server: Server) -> UserError:
    return UserError(
        f"{server.name}: port {server.port} on 127.0.0.1 is in use by something that is not "
        f"a healthy {server.name} (log: {process.log_path(server.name)}); stop it or choose "
        f"another port with {server.port_env}=PORT"
    )


def _start_failed(server: Server, why: str) -> UserError:
    log = process.log_path(server.name)
    return UserError(
        f"{server.name} on {server.address} {why}; log: {log}\n{process.tail(log)}\n"
        f"hint: if port {server.port} is taken, set {server.port_env} to a free port"
    )


def _wait_ready(server: Server, pid: int) -> None:
    deadline = time.monotonic() + server.start_timeout
    while time.monotonic() < deadline:
        if server.ready():
            server.after_start()
            if server.healthy():
                return
        if process.exited(pid):
            process.pid_path(server.name).unlink(missing_ok=True)
            raise _start_failed(server, "exited during start-up")
        time.sleep(0.2)
    process.stop(pid, first=server.stop_signal)
    process.pid_path(server.name).unlink(missing_ok=True)
    raise _start_failed(server, f"did not answer within {server.start_timeout:.0f} s")


def up(
    only: Iterable[str] | None = None,
    build_only: bool = False,
    progress: Progress | None = None,
    record_to: Path | None = None,
) -> list[Outcome]:
    """Start every server that is not answering; leave answering ones (ours or not) alone.

    ``record_to``: a file to which the name of each server this call starts is appended.
    """
    say = progress or (lambda message: print(message, file=sys.stderr))
    chosen = servers(only)
    outcomes: list[Outcome] = []
    with process.stack_lock():
        if build_only:
            for server in chosen:
                server.prepare(say)
                outcomes.append(Outcome(server, "built"))
            return outcomes
        pending: list[Outcome] = []
        for server in chosen:
            if server.healthy():
                outcomes.append(Outcome(server, "already up"))
                continue
            if process.port_open(server.port):
                if server.adopt():
                    outcomes.append(Outcome(server, "already up"))
                    continue
                raise _port_taken(server)
            server.prepare(say)
            pid = process.spawn(server.name, server.command(), server.program)
            pending.append(Outcome(server, "started", pid))
            if record_to is not None:
                record(record_to, [server.name])
        for outcome in pending:
            assert outcome.pid is not None
            _wait_ready(outcome.server, outcome.pid)
            outcomes.append(outcome)
    order = {name: index for index, name in enumerate(NAMES)}
    return sorted(outcomes, key=lambda o: order[o.server.name])


def down(only: Iterable[str] | None = None) -> list[tuple[Server, str]]:
    """Stop the servers whose pid file ``ioc dev up`` wrote and that still run."""
    results: list[tuple[Server, str]] = []
    with process.stack_lock():
        for server in reversed(servers(only)):
            pidfile = process.read_pidfile(server.name)
            if pidfile is None or not pidfile.alive():
                process.pid_path(server.name).unlink(missing_ok=True)
                state = "not started by ioc dev up" if server.healthy() else "not running"
                results.append((server, state))
                continue
            killed = process.stop(pidfile.pid, first=server.stop_signal)
            process.pid_path(server.name).unlink(missing_ok=True)
            results.append((server, "killed" if killed else "stopped"))
    return list(reversed(results))


def status_lines() -> tuple[list[str], bool]:
    """One line per server (name, address, up/down, version) and whether all are up."""
    lines: list[str] = []
    all_up = True
    for server in servers():
        healthy = server.healthy()
        all_up = all_up and healthy
        version = server.version() if healthy else "-"
        lines.append(
            f"{server.name:<13} {server.address:<16} {'up' if healthy else 'down':<5} {version}"
        )
    return lines, all_up


def ensure_dev_servers() -> None:
    """Make sure every local server answers, starting them like ``ioc dev up`` if needed."""
    if all(server.healthy() for server in servers()):
        return
    up()


def record(path: Path, names: Sequence[str]) -> None:
    """Append server names (one a line) to ``path``."""
    if names:
        with path.open("a") as handle:
            handle.writelines(f"{name}\n" for name in names)


def recorded(path: Path) -> list[str]:
    """Server names recorded in ``path`` (missing file: none)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip() in NAMES]

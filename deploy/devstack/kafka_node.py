"""One Apache Kafka node in KRaft mode (combined controller and broker) on 127.0.0.1:
its configuration, the one-time storage format and the command that runs it."""

from __future__ import annotations

import base64
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from common.errors import UserError
from deploy.devstack.kafka_install import LOG4J_CONFIG, java, require_installed
from deploy.devstack.process import HOST

#: Local settings: one node, groups join at once, topics created on first use.
LOCAL_SETTINGS = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "true",
    "log.retention.ms": "-1",
    "log.retention.bytes": str(1 << 30),
    "log.segment.bytes": str(64 << 20),
    "message.max.bytes": str(21 << 20),
}
"""``message.max.bytes`` lets records of up to 20 MiB in, as a broker raised for large
payloads would: the tests show that no record size stops a worker or loses a count."""


@dataclass(frozen=True)
class KafkaNode:
    """Node 1 of a one-node cluster whose files live in ``home`` (data in ``home/data``)."""

    home: Path
    port: int
    controller_port: int
    partitions: int = 4
    heap: str = "768m"

    @property
    def data_dir(self) -> Path:
        """``log.dirs``: topics, offsets and the KRaft metadata log; kept across restarts."""
        return self.home / "data"

    @property
    def config_path(self) -> Path:
        """The ``server.properties`` the node runs with (rewritten before each start)."""
        return self.home / "server.properties"

    def properties(self) -> dict[str, str]:
        """Broker settings: listeners on 127.0.0.1, static one-voter quorum, local tuning."""
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": str(self.partitions),
            **LOCAL_SETTINGS,
        }

    def prepare(self) -> None:
        """Write the configuration; format the storage once (``kafka-storage format``)."""
        self.home.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{key}={value}\n" for key, value in self.properties().items())
        self.config_path.write_text(text)
        if (self.data_dir / "meta.properties").is_file():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        argv = [
            *self._java("256m", "64m"),
            "kafka.tools.StorageTool",
            "format",
            f"--cluster-id={cluster_id}",  # one "=" token: an id may start with "-"
            "--config",
            str(self.config_path),
            "--ignore-formatted",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise UserError(
                f"kafka: formatting {self.data_dir} failed; remove it and retry:\n"
                f"{done.stdout}{done.stderr}"
            )

    def command(self) -> list[str]:
        """argv of the node in the foreground (SIGINT or SIGTERM stop it cleanly)."""
        return [*self._java(self.heap, "256m"), "kafka.Kafka", str(self.config_path)]

    def _java(self, heap: str, initial: str) -> list[str]:
        libs = require_installed()
        return [
            java(),
            f"-Xmx{heap}",
            f"-Xms{initial}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp",
            f"{libs}/*",
        ]

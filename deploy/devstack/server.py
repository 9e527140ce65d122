"""What every local server provides to ``ioc dev``: health, version, how to start it."""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Callable

from deploy.devstack.process import HOST

Progress = Callable[[str], None]


class Server(ABC):
    """One local server listening on 127.0.0.1."""

    name: str = ""
    program: str = ""
    port_env: str = ""
    start_timeout: float = 30.0
    stop_signal: signal.Signals = signal.SIGINT
    """The signal that stops it cleanly."""

    def __init__(self, port: int) -> None:
        self.port = port

    @property
    def address(self) -> str:
        """host:port it listens on."""
        return f"{HOST}:{self.port}"

    @abstractmethod
    def healthy(self) -> bool:
        """Whether it answers a real request (not only a TCP connect)."""

    def ready(self) -> bool:
        """Whether a freshly started process answers enough for ``after_start``."""
        return self.healthy()

    @abstractmethod
    def version(self) -> str:
        """Version string of the running server (or of its binary)."""

    def prepare(self, progress: Progress) -> None:  # noqa: B027 - optional hook
        """Install or initialise what starting needs (may take long the first time)."""

    @abstractmethod
    def command(self) -> list[str]:
        """argv that runs the server in the foreground."""

    def after_start(self) -> None:  # noqa: B027 - optional hook
        """Idempotent set-up once it answers (roles, databases)."""

    def adopt(self) -> bool:
        """When the port is taken but unhealthy: try to finish set-up; True if now healthy."""
        return False

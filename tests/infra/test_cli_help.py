"""Every ``ioc dev`` command answers --help (unit: no server needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["dev", "--help"],
        ["dev", "up", "--help"],
        ["dev", "down", "--help"],
        ["dev", "status", "--help"],
    ],
)
def test_help_exits_zero(argv: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ioc.cli", *argv], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "usage: ioc" in out.stdout


def test_unknown_server_is_a_user_error() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "dev", "up", "--only", "zookeeper"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "zookeeper" in out.stderr and "kafka" in out.stderr

"""Shared helpers of the alerting tests: paths, the rule files as data, the real tools."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
RULE_TESTS_DIR = ROOT / "deploy" / "prometheus" / "tests"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"

TEAMS = ("network", "agriculture", "public-services", "platform")
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule as written in a rule file."""

    file: str
    group: str
    name: str
    expr: str
    for_: str
    labels: dict[str, str]
    annotations: dict[str, str]


def tool(name: str) -> str:
    """Path of a Prometheus/Alertmanager tool; fails the test with the install command."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: apt-get install --no-install-recommends "
            "prometheus prometheus-alertmanager (./run.sh setup does it)"
        )
    return path


def run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository root, capturing its output as text."""
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def load_yaml(path: Path) -> Any:
    """A YAML file as plain data."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def rule_files() -> list[Path]:
    """The rule files Prometheus loads (``rules/*.yml``)."""
    return sorted(RULES_DIR.glob("*.yml"))


def rule_test_files() -> list[Path]:
    """The promtool unit-test files."""
    return sorted(RULE_TESTS_DIR.glob("*.yml"))


def alert_rules() -> list[AlertRule]:
    """Every alerting rule of every rule file, in file order."""
    found: list[AlertRule] = []
    for path in rule_files():
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                found.append(
                    AlertRule(
                        file=path.name,
                        group=group["name"],
                        name=rule["alert"],
                        expr=rule["expr"],
                        for_=str(rule.get("for", "0s")),
                        labels=dict(rule.get("labels") or {}),
                        annotations=dict(rule.get("annotations") or {}),
                    )
                )
    return found

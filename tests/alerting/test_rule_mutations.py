"""The promtool tests can fail: each boundary of each alert, moved by one step, is caught.

Every alert's ``for:`` shortened by one evaluation step (1 min), and every threshold
comparison made non-strict (``>`` to ``>=``), must make ``promtool test rules`` fail on a
copy of deploy/prometheus. This guards against tests that pass whatever the rule says.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.alerting.support import RULE_TESTS_DIR, RULES_DIR, rule_files, run, tool

pytestmark = pytest.mark.slow

ALERT_LINE = re.compile(r"^\s+- alert: (\w+)")
FOR_LINE = re.compile(r"^(\s+for: )(\d+)m\s*$")
THRESHOLD = re.compile(r"(?<![=!<>])([<>]) (-?[\d.]+)\s*$")


@dataclass(frozen=True)
class Mutation:
    """One changed line of one rule file."""

    file: str
    alert: str
    what: str
    line: int
    text: str

    @property
    def id(self) -> str:
        """Readable test id."""
        return f"{self.alert}:{self.what}@{self.file}:{self.line + 1}"


def _mutations() -> list[Mutation]:
    found: list[Mutation] = []
    for path in rule_files():
        alert: str | None = None
        for index, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if match := ALERT_LINE.match(line):
                alert = match.group(1)
            elif re.match(r"^\s+- record:", line):
                alert = None
            if alert is None:
                continue
            if (match := FOR_LINE.match(line)) and int(match.group(2)) > 0:
                shorter = f"{match.group(1)}{int(match.group(2)) - 1}m"
                found.append(Mutation(path.name, alert, "for-1m", index, shorter))
            if match := THRESHOLD.search(line):
                loose = line[: match.start(1)] + match.group(1) + "=" + line[match.end(1) :]
                found.append(Mutation(path.name, alert, f"{match.group(0).strip()}", index, loose))
    return found


MUTATIONS = _mutations()


def test_mutations_found_for_every_alert_file() -> None:
    assert len(MUTATIONS) >= 20
    assert {m.file for m in MUTATIONS} == {p.name for p in rule_files()}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.id)
def test_promtool_catches_the_mutation(mutation: Mutation, tmp_path: Path) -> None:
    copy = tmp_path / "prometheus"
    shutil.copytree(RULES_DIR, copy / "rules")
    shutil.copytree(RULE_TESTS_DIR, copy / "tests")
    target = copy / "rules" / mutation.file
    lines = target.read_text(encoding="utf-8").splitlines()
    lines[mutation.line] = mutation.text
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check = run([tool("promtool"), "check", "rules", str(target)])
    assert check.returncode == 0, f"the mutation broke the syntax: {check.stdout}"
    tests = sorted(
        str(p) for p in (copy / "tests").glob("*.yml") if mutation.file in p.read_text("utf-8")
    )
    assert tests, f"no promtool test file loads {mutation.file}"
    out = run([tool("promtool"), "test", "rules", *tests])
    assert out.returncode != 0, f"no promtool test notices {mutation.id}: {mutation.text.strip()}"

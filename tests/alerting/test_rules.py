"""Alert rules and Alertmanager config: the real checkers pass, and every alert is complete.

promtool and amtool run for real (they take about a second). The other tests read the YAML:
each alert has its labels and bilingual annotations, each alert (and each of its severities)
has a promtool case where it fires and one where it does not, and the rules only use metrics
that streams/metrics.py defines.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from prometheus_client import Counter, Histogram
from prometheus_client.metrics import MetricWrapperBase

from common import metrics
from tests.alerting.support import (
    ALERTMANAGER_CONFIG,
    SEVERITIES,
    TEAMS,
    AlertRule,
    alert_rules,
    load_yaml,
    rule_files,
    rule_test_files,
    run,
    tool,
)

ALERTS = alert_rules()
REQUIRED_ANNOTATIONS = (
    "summary",
    "summary_en",
    "description",
    "description_en",
    "runbook",
    "runbook_en",
)
VIETNAMESE_LETTERS = re.compile(
    r"[àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ]", re.IGNORECASE
)
#: Alerts the brief asks for; more may exist.
EXPECTED_ALERTS = {
    "SalinityHigh",
    "FarmSensorSilent",
    "NetworkAvailabilityLow",
    "Throughput4GLow",
    "Throughput5GLow",
    "OnTimeRateLow",
    "OnlineSubmissionRateFalling",
    "WorkerDown",
    "ConsumerLagGrowing",
    "DeadLettersRising",
    "SinkFailing",
    "KpiStale",
}


def _id(rule: AlertRule) -> str:
    return f"{rule.name}-{rule.labels.get('severity', '?')}"


# ---- the real tools -------------------------------------------------------------------------


def test_promtool_check_rules() -> None:
    out = run([tool("promtool"), "check", "rules", *map(str, rule_files())])
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_unit_tests_pass() -> None:
    out = run([tool("promtool"), "test", "rules", *map(str, rule_test_files())])
    assert out.returncode == 0, out.stdout + out.stderr


def test_amtool_check_config() -> None:
    out = run([tool("amtool"), "check-config", str(ALERTMANAGER_CONFIG)])
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"team": "agriculture", "severity": "critical"}, "duty-desk,agriculture"),
        ({"team": "agriculture", "severity": "warning"}, "agriculture"),
        ({"team": "network", "severity": "warning"}, "network"),
        ({"team": "network", "severity": "critical"}, "duty-desk,network"),
        ({"team": "public-services", "severity": "warning"}, "public-services"),
        ({"team": "platform", "severity": "critical"}, "duty-desk,platform"),
        ({"team": "platform", "severity": "info"}, "platform"),
        ({"alertname": "NoTeam", "severity": "warning"}, "platform"),
    ],
)
def test_alertmanager_routes_by_team_and_severity(labels: dict[str, str], receivers: str) -> None:
    pairs = [f"{k}={v}" for k, v in labels.items()]
    out = run(
        [tool("amtool"), "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *pairs]
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == receivers


# ---- the rules as data ----------------------------------------------------------------------


def test_the_alerts_of_the_brief_exist() -> None:
    assert {rule.name for rule in ALERTS} >= EXPECTED_ALERTS


@pytest.mark.parametrize("rule", ALERTS, ids=_id)
def test_alert_has_severity_team_and_bilingual_annotations(rule: AlertRule) -> None:
    assert rule.labels.get("severity") in SEVERITIES
    assert rule.labels.get("team") in TEAMS
    for key in REQUIRED_ANNOTATIONS:
        assert rule.annotations.get(key, "").strip(), f"{rule.name}: annotation {key} missing"
    for key in ("summary", "description", "runbook"):
        assert VIETNAMESE_LETTERS.search(rule.annotations[key]), (
            f"{rule.name}: {key} should be Vietnamese with diacritics"
        )
    for key in ("summary_en", "description_en", "runbook_en"):
        assert not VIETNAMESE_LETTERS.search(rule.annotations[key]), (
            f"{rule.name}: {key} should be English"
        )


@pytest.mark.parametrize("rule", ALERTS, ids=_id)
def test_alert_labels_are_static(rule: AlertRule) -> None:
    """Templated labels would make unbounded label sets (and break grouping)."""
    for key, value in rule.labels.items():
        assert "{{" not in value, f"{rule.name}: label {key} is templated"


def test_alertmanager_has_a_route_for_every_team_of_the_rules() -> None:
    routes = load_yaml(ALERTMANAGER_CONFIG)["route"]["routes"]
    routed = " ".join(" ".join(route.get("matchers", [])) for route in routes)
    for team in {rule.labels["team"] for rule in ALERTS}:
        assert f'"{team}"' in routed or f"{team}|" in routed, f"no route for team {team}"


def _rule_tests() -> list[tuple[str, dict[str, object]]]:
    cases: list[tuple[str, dict[str, object]]] = []
    for path in rule_test_files():
        for group in load_yaml(path)["tests"]:
            for case in group.get("alert_rule_test") or []:
                cases.append((path.name, case))
    return cases


def test_promtool_tests_name_only_existing_alerts() -> None:
    """A misspelt alert name with ``exp_alerts: []`` would pass promtool without testing."""
    known = {rule.name for rule in ALERTS}
    for file, case in _rule_tests():
        assert case["alertname"] in known, f"{file}: unknown alert {case['alertname']}"


@pytest.mark.parametrize("rule", ALERTS, ids=_id)
def test_every_alert_has_a_firing_and_a_quiet_promtool_case(rule: AlertRule) -> None:
    quiet: list[str] = []
    firing_severities: set[str] = set()
    for file, case in _rule_tests():
        if case["alertname"] != rule.name:
            continue
        expected = case.get("exp_alerts") or []
        assert isinstance(expected, list)
        if not expected:
            quiet.append(f"{file}@{case['eval_time']}")
        for alert in expected:
            firing_severities.add(str(alert["exp_labels"].get("severity")))
            assert alert.get("exp_annotations"), f"{rule.name}: firing case without annotations"
    assert quiet, f"{rule.name}: no promtool case where it does not fire"
    assert rule.labels["severity"] in firing_severities, (
        f"{rule.name}: no promtool case where its {rule.labels['severity']} level fires"
    )


def _exported_names() -> set[str]:
    names: set[str] = set()
    for value in vars(metrics).values():
        if isinstance(value, metrics.DictGauges):  # gauges read from a dict at scrape time
            names.update(name for name, _ in value.families)
            continue
        if not isinstance(value, MetricWrapperBase):
            continue
        base = value._name
        if isinstance(value, Counter):
            names.add(base + "_total")
        elif isinstance(value, Histogram):
            names.update({base + "_bucket", base + "_sum", base + "_count"})
        else:
            names.add(base)
    return names


def test_rules_use_only_metrics_of_the_contract() -> None:
    exported = _exported_names()
    used: dict[str, set[str]] = defaultdict(set)
    for path in rule_files():
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                for name in re.findall(r"\bioc_[a-z0-9_]+", rule["expr"]):
                    used[name].add(rule.get("alert") or rule.get("record"))
    unknown = {name: sorted(rules) for name, rules in used.items() if name not in exported}
    assert not unknown, f"metrics not defined in streams/metrics.py: {unknown}"

"""`lanner scan` over ordinary activity with attacks interleaved.

The benign part is a seeded slice of the false-positive corpus (bench/fp_corpus.py); the
attacks are the first `fires` example of one rule per technique, taken from the rule
tests in rules/tests/ (CloudTrail records and Kubernetes audit events as AWS and the API
server write them). One JSON-lines file holds both sources, as a log bucket would; the
scan must report every attack by its rule, in order, and nothing else at Warning or above.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench.fp_corpus import ROOT, generate
from cli.main import main
from lanner import load_rules
from lanner.priority import Priority
from lanner.ruletests import Example, load_rule_tests, rule_test_files

BENIGN = 6_000
SEED = 7

# One rule per technique; each attack is that rule's first `fires` example, or the one
# EXAMPLE_INDEX names. `lanner scan` reports the first rule (in load order) that matches
# an event, as Falco does, so an attack that also matches an earlier rule (root doing
# it: "AWS Root Account Used") is taken from another example.
EXAMPLE_INDEX = {"AWS MFA Device Deactivated": 1}
ATTACK_RULES = [
    # CloudTrail
    "AWS CloudTrail Trail Stopped Or Deleted",  # T1562.008 impair defenses: cloud logs
    "AWS Config Or Flow Logs Disabled",  # T1562.008
    "AWS Inline Policy Grants Full Access",  # T1098.003 additional cloud roles
    "AWS MFA Device Deactivated",  # T1556.006 modify MFA
    "AWS S3 Bucket ACL Made Public",  # T1530 data from cloud storage
    "AWS S3 Bucket Policy Allows Public Access",  # T1530
    "AWS S3 Public Access Block Removed",  # T1530
    "AWS KMS Key Scheduled For Deletion",  # T1485 data destruction
    "AWS Console Login Without MFA",  # T1078.004 valid cloud accounts
    "AWS Admin Policy Attached",  # T1098.003
    "AWS Role Trust Policy Allows Any Principal",  # T1098.003, T1484.002
    "AWS Security Group Opened To The Internet",  # T1562.007 modify cloud firewall
    "AWS Snapshot Or Image Made Public",  # T1537 transfer to cloud account
    "AWS Account Left The Organization",  # T1666 modify cloud resource hierarchy
    "AWS GuardDuty Detection Disabled",  # T1562.001 disable security tools
    "AWS Secrets Retrieved In Bulk",  # T1555.006 cloud secrets
    "AWS EC2 Windows Passwords Retrieved At Volume",  # T1552 (threshold rule)
    "AWS EKS Cluster Admin Access Policy Associated",  # T1098.006 container cluster roles
    # Kubernetes audit
    "K8s Binding To Cluster-Admin",  # T1098 account manipulation
    "K8s Privileged Pod Created",  # T1611 escape to host
    "K8s Pod Shares Host PID or IPC",  # T1611
    "K8s Pod Mounts Sensitive Host Path",  # T1611
    "K8s Ephemeral Container Added",  # T1609 container administration command
    "K8s Anonymous Request Authorized",  # T1078 valid accounts
    "K8s Role With Wildcard Permissions",  # T1098
    "K8s Binding Grants Access To Unauthenticated Users",  # T1098
    "K8s Unexpected Image In System Namespace",  # T1610 deploy container
    "K8s aws-auth ConfigMap Modified",  # T1098.006
    "K8s Admission Webhook Configured",  # T1546 event triggered execution
    "K8s NetworkPolicy Deleted",  # T1562.007
    "K8s Workload Runs Privileged Container",  # T1611 (a DaemonSet)
    "K8s Client Certificate Requested",  # T1649 forge authentication certificates
    "K8s Node Proxy Accessed",  # T1609
    "K8s Burst Of Forbidden Requests",  # T1613 discovery (threshold rule)
]

Scanned = list[dict[str, Any]]


def first_fires_examples() -> dict[str, Example]:
    ruleset = load_rules([str(ROOT / "rules")])
    tests = load_rule_tests(rule_test_files(ROOT / "rules" / "tests"), ruleset)
    found = {}
    for rule in ATTACK_RULES:
        fires = [e for e in tests.examples.get(rule, []) if e.kind == "fires"]
        index = EXAMPLE_INDEX.get(rule, 0)
        if len(fires) > index:
            found[rule] = fires[index]
    return found


@pytest.fixture(scope="module")
def attacks() -> dict[str, Example]:
    found = first_fires_examples()
    assert sorted(found) == sorted(ATTACK_RULES), "a rule named here has no fires example"
    return found


def scan(path: Path) -> Scanned:
    result = CliRunner().invoke(main, ["scan", "--json", str(path)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def loud(alerts: Scanned) -> list[str]:
    return [a["rule"] for a in alerts if Priority.parse(a["priority"]).at_least(Priority.WARNING)]


def write_mixed(path: Path, attacks: dict[str, Example]) -> list[str]:
    """The benign slice with each attack's events inserted at even intervals; returns the
    attacks' rule names in file order."""
    benign = [doc for _, doc in generate(BENIGN, SEED)]
    gap = len(benign) // (len(attacks) + 1)
    order = []
    with path.open("w") as fh:
        for i, doc in enumerate(benign):
            fh.write(json.dumps(doc) + "\n")
            slot = (i + 1) // gap - 1
            if (i + 1) % gap == 0 and slot < len(ATTACK_RULES):
                rule = ATTACK_RULES[slot]
                ex = attacks[rule]
                for _ in range(ex.repeat):
                    for event in ex.events:
                        fh.write(json.dumps(event) + "\n")
                order.append(rule)
    return order


def test_thirty_attacks_or_more_across_both_sources(attacks: dict[str, Example]) -> None:
    assert len(attacks) >= 30
    sources = {r.source for r in load_rules([str(ROOT / "rules")]).rules if r.name in attacks}
    assert sources == {"aws_cloudtrail", "k8s_audit"}


def test_each_attack_alone_is_reported_by_its_rule_and_nothing_else(
    attacks: dict[str, Example], tmp_path: Path
) -> None:
    """Each attack in its own file: the named rule fires, and no other rule at Warning+."""
    got = {}
    for rule, ex in attacks.items():
        path = tmp_path / "attack.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for _ in range(ex.repeat) for e in ex.events))
        alerts = scan(path)
        got[rule] = sorted({a["rule"] for a in alerts if a["rule"] == rule} | set(loud(alerts)))
    assert got == {rule: [rule] for rule in attacks}


def test_scan_reports_each_interleaved_attack_and_nothing_else(
    attacks: dict[str, Example], tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    order = write_mixed(mixed, attacks)
    assert order == ATTACK_RULES
    alerts = scan(mixed)
    reported = [a["rule"] for a in alerts if a["rule"] in attacks]
    assert reported == order
    attack_priority = {a["rule"]: a["priority"] for a in alerts}
    assert loud(alerts) == [
        r for r in order if Priority.parse(attack_priority[r]).at_least(Priority.WARNING)
    ]

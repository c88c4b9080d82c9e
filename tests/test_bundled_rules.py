"""lanner's bundled rules (rules/) and the sample logs they are demonstrated on (samples/).

- the rule files load together cleanly and every rule is documented and tagged;
- each attack that samples/README.md lists fires exactly the rule it names, and every
  other sample record fires nothing;
- the samples are exactly what samples/make_samples.py writes;
- the cases of tests/data/*/bundled_cases.yaml (attacks, benign twins, user overrides).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = {
    ROOT / "rules" / "k8s_audit_rules.yaml": "k8s_audit",
    ROOT / "rules" / "aws_cloudtrail_rules.yaml": "aws_cloudtrail",
    ROOT / "rules" / "syscall_rules.yaml": "syscall",
}
# The platform tag each source's rules carry.
PLATFORM_TAGS = {"k8s_audit": {"k8s"}, "aws_cloudtrail": {"aws"}, "syscall": {"host", "container"}}
SAMPLES = ROOT / "samples"
TRAIL = SAMPLES / "AWSLogs" / "123456789012" / "CloudTrail"
DIGESTS = SAMPLES / "AWSLogs" / "123456789012" / "CloudTrail-Digest"
AUDIT_LOG = SAMPLES / "k8s" / "kube-apiserver-audit.log"
DATA = Path(__file__).parent / "data"

PRIORITIES = {"EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"}
TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


def rule_items(path: Path) -> list[dict[str, Any]]:
    return [item for item in yaml.safe_load(path.read_text()) if "rule" in item]


RULE_ITEMS = [(path, item) for path in RULES for item in rule_items(path)]


def compile_paths(paths: list[Path], match: str = "all") -> Any:
    from lanner import compile_rules, load_rules

    return compile_rules(load_rules([str(p) for p in paths]), match=match)


@pytest.fixture(scope="module")
def engines() -> dict[str, Any]:
    return {match: compile_paths(list(RULES), match) for match in ("all", "first")}


# --- the rule files ------------------------------------------------------------------------


def test_bundled_rules_load_without_errors_or_warnings() -> None:
    from lanner import compile_rules, load_rules

    ruleset = load_rules([str(p) for p in RULES])
    engine = compile_rules(ruleset)
    assert [str(w) for w in engine.warnings] == []
    assert len(ruleset.rules) == len(RULE_ITEMS)
    assert all(rule.enabled for rule in ruleset.rules)
    assert {rule.source for rule in ruleset.rules} == set(RULES.values())


def test_rules_directory_loads_the_same_rules() -> None:
    from lanner import load_rules

    by_dir = load_rules([str(ROOT / "rules")])
    assert sorted(r.name for r in by_dir.rules) == sorted(item["rule"] for _, item in RULE_ITEMS)


@pytest.mark.parametrize(("path", "item"), RULE_ITEMS, ids=[item["rule"] for _, item in RULE_ITEMS])
def test_rule_is_documented_and_tagged(path: Path, item: dict[str, Any]) -> None:
    for key in ("desc", "condition", "output", "priority", "source", "tags"):
        assert item.get(key), f"missing {key}"
    assert item["source"] == RULES[path]
    assert item["priority"] in PRIORITIES
    assert len(item["desc"].split()) >= 12, "describe what the rule detects and why"
    assert "%" in item["output"], "the output names the event's key fields"
    tags = item["tags"]
    assert PLATFORM_TAGS[RULES[path]] & set(tags), "a platform tag"
    assert any(t.startswith("mitre_") for t in tags), "a MITRE ATT&CK tactic tag"
    assert any(TECHNIQUE.match(t) for t in tags), "a MITRE ATT&CK technique tag"


def test_rule_names_are_unique() -> None:
    names = [item["rule"] for _, item in RULE_ITEMS]
    assert len(names) == len(set(names))


# --- the samples -----------------------------------------------------------------------------


def readme_attacks() -> dict[str, str]:
    """eventID/auditID -> rule, from the attack tables of samples/README.md."""
    found: dict[str, str] = {}
    for line in (SAMPLES / "README.md").read_text().splitlines():
        ids = re.findall(r"`([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`", line)
        if line.startswith("|") and ids:
            found[ids[0]] = line.strip().strip("|").split("|")[-1].strip()
    return found


def cloudtrail_log_files() -> list[Path]:
    return sorted(TRAIL.rglob("*.json.gz"))


def sample_records() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(source, id, document) for every event in the samples, digests excluded."""
    for path in cloudtrail_log_files():
        for rec in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            yield "aws_cloudtrail", rec["eventID"], rec
    for line in AUDIT_LOG.read_text().splitlines():
        ev = json.loads(line)
        yield "k8s_audit", ev["auditID"], ev


ATTACKS = readme_attacks()


def test_readme_lists_the_attacks() -> None:
    rules = {item["rule"] for _, item in RULE_ITEMS}
    assert len(ATTACKS) >= 10
    assert set(ATTACKS.values()) <= rules, set(ATTACKS.values()) - rules
    assert set(ATTACKS) <= {rid for _, rid, _ in sample_records()}


def test_cloudtrail_samples_are_laid_out_like_a_trail_bucket() -> None:
    logs = cloudtrail_log_files()
    assert 2 <= len(logs) <= 4
    name = re.compile(
        r"^123456789012_CloudTrail_us-east-1_20261128T1005Z_[A-Za-z0-9]{16}\.json\.gz$"
    )
    for path in logs:
        assert path.parent == TRAIL / "us-east-1" / "2026" / "11" / "28"
        assert name.match(path.name), path.name
    records = [r for src, _, r in sample_records() if src == "aws_cloudtrail"]
    assert 20 <= len(records) <= 60
    assert all(r["recipientAccountId"] == "123456789012" for r in records)


def test_cloudtrail_digest_lists_the_log_files() -> None:
    """The digest is a manifest, not events: a scanner has to skip it."""
    (digest,) = DIGESTS.rglob("*.json.gz")
    assert "_CloudTrail-Digest_" in digest.name
    doc = json.loads(gzip.decompress(digest.read_bytes()))
    assert "Records" not in doc
    hashes = {Path(f["s3Object"]).name: f["hashValue"] for f in doc["logFiles"]}
    assert hashes == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in cloudtrail_log_files()
    }


def test_audit_log_sample_is_json_lines_of_audit_events() -> None:
    events = [ev for src, _, ev in sample_records() if src == "k8s_audit"]
    assert 30 <= len(events) <= 80
    for ev in events:
        assert ev["apiVersion"] == "audit.k8s.io/v1" and ev["kind"] == "Event"


@pytest.mark.parametrize("match", ["all", "first"])
@pytest.mark.parametrize("event_id", sorted(ATTACKS), ids=lambda i: i[:8])
def test_sample_attack_fires_the_rule_readme_names(
    event_id: str, match: str, engines: dict[str, Any]
) -> None:
    source, doc = next((s, d) for s, i, d in sample_records() if i == event_id)
    alerts = engines[match].evaluate(doc, source)
    assert [a.rule for a in alerts] == [ATTACKS[event_id]]
    from lanner import Priority

    (alert,) = alerts
    assert alert.source == source
    declared = next(item["priority"] for _, item in RULE_ITEMS if item["rule"] == alert.rule)
    assert alert.priority == Priority.parse(declared)
    assert "%" not in alert.output


def test_benign_sample_records_fire_nothing(engines: dict[str, Any]) -> None:
    noisy = {
        f"{source} {rid}": [a.rule for a in engines["all"].evaluate(doc, source)]
        for source, rid, doc in sample_records()
        if rid not in ATTACKS
    }
    assert {k: v for k, v in noisy.items() if v} == {}
    assert len(noisy) >= 60


def test_samples_are_what_the_generator_writes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SAMPLES / "make_samples.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(SAMPLES)
        for p in SAMPLES.rglob("*")
        if p.is_file() and p.suffix in (".gz", ".log")
    }
    assert written == committed
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (SAMPLES / rel).read_bytes(), rel


# --- cases for the bundled rules on the acceptance data ---------------------------------------


def bundled_cases() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for folder, source in (
        ("k8s_audit", "k8s_audit"),
        ("cloudtrail", "aws_cloudtrail"),
        ("syscall", "syscall"),
    ):
        for case in yaml.safe_load((DATA / folder / "bundled_cases.yaml").read_text()):
            out.append((source, dict(case, folder=folder)))
    return out


BUNDLED_CASES = bundled_cases()
BUNDLED_IDS = [
    f"{i:02d}-{c['event'].removesuffix('.json')}" for i, (_, c) in enumerate(BUNDLED_CASES)
]


def engine_for(case: dict[str, Any], engines: dict[str, Any], match: str, tmp: Path) -> Any:
    if not case.get("overrides"):
        return engines[match]
    extra = tmp / "overrides.yaml"
    extra.write_text(yaml.safe_dump(case["overrides"], sort_keys=False))
    return compile_paths([*RULES, extra], match)


@pytest.mark.parametrize("match", ["all", "first"])
@pytest.mark.parametrize(("source", "case"), BUNDLED_CASES, ids=BUNDLED_IDS)
def test_bundled_rule_case(
    source: str, case: dict[str, Any], match: str, engines: dict[str, Any], tmp_path: Path
) -> None:
    doc = json.loads((DATA / case["folder"] / case["event"]).read_text())
    alerts = engine_for(case, engines, match, tmp_path).evaluate(doc, source)
    by_rule = {a.rule: a for a in alerts}
    expected = [w["rule"] for w in case.get("expect") or []]
    if match == "first":
        assert list(by_rule) == expected[:1] or (not expected and len(by_rule) <= 1)
    for want in case.get("expect") or []:
        if match == "first" and want["rule"] != expected[0]:
            continue
        assert want["rule"] in by_rule, f"{want['rule']!r} did not fire; fired: {sorted(by_rule)}"
        alert = by_rule[want["rule"]]
        for field, value in (want.get("output_fields") or {}).items():
            assert str(alert.output_fields.get(field)) == str(value), field
            assert str(value) in alert.output
    for name in case.get("expect_not") or []:
        assert name not in by_rule


def test_bundled_cases_name_existing_rules() -> None:
    known = {item["rule"] for _, item in RULE_ITEMS}
    for _, case in BUNDLED_CASES:
        named = [w["rule"] for w in case.get("expect") or []] + list(case.get("expect_not") or [])
        assert set(named) <= known, set(named) - known

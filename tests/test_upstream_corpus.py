"""Falco's own rule files load and compile unchanged; the CLI validates and lists them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from lanner import compile_rules, load_rules

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "falco"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="upstream corpus not available")

# file -> (rules per source, macros, lists, disabled rules), for the pinned snapshot
# described in SOURCE.txt.
EXPECTED = {
    "aws_cloudtrail_rules.yaml": ({"aws_cloudtrail": 22}, 0, 1, 2),
    "falco-incubating_rules.yaml": ({"syscall": 31}, 82, 54, 0),
    "falco-sandbox_rules.yaml": ({"syscall": 37}, 183, 60, 12),
    "falco_rules.yaml": ({"syscall": 25}, 87, 49, 0),
    "k8s_audit_rules.yaml": ({"k8s_audit": 48}, 45, 18, 0),
}
FILES = sorted(EXPECTED)
SUMMARY = re.compile(
    r"^valid: (\d+) file\(s\); (.+); (\d+) macros, (\d+) lists; (\d+) warning\(s\)$"
)


def lanner_script() -> str:
    """The installed ``lanner`` console script: beside this Python first, then on PATH."""
    here = Path(sys.executable).parent / "lanner"
    found = str(here) if here.is_file() else shutil.which("lanner")
    assert found is not None, "the lanner console script is not installed"
    return found


def rule_names_in(path: Path) -> list[str]:
    """The names of the rules defined in a file, in file order (read without lanner)."""
    names = re.findall(r"^- rule: (.+?)\s*$", path.read_text(), flags=re.M)
    return [n.strip("'\"") for n in names]


@needs_corpus
@pytest.mark.parametrize("name", FILES)
def test_each_upstream_file_loads_and_compiles(name: str) -> None:
    per_source, macros, lists, disabled = EXPECTED[name]
    rs = load_rules([CORPUS / name])
    assert dict(Counter(r.source for r in rs.rules)) == per_source
    assert (len(rs.macros), len(rs.lists)) == (macros, lists)
    assert sum(not r.enabled for r in rs.rules) == disabled
    assert [r.name for r in rs.rules] == rule_names_in(CORPUS / name)
    assert [str(w) for w in rs.warnings] == []
    engine = compile_rules(rs)
    (source,) = per_source
    enabled = sum(r.enabled for r in rs.rules)
    assert len(engine.rules_for(source)) == enabled


@needs_corpus
def test_all_upstream_files_load_together() -> None:
    rs = load_rules([CORPUS / n for n in FILES])
    assert dict(Counter(r.source for r in rs.rules)) == {
        "aws_cloudtrail": 22,
        "syscall": 93,
        "k8s_audit": 48,
    }
    assert (len(rs.macros), len(rs.lists)) == (360, 137)
    assert [r.name for r in rs.rules] == [n for f in FILES for n in rule_names_in(CORPUS / f)]
    assert rs.required_engine_version is not None
    engine = compile_rules(rs)
    assert sorted(s for s in ("aws_cloudtrail", "syscall", "k8s_audit") if engine.rules_for(s)) == [
        "aws_cloudtrail",
        "k8s_audit",
        "syscall",
    ]


@needs_corpus
def test_the_corpus_directory_loads_like_its_files_in_name_order() -> None:
    rs = load_rules([CORPUS])
    assert [Path(f).name for f in rs.files] == FILES
    assert len(rs.rules) == 163


# --- CLI ----------------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("name", FILES)
def test_cli_validate_prints_a_one_line_summary(name: str) -> None:
    per_source, macros, lists, _disabled = EXPECTED[name]
    result = CliRunner().invoke(main, ["rules", "validate", "-r", str(CORPUS / name)])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    m = SUMMARY.match(line)
    assert m is not None, line
    ((source, count),) = per_source.items()
    assert m.group(1, 2, 3, 4) == ("1", f"{source}: {count} rules", str(macros), str(lists))
    assert "Traceback" not in result.output


@needs_corpus
def test_the_lanner_console_script_validates_all_files() -> None:
    args = [lanner_script(), "rules", "validate"]
    for name in FILES:
        args += ["-r", str(CORPUS / name)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    m = SUMMARY.match(line)
    assert m is not None, line
    assert m.group(1, 2, 3, 4) == (
        "5",
        "aws_cloudtrail: 22 rules; syscall: 93 rules; k8s_audit: 48 rules",
        "360",
        "137",
    )


@needs_corpus
def test_cli_rules_list_json_for_upstream_rules() -> None:
    path = CORPUS / "aws_cloudtrail_rules.yaml"
    result = CliRunner().invoke(main, ["rules", "list", "--json", "-r", str(path)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["name"] for r in rows] == rule_names_in(path)
    assert {r["source"] for r in rows} == {"aws_cloudtrail"}
    assert sum(not r["enabled"] for r in rows) == 2
    assert all(r["location"].startswith(f"{path}:") for r in rows)


BROKEN = """\
- rule: Broken
  desc: two problems
  condition: >
    evt.type = open and
    proc.name in (cat, dog
  output: "seen %proc.name"
  priority: LOUD
- macro: m
  condition: fd.name = /etc/shadow and
"""


def test_cli_validate_reports_every_error_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    result = CliRunner().invoke(main, ["rules", "validate", "-r", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:5:18: error: in rule 'Broken': unbalanced parenthesis: this '(' is never closed",
        f"{path}:7:13: error: unknown priority 'LOUD' (expected one of: emergency, alert, "
        "critical, error, warning, notice, informational, debug)",
        f"{path}:9:36: error: in macro 'm': expected a condition after 'and'",
        f"{path}:8:3: warning: macro 'm' is never used",
        "3 error(s), 1 warning(s)",
    ]
    assert "Traceback" not in result.output


def test_cli_validate_reports_unknown_fields_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "fields.yaml"
    path.write_text(
        "- rule: r\n  desc: d\n  condition: ka.verb = get and ka.nope = x\n  output: o\n"
        "  priority: INFO\n  source: k8s_audit\n"
    )
    done = subprocess.run(
        [lanner_script(), "rules", "validate", "-r", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{path}:3:32: error: rule 'r': unknown field 'ka.nope' for source 'k8s_audit'",
        "1 error(s)",
    ]


def test_cli_rules_list_json(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "- rule: First\n  desc: one\n  condition: evt.type = open\n  output: o\n"
        "  priority: warning\n  tags: [b, a]\n"
        "- rule: Second\n  desc: two\n  condition: ka.verb = get\n  output: p\n"
        "  priority: info\n  source: k8s_audit\n  enabled: false\n"
    )
    result = CliRunner().invoke(main, ["rules", "list", "--json", "-r", str(path)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        {
            "name": "First",
            "source": "syscall",
            "priority": "Warning",
            "enabled": True,
            "tags": ["b", "a"],
            "desc": "one",
            "condition": "evt.type = open",
            "output": "o",
            "location": f"{path}:1:3",
        },
        {
            "name": "Second",
            "source": "k8s_audit",
            "priority": "Informational",
            "enabled": False,
            "tags": [],
            "desc": "two",
            "condition": "ka.verb = get",
            "output": "p",
            "location": f"{path}:7:3",
        },
    ]
    only = CliRunner().invoke(
        main, ["rules", "list", "--json", "--source", "k8s_audit", "-r", str(path)]
    )
    assert [json.loads(line)["name"] for line in only.stdout.splitlines()] == ["Second"]


def test_cli_fields_json_for_k8s_audit() -> None:
    result = CliRunner().invoke(main, ["fields", "--source", "k8s_audit", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["source"] for r in rows} == {"k8s_audit"}
    names = {r["name"] for r in rows}
    assert {"ka.verb", "ka.user.name", "ka.target.resource", "ka.req.pod.containers.image"} <= names
    assert not any(n.startswith(("proc.", "ct.")) for n in names)
    assert all(set(r) == {"source", "name", "type", "arg", "list", "desc"} for r in rows)
    assert all(r["desc"] for r in rows)
    assert len(names) == len(rows)

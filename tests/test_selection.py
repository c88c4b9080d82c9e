"""Rules chosen by tag (``lanner.selection``), as Falco's -t and -T choose them: which rules
fire afterwards, and what is said about a tag no rule has."""

from __future__ import annotations

import pytest

from lanner import Engine, RuleSet, compile_rules, load_rules_text
from lanner.selection import select_by_tags

RULES = """
- rule: Outbound connection
  desc: d
  condition: json.value[/act] = connect
  output: "connect %json.value[/act]"
  priority: WARNING
  source: json
  tags: [network, mitre_exfiltration]
- rule: Shell
  desc: d
  condition: json.value[/act] = shell
  output: "shell %json.value[/act]"
  priority: WARNING
  source: json
  tags: [shell]
- rule: Port scan
  desc: d
  condition: json.value[/act] = scan
  output: "scan %json.value[/act]"
  priority: NOTICE
  source: json
  tags: [network]
  enabled: false
- rule: Untagged
  desc: d
  condition: json.value[/act] = other
  output: "other %json.value[/act]"
  priority: NOTICE
  source: json
"""
ACTS = ("connect", "shell", "scan", "other")


def fired(ruleset: RuleSet) -> set[str]:
    """The rules that alert on one event of each kind."""
    engine: Engine = compile_rules(ruleset, match="all", hostname="h")
    return {a.rule for act in ACTS for a in engine.evaluate({"act": act}, "json")}


def warnings(ruleset: RuleSet) -> list[str]:
    return [str(w) for w in ruleset.warnings if w.code == "unknown-tag"]


@pytest.fixture
def ruleset() -> RuleSet:
    return load_rules_text(RULES, "rules.yaml")


def test_without_tags_the_files_decide(ruleset: RuleSet) -> None:
    assert select_by_tags(ruleset) is ruleset
    assert fired(ruleset) == {"Outbound connection", "Shell", "Untagged"}


def test_only_runs_the_rules_with_one_of_the_tags_even_those_the_file_disables(
    ruleset: RuleSet,
) -> None:
    # Falco's -t: every rule off, then on by tag, whatever `enabled:` said.
    assert fired(select_by_tags(ruleset, only=["network"])) == {"Outbound connection", "Port scan"}
    assert fired(select_by_tags(ruleset, only=["shell", "mitre_exfiltration"])) == {
        "Outbound connection",
        "Shell",
    }


def test_disable_turns_off_the_rules_with_one_of_the_tags_and_leaves_the_rest(
    ruleset: RuleSet,
) -> None:
    assert fired(select_by_tags(ruleset, disable=["network"])) == {"Shell", "Untagged"}
    assert fired(select_by_tags(ruleset, disable=["shell", "nothing_has_this"])) == {
        "Outbound connection",
        "Untagged",
    }


def test_tags_match_exactly(ruleset: RuleSet) -> None:
    assert fired(select_by_tags(ruleset, only=["Network"])) == set()


def test_a_tag_no_rule_has_is_accepted_and_reported(ruleset: RuleSet) -> None:
    selected = select_by_tags(ruleset, only=["netwrk", "shell"])
    assert fired(selected) == {"Shell"}
    assert warnings(selected) == [
        "warning: tag 'netwrk' (-t): no loaded rule has it; did you mean 'network'?"
    ]
    disabled = select_by_tags(ruleset, disable=["zzz"])
    assert fired(disabled) == fired(ruleset)
    assert warnings(disabled) == ["warning: tag 'zzz' (-T): no loaded rule has it"]
    # ... and the compiled engine carries it with the rules' other warnings, where the
    # sensor and `lanner rules` print them.
    engine = compile_rules(selected, hostname="h")
    assert "no loaded rule has it" in "\n".join(str(w) for w in engine.warnings)


def test_only_and_disable_together_are_refused(ruleset: RuleSet) -> None:
    with pytest.raises(ValueError, match=r"cannot be combined"):
        select_by_tags(ruleset, only=["network"], disable=["shell"])


def test_the_given_ruleset_is_left_as_it_was(ruleset: RuleSet) -> None:
    before = [(r.name, r.enabled) for r in ruleset.rules]
    select_by_tags(ruleset, only=["shell"])
    select_by_tags(ruleset, disable=["shell"])
    assert [(r.name, r.enabled) for r in ruleset.rules] == before
    assert warnings(ruleset) == []

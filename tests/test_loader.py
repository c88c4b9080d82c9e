"""Loading rule files: items, redefinition, append/override, visibility, versions, files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lanner import (
    Priority,
    RuleLoadErrors,
    RuleSet,
    compile_rules,
    load_rules,
    load_rules_text,
)
from lanner.condition.parser import parse_condition
from lanner.loader import ENGINE_VERSION

d = textwrap.dedent


def load(text: str) -> RuleSet:
    return load_rules_text(textwrap.dedent(text), name="t.yaml")


def errors(text: str) -> list[str]:
    with pytest.raises(RuleLoadErrors) as info:
        load(text)
    return [str(e) for e in info.value.errors]


def warnings(rs: RuleSet) -> list[str]:
    return [str(w) for w in rs.warnings]


def fired(rs: RuleSet, doc: dict[str, object], source: str = "syscall") -> list[str]:
    return [a.rule for a in compile_rules(rs, match="all").evaluate(doc, source)]


def rule(name: str = "r", cond: str = "evt.type = open", **extra: str) -> str:
    lines = [
        f"- rule: {name}",
        "  desc: a rule",
        f"  condition: {cond}",
        "  output: seen %proc.name",
        "  priority: INFO",
    ]
    keys = {"skip_if": "skip-if-unknown-filter"}
    lines += [f"  {keys.get(k, k)}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


OPEN_CAT = {"evt.type": "open", "proc.name": "cat"}


# --- items -----------------------------------------------------------------------------


def test_a_rule_with_every_key_loads_with_those_values() -> None:
    rs = load(
        """\
        - rule: Full
          desc: every key
          condition: evt.type = open
          output: "opened (%proc.name)"
          priority: error
          source: syscall
          tags: [files, mitre]
          enabled: false
          warn_evttypes: false
          skip-if-unknown-filter: true
          exceptions:
            - name: cats
              fields: proc.name
              values: [cat]
        """
    )
    (r,) = rs.rules
    assert (r.name, r.desc, r.output) == ("Full", "every key", "opened (%proc.name)")
    assert r.priority is Priority.ERROR
    assert r.source == "syscall"
    assert r.tags == ("files", "mitre")
    assert r.enabled is False
    assert r.warn_evttypes is False
    assert r.skip_if_unknown_filter is True
    assert warnings(rs) == []


def test_source_defaults_to_syscall() -> None:
    (r,) = load(rule()).rules
    assert r.source == "syscall"


@pytest.mark.parametrize("missing", ["condition", "output", "desc", "priority"])
def test_a_rule_needs_condition_output_desc_and_priority(missing: str) -> None:
    text = "".join(
        line + "\n" for line in rule().splitlines() if not line.strip().startswith(missing)
    )
    (err,) = errors(text)
    assert err.startswith("t.yaml:1:3: error: ")
    assert f"missing required key(s): {missing}" in err


def test_a_rule_with_only_a_name_is_an_error() -> None:
    (err,) = errors("- rule: lonely\n")
    assert err.startswith("t.yaml:1:3: error: rule 'lonely' needs")


def test_unknown_top_level_item_is_a_warning_and_is_skipped() -> None:
    rs = load("- rule_set: nope\n  x: 1\n" + rule())
    assert [r.name for r in rs.rules] == ["r"]
    assert warnings(rs) == [
        "t.yaml:1:3: warning: unknown top-level item (rule_set, x); skipped: an item starts "
        "with one of rule, macro, list, required_engine_version, required_plugin_versions; "
        "did you mean 'rule'?"
    ]


def test_unknown_key_in_a_rule_is_a_warning_naming_it() -> None:
    rs = load(rule(colour="blue"))
    assert warnings(rs) == ["t.yaml:6:11: warning: unknown key 'colour' in rule; ignored"]


def test_lists_and_macros_are_exposed_resolved() -> None:
    rs = load(
        """\
        - list: shells
          items: [bash, sh]
        - macro: spawned_shell
          condition: evt.type = execve and proc.name in (shells)
        - rule: r
          desc: d
          condition: spawned_shell
          output: o
          priority: INFO
        """
    )
    assert rs.lists == {"shells": ["bash", "sh"]}
    assert rs.macros["spawned_shell"] == parse_condition(
        "evt.type = execve and proc.name in (bash, sh)"
    )
    assert rs.rules[0].condition == rs.macros["spawned_shell"]


# --- redefinition ------------------------------------------------------------------------


def test_redefining_a_rule_replaces_it_in_place() -> None:
    rs = load(rule("a") + rule("b") + rule("a", "evt.type = close"))
    assert [r.name for r in rs.rules] == ["a", "b"]
    assert rs.rules[0].condition == parse_condition("evt.type = close")
    assert fired(rs, {"evt.type": "close"}) == ["a"]


def test_redefining_a_rule_with_another_source_is_an_error() -> None:
    (err,) = errors(rule("a") + rule("a", "ka.verb = get", source="k8s_audit"))
    assert err == (
        "t.yaml:11:11: error: rule 'a' has been re-defined with a different source: "
        "'k8s_audit' here, 'syscall' where it is defined"
    )


def test_redefining_a_list_or_macro_replaces_it() -> None:
    rs = load(
        d("""\
        - list: l
          items: [a]
        - macro: m
          condition: proc.name in (l)
        - list: l
          items: [b]
        - macro: m
          condition: evt.type = open and proc.name in (l)
        """)
        + rule(cond="m")
    )
    assert rs.lists["l"] == ["b"]
    assert fired(rs, {"evt.type": "open", "proc.name": "b"}) == ["r"]
    assert fired(rs, {"evt.type": "open", "proc.name": "a"}) == []


# --- legacy append -----------------------------------------------------------------------


def test_append_true_extends_lists_macros_and_rule_conditions() -> None:
    rs = load(
        d("""\
        - list: l
          items: [a]
        - macro: m
          condition: proc.name in (l)
        """)
        + rule(cond="evt.type = open and m")
        + d("""\
        - list: l
          items: [b]
          append: true
        - macro: m
          condition: or proc.name = c
          append: true
        - rule: r
          condition: and not proc.pname = bash
          append: true
        """)
    )
    assert rs.lists["l"] == ["a", "b"]
    assert rs.rules[0].condition_text == "evt.type = open and m and not proc.pname = bash"
    for name, hit in [("a", True), ("b", True), ("c", True), ("d", False)]:
        assert fired(rs, {"evt.type": "open", "proc.name": name, "proc.pname": "x"}) == (
            ["r"] if hit else []
        )
    assert fired(rs, {"evt.type": "open", "proc.name": "a", "proc.pname": "bash"}) == []
    assert [w for w in warnings(rs) if "deprecated" in w] == [
        "t.yaml:10:3: warning: 'append' is deprecated: list the keys to append under "
        "'override' instead (e.g. 'override: {condition: append}')",
        "t.yaml:13:3: warning: 'append' is deprecated: list the keys to append under "
        "'override' instead (e.g. 'override: {condition: append}')",
        "t.yaml:16:3: warning: 'append' is deprecated: list the keys to append under "
        "'override' instead (e.g. 'override: {condition: append}')",
    ]


def test_macro_append_joins_the_text_with_one_space() -> None:
    rs = load(
        "- macro: m\n  condition: proc.name = a\n"
        "- macro: m\n  condition: or proc.name = b\n  append: true\n" + rule(cond="m")
    )
    assert rs.macros["m"] == parse_condition("proc.name = a or proc.name = b")


def test_append_true_on_a_rule_only_extends_condition_and_exceptions() -> None:
    rs = load(
        rule() + "- rule: r\n  append: true\n  output: other\n  condition: and proc.name = cat\n"
    )
    (r,) = rs.rules
    assert r.output == "seen %proc.name"
    assert r.condition_text == "evt.type = open and proc.name = cat"
    assert "t.yaml:8:11: warning: key 'output' is ignored in an 'append: true' rule" in warnings(rs)


def test_appended_rule_needs_a_condition_or_exceptions() -> None:
    (err,) = errors(rule() + "- rule: r\n  append: true\n  desc: more\n")
    assert err.startswith("t.yaml:6:3: error: appended rule 'r' has neither")


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ("- list: l\n  items: [a]\n  append: true\n", "list"),
        ("- macro: m\n  condition: or x\n  append: true\n", "macro"),
        ("- rule: q\n  condition: and x\n  append: true\n", "rule"),
        ("- rule: q\n  condition: and x\n  override:\n    condition: append\n", "rule"),
    ],
)
def test_appending_to_something_undefined_is_an_error(item: str, kind: str) -> None:
    (err,) = errors(item)
    assert err.startswith(f"t.yaml:1:3: error: {kind} '")
    assert "no " + kind + " by that name exists" in err


def test_replacing_in_an_undefined_rule_is_an_error() -> None:
    (err,) = errors("- rule: q\n  priority: ERROR\n  override:\n    priority: replace\n")
    assert err == (
        "t.yaml:1:3: error: rule 'q' uses 'override: {key: replace}' "
        "but no rule by that name exists (if it is defined in another file, load that one "
        "first, as in 'lanner rules validate -r rules/ -r t.yaml')"
    )


def test_appends_apply_in_file_order_across_several_appends() -> None:
    rs = load(
        "- list: l\n  items: [a]\n"
        "- list: l\n  items: [b]\n  append: true\n"
        "- list: l\n  items: [c]\n  override:\n    items: append\n"
    )
    assert rs.lists["l"] == ["a", "b", "c"]


# --- override ------------------------------------------------------------------------------


def test_override_items_append_and_replace() -> None:
    rs = load(
        "- list: a\n  items: [x]\n- list: a\n  items: [y]\n  override:\n    items: append\n"
        "- list: b\n  items: [x]\n- list: b\n  items: [y]\n  override:\n    items: replace\n"
    )
    assert rs.lists == {"a": ["x", "y"], "b": ["y"]}


def test_override_macro_condition_append_and_replace() -> None:
    rs = load(
        "- macro: a\n  condition: proc.name = x\n"
        "- macro: a\n  condition: or proc.name = y\n  override:\n    condition: append\n"
        "- macro: b\n  condition: proc.name = x\n"
        "- macro: b\n  condition: proc.name = y\n  override:\n    condition: replace\n"
        + rule(cond="evt.type = open and (a or b)")
    )
    assert rs.macros["a"] == parse_condition("proc.name = x or proc.name = y")
    assert rs.macros["b"] == parse_condition("proc.name = y")


def test_override_append_extends_rule_condition_output_desc_tags_exceptions() -> None:
    rs = load(
        rule(tags="[a]")
        + d("""\
        - rule: r
          condition: and proc.name = cat
          output: "(user=%user.name)"
          desc: and more
          tags: [b, a]
          exceptions:
            - name: root
              fields: user.name
              values: [root]
          override:
            condition: append
            output: append
            desc: append
            tags: append
            exceptions: append
        """)
    )
    (r,) = rs.rules
    assert r.condition_text == "evt.type = open and proc.name = cat"
    assert r.output == "seen %proc.name (user=%user.name)"
    assert r.desc == "a rule and more"
    assert r.tags == ("a", "b")
    assert fired(rs, {**OPEN_CAT, "user.name": "bob"}) == ["r"]
    assert fired(rs, {**OPEN_CAT, "user.name": "root"}) == []
    assert warnings(rs) == []


def test_override_replace_sets_rule_keys() -> None:
    rs = load(
        rule(tags="[a]")
        + d("""\
        - rule: r
          condition: evt.type = close
          output: closed
          desc: new
          priority: critical
          tags: [z]
          enabled: false
          warn_evttypes: false
          skip-if-unknown-filter: true
          override:
            condition: replace
            output: replace
            desc: replace
            priority: replace
            tags: replace
            enabled: replace
            warn_evttypes: replace
            skip-if-unknown-filter: replace
        """)
    )
    (r,) = rs.rules
    assert (r.condition_text, r.output, r.desc) == ("evt.type = close", "closed", "new")
    assert r.priority is Priority.CRITICAL
    assert r.tags == ("z",)
    assert (r.enabled, r.warn_evttypes, r.skip_if_unknown_filter) == (False, False, True)


def test_override_enabled_replace_switches_a_rule_back_on() -> None:
    rs = load(
        rule(enabled="false") + "- rule: r\n  enabled: true\n  override:\n    enabled: replace\n"
    )
    assert rs.rules[0].enabled is True
    assert fired(rs, OPEN_CAT) == ["r"]
    assert warnings(rs) == []


def test_append_and_override_together_is_an_error() -> None:
    (err,) = errors(
        rule()
        + "- rule: r\n  condition: and x\n  append: true\n  override:\n    condition: append\n"
    )
    assert err == "t.yaml:8:11: error: 'append' and 'override' cannot be used together"


def test_override_naming_an_undefined_key_is_an_error() -> None:
    (err,) = errors(rule() + "- rule: r\n  override:\n    condition: append\n")
    assert err == "t.yaml:8:5: error: 'override' names 'condition' but the rule does not define it"


def test_a_key_not_listed_under_override_is_an_error() -> None:
    (err,) = errors(
        rule()
        + "- rule: r\n  condition: and x\n  output: more\n  override:\n    condition: append\n"
    )
    assert err == "t.yaml:8:11: error: key 'output' is defined but not listed under 'override'"


def test_an_invalid_override_mode_is_an_error() -> None:
    errs = errors(rule() + "- rule: r\n  condition: and x\n  override:\n    condition: prepend\n")
    assert errs[-1] == (
        "t.yaml:9:16: error: override of 'condition' must be 'append' or 'replace', not 'prepend'"
    )


@pytest.mark.parametrize("key", ["priority", "enabled", "warn_evttypes"])
def test_keys_that_can_only_be_replaced_cannot_be_appended(key: str) -> None:
    errs = errors(rule() + f"- rule: r\n  {key}: x\n  override:\n    {key}: append\n")
    assert errs[0] == (
        f"t.yaml:9:5: error: key '{key}' of a rule cannot be overridden with 'append', "
        "use 'replace' instead"
    )


def test_source_cannot_be_overridden() -> None:
    errs = errors(rule() + "- rule: r\n  source: k8s_audit\n  override:\n    source: replace\n")
    assert errs == ["t.yaml:9:5: error: key 'source' of a rule cannot be overridden with 'replace'"]


def test_override_must_be_a_mapping() -> None:
    (err,) = errors(rule() + "- rule: r\n  condition: x\n  override: [condition]\n")
    assert err == "t.yaml:8:13: error: 'override' must map keys to 'append' or 'replace'"


# --- enabled -----------------------------------------------------------------------------


def test_standalone_enabled_switches_an_existing_rule_and_is_deprecated() -> None:
    rs = load(rule() + "- rule: r\n  enabled: false\n")
    assert rs.rules[0].enabled is False
    assert fired(rs, OPEN_CAT) == []
    assert warnings(rs) == [
        "t.yaml:6:3: warning: a rule item with only 'enabled' is deprecated: use "
        "'override: {enabled: replace}'"
    ]


def test_standalone_enabled_for_an_unknown_rule_is_an_error() -> None:
    (err,) = errors("- rule: ghost\n  enabled: false\n")
    assert err == (
        "t.yaml:1:3: error: rule 'ghost' sets 'enabled' but no rule by that name exists "
        "(if it is defined in another file, load that one first, as in "
        "'lanner rules validate -r rules/ -r t.yaml')"
    )


def test_enabled_must_be_a_boolean() -> None:
    (err,) = errors(rule(enabled="maybe"))
    assert err == "t.yaml:6:12: error: 'enabled' must be true or false"


# --- visibility ----------------------------------------------------------------------------


def test_a_macro_sees_only_macros_defined_before_it() -> None:
    (err,) = errors(
        "- macro: outer\n  condition: inner\n"
        "- macro: inner\n  condition: proc.name = a\n" + rule(cond="outer")
    )
    assert err == "t.yaml:2:14: error: undefined macro 'inner'"


def test_a_redefined_macro_sees_macros_defined_before_its_redefinition() -> None:
    rs = load(
        "- macro: outer\n  condition: proc.name = x\n"
        "- macro: inner\n  condition: proc.name = a\n"
        "- macro: outer\n  condition: inner\n" + rule(cond="evt.type = open and outer")
    )
    assert fired(rs, {"evt.type": "open", "proc.name": "a"}) == ["r"]


def test_an_appended_macro_sees_macros_defined_before_the_append() -> None:
    rs = load(
        "- macro: outer\n  condition: proc.name = x\n"
        "- macro: inner\n  condition: proc.name = a\n"
        "- macro: outer\n  condition: or inner\n  override:\n    condition: append\n"
        + rule(cond="evt.type = open and outer")
    )
    assert fired(rs, {"evt.type": "open", "proc.name": "a"}) == ["r"]


def test_rules_see_every_macro_even_ones_defined_later() -> None:
    rs = load(
        rule(cond="evt.type = open and later") + "- macro: later\n  condition: proc.name = cat\n"
    )
    assert fired(rs, OPEN_CAT) == ["r"]


def test_a_macro_referring_to_itself_is_an_error() -> None:
    errs = errors(
        "- macro: m\n  condition: proc.name = a\n"
        "- macro: m\n  condition: or m\n  append: true\n" + rule(cond="m")
    )
    assert errs == ["t.yaml:4:17: error: macro 'm' refers to itself"]


def test_lists_in_lists_expand_one_level_and_only_earlier_lists() -> None:
    rs = load(
        d("""\
        - list: base
          items: [a]
        - list: mid
          items: [base, b]
        - list: top
          items: [mid, later, c]
        - list: later
          items: [z]
        """)
        + rule(cond="proc.name in (top)")
    )
    assert rs.lists["mid"] == ["a", "b"]
    # One level: 'mid' is expanded to its own items (with 'base' unexpanded);
    # 'later' is defined after 'top', so it stays a plain value.
    assert rs.lists["top"] == ["base", "b", "later", "c"]


def test_conditions_may_use_lists_defined_after_them() -> None:
    rs = load(
        rule(cond="evt.type = open and proc.name in (cats)") + "- list: cats\n  items: [cat]\n"
    )
    assert fired(rs, OPEN_CAT) == ["r"]


def test_an_undefined_macro_in_a_rule_is_an_error_at_its_position() -> None:
    (err,) = errors(rule(cond="evt.type = open and nosuch"))
    assert err == "t.yaml:3:34: error: undefined macro 'nosuch'"


def test_macros_may_chain_deeply() -> None:
    chain = "- macro: m0\n  condition: proc.name = cat\n" + "".join(
        f"- macro: m{i}\n  condition: m{i - 1}\n" for i in range(1, 1500)
    )
    rs = load(chain + rule(cond="evt.type = open and m1499"))
    assert fired(rs, OPEN_CAT) == ["r"]


# --- names ----------------------------------------------------------------------------------


def test_a_macro_name_that_is_no_identifier_is_a_warning() -> None:
    rs = load("- macro: 'two words'\n  condition: proc.name = a\n" + rule())
    assert warnings(rs)[0] == (
        "t.yaml:1:10: warning: macro 'two words' has an invalid name: a macro name is a "
        "letter followed by letters, digits or '_', and no condition can use this one"
    )


def test_a_list_name_with_delimiters_is_a_warning() -> None:
    rs = load("- list: 'a,b'\n  items: [x]\n" + rule())
    assert warnings(rs)[0] == (
        "t.yaml:1:9: warning: list 'a,b' has an invalid name: a list name may not contain "
        "blanks, quotes, parentheses, '=' or ','"
    )


def test_list_names_may_contain_dots_and_dashes() -> None:
    rs = load(
        "- list: my-list.v2\n  items: [cat]\n"
        + rule(cond="evt.type = open and proc.name in (my-list.v2)")
    )
    assert fired(rs, OPEN_CAT) == ["r"]


# --- YAML details ------------------------------------------------------------------------


def test_scalars_are_read_as_text_like_falco_does() -> None:
    # yaml-cpp keeps every scalar as written: no YAML 1.1 booleans, octals or dates.
    rs = load(
        "- list: odd\n  items: [yes, 010, 0x1F, 1_000, 2024-02-30, 12:30, ~x, on]\n"
        + rule(cond="evt.type = open and proc.name in (odd)")
    )
    assert rs.lists["odd"] == ["yes", "010", "0x1F", "1_000", "2024-02-30", "12:30", "~x", "on"]
    assert fired(rs, {"evt.type": "open", "proc.name": "yes"}) == ["r"]
    assert fired(rs, {"evt.type": "open", "proc.name": "010"}) == ["r"]


def test_null_list_items_are_an_error() -> None:
    (err,) = errors("- list: l\n  items: [a, ~]\n")
    assert err == "t.yaml:2:14: error: an entry of 'items' of list 'l' is empty (null)"


def test_items_must_be_a_sequence() -> None:
    (err,) = errors("- list: l\n  items: a\n")
    assert err == "t.yaml:2:10: error: 'items' of list 'l' must be a sequence of values"


def test_several_yaml_documents_in_one_file_all_load() -> None:
    rs = load(
        "- list: l\n  items: [cat]\n---\n" + rule(cond="evt.type = open and proc.name in (l)")
    )
    assert fired(rs, OPEN_CAT) == ["r"]


def test_empty_files_documents_and_items_are_skipped() -> None:
    assert load("").rules == []
    assert load("# only a comment\n").rules == []
    rs = load("-\n" + rule() + "---\n")
    assert [r.name for r in rs.rules] == ["r"]


def test_yaml_merge_keys_are_applied() -> None:
    rs = load(
        """\
        - &base
          rule: a
          desc: d
          condition: evt.type = open
          output: o
          priority: INFO
        - <<: *base
          rule: b
          priority: ERROR
        """
    )
    assert [(r.name, r.priority) for r in rs.rules] == [
        ("a", Priority.INFORMATIONAL),
        ("b", Priority.ERROR),
    ]


def test_a_repeated_key_keeps_its_first_value_and_warns() -> None:
    rs = load(rule() + "  condition: evt.type = close\n")
    assert rs.rules[0].condition_text == "evt.type = open"
    assert warnings(rs) == [
        "t.yaml:6:3: warning: key 'condition' is repeated in this item; the first one is used"
    ]


def test_tags_are_kept_once_each() -> None:
    (r,) = load(rule(tags="[b, a, b]")).rules
    assert r.tags == ("b", "a")


def test_empty_strings_for_required_keys_are_errors() -> None:
    (err,) = errors(rule(cond="evt.type = open").replace("desc: a rule", "desc: ''"))
    assert err == "t.yaml:2:9: error: 'desc' must not be empty"


# --- priorities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EMERGENCY", Priority.EMERGENCY),
        ("alert", Priority.ALERT),
        ("Critical", Priority.CRITICAL),
        ("ERROR", Priority.ERROR),
        ("warning", Priority.WARNING),
        ("NoTiCe", Priority.NOTICE),
        ("informational", Priority.INFORMATIONAL),
        ("info", Priority.INFORMATIONAL),
        ("INFO", Priority.INFORMATIONAL),
        ("debug", Priority.DEBUG),
    ],
)
def test_priorities_are_case_insensitive_names(text: str, expected: Priority) -> None:
    (r,) = load(rule().replace("priority: INFO", f"priority: {text}")).rules
    assert r.priority is expected


def test_an_unknown_priority_is_an_error_at_its_value() -> None:
    (err,) = errors(rule().replace("priority: INFO", "priority: severe"))
    assert err.startswith("t.yaml:5:13: error: unknown priority 'severe'")


def test_min_priority_drops_less_severe_rules() -> None:
    rs = load(
        rule("warn").replace("INFO", "WARNING")
        + rule("note").replace("INFO", "NOTICE")
        + rule("crit").replace("INFO", "CRITICAL")
    )
    engine = compile_rules(rs, match="all", min_priority="warning")
    assert [a.rule for a in engine.evaluate(OPEN_CAT, "syscall")] == ["warn", "crit"]
    engine = compile_rules(rs, match="all", min_priority=Priority.CRITICAL)
    assert [a.rule for a in engine.evaluate(OPEN_CAT, "syscall")] == ["crit"]


# --- skip-if-unknown-filter ---------------------------------------------------------------


def test_skip_if_unknown_filter_turns_an_unknown_field_into_a_warning() -> None:
    rs = load(rule("skipped", "evt.type = open and proc.nosuch = x", skip_if="true") + rule("kept"))
    engine = compile_rules(rs, match="all")
    assert [a.rule for a in engine.evaluate(OPEN_CAT, "syscall")] == ["kept"]
    assert [str(w) for w in engine.warnings] == [
        "t.yaml:3:34: warning: rule 'skipped' skipped: unknown field 'proc.nosuch' "
        "for source 'syscall'"
    ]


def test_without_skip_if_unknown_filter_an_unknown_field_is_an_error() -> None:
    rs = load(rule("r", "evt.type = open and proc.nosuch = x"))
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(rs)
    assert [str(e) for e in info.value.errors] == [
        "t.yaml:3:34: error: rule 'r': unknown field 'proc.nosuch' for source 'syscall'"
    ]


# --- versions ----------------------------------------------------------------------------


def test_engine_version_is_a_semantic_version() -> None:
    assert len(ENGINE_VERSION) == 3
    assert all(isinstance(p, int) for p in ENGINE_VERSION)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("10", (0, 10, 0)), ("'0.26.1'", (0, 26, 1)), ("0.11.0-rc1", (0, 11, 0))],
)
def test_required_engine_version_forms(value: str, expected: tuple[int, int, int]) -> None:
    rs = load(f"- required_engine_version: {value}\n" + rule())
    assert rs.required_engine_version == expected


def test_the_highest_required_engine_version_is_kept() -> None:
    rs = load("- required_engine_version: 0.20.0\n- required_engine_version: 12\n")
    assert rs.required_engine_version == (0, 20, 0)


def test_a_too_new_required_engine_version_is_an_error() -> None:
    major, minor, _patch = ENGINE_VERSION
    have = ".".join(map(str, ENGINE_VERSION))
    for value, shown in [
        (str(minor + 1), f"0.{minor + 1}.0"),
        (f"{major}.{minor + 1}.0", f"{major}.{minor + 1}.0"),
        (f"{major + 1}.0.0", f"{major + 1}.0.0"),
    ]:
        (err,) = errors(f"- required_engine_version: {value}\n")
        assert err == (
            f"t.yaml:1:28: error: rules require engine version {shown}, lanner implements {have}"
        )


@pytest.mark.parametrize("value", ["abc", "'0.57'", "-1", "[1]", "''"])
def test_an_unparsable_required_engine_version_is_an_error(value: str) -> None:
    (err,) = errors(f"- required_engine_version: {value}\n")
    assert err.startswith("t.yaml:1:28: error: required_engine_version ")
    assert err.endswith("is not a number or a semantic version (x.y.z)")


def test_required_plugin_versions_that_lanner_provides_load_quietly() -> None:
    rs = load(
        """\
        - required_plugin_versions:
          - name: k8saudit
            version: 0.7.0
            alternatives:
              - name: k8saudit-eks
                version: 0.4.0
          - name: json
            version: 0.7.0
        """
    )
    assert warnings(rs) == []


def test_a_requirement_met_only_by_an_alternative_is_fine() -> None:
    rs = load(
        "- required_plugin_versions:\n  - name: k8saudit-gke\n    version: 0.1.0\n"
        "    alternatives:\n      - name: k8saudit\n        version: 0.1.0\n"
    )
    assert warnings(rs) == []


def test_an_unavailable_plugin_is_a_warning() -> None:
    rs = load("- required_plugin_versions:\n  - name: okta\n    version: 0.1.0\n")
    (w,) = warnings(rs)
    assert w.startswith("t.yaml:2:5: warning: plugin 'okta' 0.1.0 is required")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            "  - name: json\n    version: latest\n",
            "invalid required version 'latest' for plugin 'json'",
        ),
        ("  - name: json\n", "each required plugin needs a 'name' and a 'version'"),
        (
            "  - name: json\n    version: 0.1.0\n    alternatives:\n"
            "      - name: json\n        version: 0.2.0\n",
            "plugin 'json' is listed twice among alternatives",
        ),
        ("  - json\n", "each required plugin must be a mapping with 'name' and 'version'"),
    ],
)
def test_malformed_plugin_requirements_are_errors(entries: str, message: str) -> None:
    (err,) = errors("- required_plugin_versions:\n" + entries)
    assert err.endswith(f"error: {message}")
    assert err.startswith("t.yaml:")


# --- several files -------------------------------------------------------------------------


def test_later_files_override_earlier_ones(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    second = tmp_path / "second.yaml"
    first.write_text(
        "- list: l\n  items: [cat]\n"
        + rule("a", "evt.type = open and proc.name in (l)")
        + rule("b")
    )
    second.write_text(
        "- list: l\n  items: [dog]\n  append: true\n"
        + rule("a", "evt.type = close and proc.name in (l)")
    )
    rs = load_rules([first, second])
    assert rs.files == [str(first), str(second)]
    assert [r.name for r in rs.rules] == ["a", "b"]
    assert fired(rs, {"evt.type": "close", "proc.name": "dog"}) == ["a"]
    assert fired(rs, {"evt.type": "open", "proc.name": "cat"}) == ["b"]


def test_a_directory_loads_its_yaml_files_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "20-extra.yaml").write_text("- list: l\n  items: [dog]\n  append: true\n")
    (tmp_path / "10-base.yaml").write_text(
        "- list: l\n  items: [cat]\n" + rule(cond="proc.name in (l)")
    )
    (tmp_path / "30-more.yml").write_text("- list: l\n  items: [cow]\n  append: true\n")
    (tmp_path / "notes.txt").write_text("- this is: not rules\n")
    rs = load_rules([tmp_path])
    assert [Path(f).name for f in rs.files] == ["10-base.yaml", "20-extra.yaml", "30-more.yml"]
    assert rs.lists["l"] == ["cat", "dog", "cow"]


def test_errors_name_the_file_they_are_in(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    bad = tmp_path / "bad.yaml"
    good.write_text(rule())
    bad.write_text("\n" + rule("x").replace("priority: INFO", "priority: nope"))
    with pytest.raises(RuleLoadErrors) as info:
        load_rules([good, bad])
    assert [str(e) for e in info.value.errors] == [
        f"{bad}:6:13: error: unknown priority 'nope' (expected one of: emergency, alert, "
        "critical, error, warning, notice, informational, debug)"
    ]


def test_missing_paths_and_empty_directories_are_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuleLoadErrors) as info:
        load_rules([tmp_path / "nope.yaml", empty])
    assert [str(e) for e in info.value.errors] == [
        f"{tmp_path / 'nope.yaml'}: error: no such file or directory",
        f"{empty}: error: no *.yaml rules files in directory",
    ]


def test_texts_load_after_paths(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(rule())
    rs = load_rules([base], texts=[("local.yaml", "- rule: r\n  enabled: false\n")])
    assert rs.files == [str(base), "local.yaml"]
    assert rs.rules[0].enabled is False


# --- every stage in one run ------------------------------------------------------------

NINE_MISTAKES = """\
- rule: Bad syntax
  desc: d
  condition: evt.type = execve and
  output: x
  priority: NOTICE
- rule: Unknown key
  desc: d
  condition: evt.type = execve
  output: x
  priority: NOTICE
  priorty: high
- rule: Unknown field
  desc: d
  condition: evt.type = execve and proc.nmae = bash
  output: x
  priority: NOTICE
- rule: Unknown macro
  desc: d
  condition: spawnd and proc.name = bash
  output: x
  priority: NOTICE
- rule: Bad output
  desc: d
  condition: evt.type = execve
  output: secret %proc.name.x
  priority: NOTICE
- rule: Bad priority
  desc: d
  condition: evt.type = execve
  output: x
  priority: SEVERE
- rule: Missing target
  condition: and proc.name = x
  override:
    condition: append
- macro: 1bad name
  condition: evt.type = open
- rul: a typo
- rule: [broken
- rule: After the broken YAML
  desc: d
  condition: evt.type = execve and proc.nme = x
  output: x
  priority: NOTICE
"""


def test_every_error_of_every_stage_is_reported_in_one_run() -> None:
    with pytest.raises(RuleLoadErrors) as info:
        load(NINE_MISTAKES)
    assert [str(e) for e in info.value.errors] == [
        "t.yaml:3:32: error: in rule 'Bad syntax': expected a condition after 'and'",
        "t.yaml:14:36: error: rule 'Unknown field': unknown field 'proc.nmae' for source 'syscall'",
        "t.yaml:19:14: error: undefined macro 'spawnd'",
        "t.yaml:25:19: error: rule 'Bad output': unknown field 'proc.name.x' for source "
        "'syscall'; did you mean '%proc.name' or '%proc.sname' or '%proc.pname'?",
        "t.yaml:31:13: error: unknown priority 'SEVERE' (expected one of: emergency, alert, "
        "critical, error, warning, notice, informational, debug)",
        "t.yaml:32:3: error: rule 'Missing target' uses 'append' or 'override: {key: append}' "
        "but no rule by that name exists (if it is defined in another file, load that one "
        "first, as in 'lanner rules validate -r rules/ -r t.yaml')",
        "t.yaml:40:7: error: invalid YAML: did not find expected ',' or ']' (in the item at "
        "line 39)",
        "t.yaml:42:36: error: rule 'After the broken YAML': unknown field 'proc.nme' for "
        "source 'syscall'",
    ]
    assert [str(w) for w in info.value.warnings] == [
        "t.yaml:11:12: warning: unknown key 'priorty' in rule; ignored; did you mean 'priority'?",
        "t.yaml:36:10: warning: macro '1bad name' has an invalid name: a macro name is a "
        "letter followed by letters, digits or '_', and no condition can use this one",
        "t.yaml:38:3: warning: unknown top-level item (rul); skipped: an item starts with one "
        "of rule, macro, list, required_engine_version, required_plugin_versions; did you "
        "mean 'rule'?",
        "t.yaml:36:3: warning: macro '1bad name' is never used",
    ]

"""Rules chosen by tag, as Falco's ``-t TAG`` and ``-T TAG`` choose them.

``select_by_tags(ruleset, only=tags)`` runs only the rules that have one of ``tags``;
``select_by_tags(ruleset, disable=tags)`` turns off the rules that have one of them and
leaves the others as their files say. Falco's semantics, kept:

- ``only`` and ``disable`` together are refused (Falco: "You can not specify both disabled
  (-D/-T) and enabled (-t) rules"); a ValueError here, a usage error on a command line.
- ``only`` decides alone: a rule with one of the tags runs even if its file says
  ``enabled: false``, and every other rule is off. Falco turns every rule off, then on by
  tag, "regardless of any enabled status specified in the rules files" (its
  controlling-rules page); ``disable`` only ever turns rules off.
- Tags match exactly (case too), as Falco's tag sets do.

A tag no loaded rule has is not an error (a rules update may drop it) but never silent:
the returned RuleSet carries a warning for it, with the nearest tag that exists, so it is
printed with the rules' other warnings. The RuleSet given is left as it was.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import replace

from lanner.errors import Diagnostic
from lanner.loader import Rule, RuleSet


def select_by_tags(
    ruleset: RuleSet, *, only: Iterable[str] = (), disable: Iterable[str] = ()
) -> RuleSet:
    """``ruleset`` with each rule's ``enabled`` set by tag (see the module docstring), and a
    warning (code ``unknown-tag``) for each tag no rule has."""
    wanted, unwanted = frozenset(only), frozenset(disable)
    if wanted and unwanted:
        raise ValueError("tags to run only (-t) and tags to disable (-T) cannot be combined")
    if not wanted and not unwanted:
        return ruleset
    chosen, flag = (wanted, "-t") if wanted else (unwanted, "-T")

    def enabled(rule: Rule) -> bool:
        if wanted:  # every rule off, then on by tag, whatever its file said
            return not wanted.isdisjoint(rule.tags)
        return rule.enabled and unwanted.isdisjoint(rule.tags)

    rules = [
        r if enabled(r) == r.enabled else replace(r, enabled=enabled(r)) for r in ruleset.rules
    ]
    known = {t for r in ruleset.rules for t in r.tags}
    warnings = [
        Diagnostic(
            f"tag '{tag}' ({flag}): no loaded rule has it{_nearest(tag, known)}",
            None,
            "unknown-tag",
        )
        for tag in sorted(chosen - known)
    ]
    return replace(ruleset, rules=rules, warnings=[*ruleset.warnings, *warnings])


def _nearest(tag: str, known: set[str]) -> str:
    close = difflib.get_close_matches(tag, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""

"""Table-driven rule cases shared by the upstream-rule acceptance tests.

A case table (``cases.yaml`` in a data folder) lists recorded events and the
rules that must (``expect``, with output-field values) and must not
(``expect_not``) fire on them; ``overrides`` are rules-file items loaded after
the rules under test (appending to a list, disabling a rule...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from lanner import Engine, compile_rules, load_rules


def rule_names(path: Path) -> set[str]:
    return {item["rule"] for item in yaml.safe_load(path.read_text()) if "rule" in item}


class CaseTable:
    """The cases of one data folder, evaluated against one rules file."""

    def __init__(self, data: Path, rules: Path, source: str, table: str = "cases.yaml") -> None:
        self.data = data
        self.rules = rules
        self.source = source
        self.cases: list[dict[str, Any]] = yaml.safe_load((data / table).read_text())
        self.ids = [f"{i:02d}-{c['event'].removesuffix('.json')}" for i, c in enumerate(self.cases)]
        self._engines: dict[str, Engine] = {}

    def _compile(self, paths: list[Path], match: str) -> Engine:
        return compile_rules(load_rules([str(p) for p in paths]), match=match)

    def engine(self, case: dict[str, Any], match: str, tmp: Path) -> Engine:
        """The shared engine, or one with the case's overrides loaded after the rules."""
        if not case.get("overrides"):
            if match not in self._engines:
                self._engines[match] = self._compile([self.rules], match)
            return self._engines[match]
        extra = tmp / "overrides.yaml"
        extra.write_text(yaml.safe_dump(case["overrides"], sort_keys=False))
        return self._compile([self.rules, extra], match)

    def alerts(self, case: dict[str, Any], match: str, tmp: Path) -> dict[str, Any]:
        doc = json.loads((self.data / case["event"]).read_text())
        alerts = self.engine(case, match, tmp).evaluate(doc, self.source)
        assert all(a.source == self.source for a in alerts)
        return {a.rule: a for a in alerts}

    def check_all_matches(self, case: dict[str, Any], tmp: Path) -> None:
        """With match="all", each expected rule fires with its output fields; the others do not."""
        by_rule = self.alerts(case, "all", tmp)
        for want in case.get("expect") or []:
            name = want["rule"]
            assert name in by_rule, f"{name!r} did not fire; fired: {sorted(by_rule)}"
            alert = by_rule[name]
            for field, value in (want.get("output_fields") or {}).items():
                assert field in alert.output_fields, f"{name}: no output field {field}"
                assert str(alert.output_fields[field]) == str(value), f"{name}: {field}"
                assert str(value) in alert.output, f"{name}: {value!r} not in {alert.output!r}"
        for name in case.get("expect_not") or []:
            assert name not in by_rule, f"{name!r} fired on {case['event']}"

    def check_first_match(self, case: dict[str, Any], tmp: Path) -> None:
        """With Falco's default match="first", the first expected rule (in file order) wins."""
        by_rule = self.alerts(case, "first", tmp)
        assert len(by_rule) <= 1
        if case.get("expect"):
            assert list(by_rule) == [case["expect"][0]["rule"]]
        for name in case.get("expect_not") or []:
            assert name not in by_rule

    def check_table(self, other_tables: tuple[str, ...] = ()) -> None:
        """Every case expects something, names an event file, and every event file is used."""
        for case_id, case in zip(self.ids, self.cases, strict=True):
            assert case.get("expect") or case.get("expect_not"), case_id
            assert (self.data / case["event"]).is_file(), case_id
        used = {c["event"] for c in self.cases}
        for name in other_tables:
            used |= {c["event"] for c in yaml.safe_load((self.data / name).read_text())}
        assert {p.name for p in self.data.glob("*.json")} == used

    def check_rule_names(self) -> None:
        known = rule_names(self.rules)
        for case_id, case in zip(self.ids, self.cases, strict=True):
            named = [w["rule"] for w in case.get("expect") or []]
            named += list(case.get("expect_not") or [])
            assert set(named) <= known, (case_id, set(named) - known)

    def twins(self) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
        """(attack, benign twin, twin file name) for every ``*.benign*.json``."""
        out = []
        for twin in sorted(self.data.glob("*.benign*.json")):
            attack = self.data / (twin.name.split(".benign")[0] + ".json")
            out.append((json.loads(attack.read_text()), json.loads(twin.read_text()), twin.name))
        assert out
        return out

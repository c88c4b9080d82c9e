"""Rules from S3: an override applies without a restart; a broken one never stops detection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from test_runtime import SYSCALL_DATA, FakeContext, LogRecords, Stack, emf_totals, logs, make_stack

from functions.rulecache import RuleCache
from functions.runtime import detector_handler, get_runtime, reset_runtime
from functions.settings import bundled_rules_dir

__all__ = ["logs"]  # the fixture, imported for use here

PREFIX = "rules/"
ATTACK = json.loads((SYSCALL_DATA / "dev_tcp_reverse_shell.json").read_text())
PORT_CHECK = json.loads((SYSCALL_DATA / "netcat_exec.benign_port_check.json").read_text())

SITE_RULES = """\
- rule: Port Check From Host
  desc: a site rule, added from S3
  condition: evt.type = execve and proc.name = nc
  output: port check (cmdline=%proc.cmdline)
  priority: NOTICE
  source: syscall
  tags: [site]

- rule: Shell Command Uses Dev TCP
  enabled: false
  override:
    enabled: replace
"""

BROKEN_RULES = """\
- rule: Broken
  desc: a condition cut short
  condition: evt.type = execve and
  output: x
  priority: NOTICE
  source: syscall
"""


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield make_stack(
        monkeypatch,
        LANNER_RULES_S3_URI=f"s3://lanner-rules/{PREFIX}",
        LANNER_RULES_REFRESH_SECONDS="0",
    )
    reset_runtime()


def put(stack: Stack, name: str, text: str) -> None:
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=PREFIX + name, Body=text.encode())


def delete(stack: Stack, name: str) -> None:
    boto3.client("s3").delete_object(Bucket=stack.bucket, Key=PREFIX + name)


@detector_handler("syscall")
def detect(event: Any, context: Any) -> list[str]:
    """A stand-in detector: the rules that fire on a port check and a /dev/tcp shell."""
    return [a.rule for a in get_runtime().evaluate([PORT_CHECK, ATTACK], "syscall")]


def test_override_applies_without_restart_and_a_broken_one_keeps_the_last_good(
    stack: Stack, logs: LogRecords, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = FakeContext()
    assert detect({}, ctx) == ["Shell Command Uses Dev TCP"]  # bundled rules only
    rt = get_runtime()

    put(stack, "50-site.yaml", SITE_RULES)
    assert detect({}, ctx) == ["Port Check From Host"]  # appended a rule, disabled one
    assert get_runtime() is rt

    put(stack, "60-broken.yaml", BROKEN_RULES)
    assert detect({}, ctx) == ["Port Check From Host"]  # the previous engine serves on
    errors = [r for r in logs.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "does not load; keeping the current rules" in errors[0].getMessage()
    assert errors[0].__dict__["errors"] == [
        "s3://lanner-rules/rules/60-broken.yaml:3:32: error: in rule 'Broken': "
        "expected a condition after 'and'"
    ]
    assert emf_totals(capsys.readouterr().out)["RuleErrors"] == 1

    # Reported once, not on every refresh while it stays broken.
    assert detect({}, ctx) == ["Port Check From Host"]
    assert "RuleErrors" not in emf_totals(capsys.readouterr().out)

    put(stack, "60-broken.yaml", BROKEN_RULES.replace("execve and", "execve and proc.name = fixed"))
    assert detect({}, ctx) == ["Port Check From Host"]
    assert [k for k, _etag in rt.rules.override] == ["rules/50-site.yaml", "rules/60-broken.yaml"]

    delete(stack, "50-site.yaml")
    delete(stack, "60-broken.yaml")
    assert detect({}, ctx) == ["Shell Command Uses Dev TCP"]  # back to the bundled rules


def test_a_broken_override_at_cold_start_serves_the_bundled_rules(
    stack: Stack, logs: LogRecords, capsys: pytest.CaptureFixture[str]
) -> None:
    put(stack, "60-broken.yaml", BROKEN_RULES)
    assert detect({}, FakeContext()) == ["Shell Command Uses Dev TCP"]
    assert any(
        "60-broken.yaml:3:32" in e for r in logs.records for e in r.__dict__.get("errors", [])
    )
    assert emf_totals(capsys.readouterr().out)["RuleErrors"] == 1


def test_s3_unreachable_at_cold_start_serves_the_bundled_rules(
    stack: Stack, logs: LogRecords, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto3.client("s3")
    get_runtime().clients.set("s3", s3)
    with Stubber(s3) as stub:
        stub.add_client_error(
            "list_objects_v2", service_error_code="AccessDenied", http_status_code=403
        )
        assert detect({}, FakeContext()) == ["Shell Command Uses Dev TCP"]
    assert any("cannot list rules at s3://lanner-rules/rules/" in m for m in logs.messages())
    assert emf_totals(capsys.readouterr().out)["RuleErrors"] == 1


class CountingS3:
    def __init__(self) -> None:
        self.real = boto3.client("s3")
        self.gets = 0

    def get_paginator(self, name: str) -> Any:
        return self.real.get_paginator(name)

    def get_object(self, **kw: Any) -> Any:
        self.gets += 1
        return self.real.get_object(**kw)


def test_objects_are_read_again_only_when_their_etag_changes(stack: Stack) -> None:
    now = [0.0]
    s3 = CountingS3()
    cache = RuleCache(
        bundled_rules_dir(),
        s3=lambda: s3,
        s3_location=(stack.bucket, PREFIX),
        refresh_seconds=60,
        clock=lambda: now[0],
    )
    put(stack, "50-site.yaml", SITE_RULES)
    first = cache.engine()
    assert [a.rule for a in first.evaluate(PORT_CHECK, "syscall")] == ["Port Check From Host"]
    assert s3.gets == 1

    put(stack, "50-site.yaml", SITE_RULES.replace("port check", "nc probe"))
    now[0] = 30.0
    assert cache.engine() is first  # not due yet
    now[0] = 61.0
    second = cache.engine()
    assert second is not first and s3.gets == 2
    assert second.evaluate(PORT_CHECK, "syscall")[0].message.startswith("nc probe")

    now[0] = 200.0
    assert cache.engine() is second and s3.gets == 2  # same ETag: nothing read, nothing built


def test_only_yaml_objects_under_the_prefix_load_in_key_order(stack: Stack) -> None:
    put(stack, "20-second.yaml", SITE_RULES.replace("port check", "second"))
    put(stack, "10-first.yml", SITE_RULES.replace("port check", "first"))
    put(stack, "README.md", "not rules")
    boto3.client("s3").put_object(
        Bucket=stack.bucket, Key="elsewhere/x.yaml", Body=BROKEN_RULES.encode()
    )
    cache = RuleCache(
        bundled_rules_dir(), s3=lambda: boto3.client("s3"), s3_location=(stack.bucket, PREFIX)
    )
    engine = cache.engine()
    assert [k for k, _ in cache.override] == ["rules/10-first.yml", "rules/20-second.yaml"]
    # The later file redefines the rule, as in Falco.
    assert engine.evaluate(PORT_CHECK, "syscall")[0].message.startswith("second")


def macro_bomb(levels: int = 18) -> str:
    """849 bytes that expand to 2**levels checks: each macro uses the previous one twice."""
    items = ["- macro: m0\n  condition: proc.name = a\n"]
    items += [
        f"- macro: m{i}\n  condition: (m{i - 1} and m{i - 1})\n" for i in range(1, levels + 1)
    ]
    items.append(
        f"- rule: Bomb\n  desc: d\n  condition: evt.type = execve and m{levels}\n"
        "  output: x\n  priority: NOTICE\n  source: syscall\n"
    )
    return "".join(items)


def test_a_macro_bomb_is_rejected_and_the_last_good_rules_keep_serving(
    stack: Stack, logs: LogRecords, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = FakeContext()
    put(stack, "50-site.yaml", SITE_RULES)
    assert detect({}, ctx) == ["Port Check From Host"]

    put(stack, "70-bomb.yaml", macro_bomb())
    assert detect({}, ctx) == ["Port Check From Host"]  # rejected: the last good rules serve
    errors = [e for r in logs.records if r.levelname == "ERROR" for e in r.__dict__["errors"]]
    assert errors == [
        "s3://lanner-rules/rules/70-bomb.yaml:27:3: error: macro 'm13' expands to more than "
        "10,000 nodes once its macros are inlined (and/or/not and checks; each use of a macro "
        "counts its whole condition): use a list with 'in (...)' for many values, or split it"
    ]
    assert emf_totals(capsys.readouterr().out)["RuleErrors"] == 1
    assert [k for k, _etag in get_runtime().rules.override] == ["rules/50-site.yaml"]


def test_a_bomb_at_cold_start_serves_the_bundled_rules(stack: Stack, logs: LogRecords) -> None:
    put(stack, "70-bomb.yaml", macro_bomb())
    assert detect({}, FakeContext()) == ["Shell Command Uses Dev TCP"]
    assert any("70-bomb.yaml:27:3" in e for r in logs.records for e in r.__dict__["errors"])


def test_an_oversized_object_is_rejected_unread(stack: Stack, logs: LogRecords) -> None:
    from functions.rulecache import MAX_OBJECT_BYTES

    put(stack, "80-huge.yaml", "#" * (MAX_OBJECT_BYTES + 1))
    assert detect({}, FakeContext()) == ["Shell Command Uses Dev TCP"]
    errors = [e for r in logs.records for e in r.__dict__.get("errors", [])]
    assert errors == [
        "s3://lanner-rules/rules/80-huge.yaml: error: rules object is larger than "
        f"{MAX_OBJECT_BYTES:,} bytes; split it"
    ]


def test_a_failure_while_compiling_is_rejected_once_not_rebuilt_every_refresh(
    stack: Stack, logs: LogRecords, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = FakeContext()
    assert detect({}, ctx) == ["Shell Command Uses Dev TCP"]
    put(stack, "50-site.yaml", SITE_RULES)
    calls = []

    def crash(self: RuleCache, texts: list[tuple[str, str]]) -> Any:
        calls.append(len(texts))
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(RuleCache, "_compile", crash)
    assert detect({}, ctx) == ["Shell Command Uses Dev TCP"]
    assert detect({}, ctx) == ["Shell Command Uses Dev TCP"]
    assert calls == [1]  # the same version is not compiled again
    assert [e for r in logs.records for e in r.__dict__.get("errors", [])] == [
        "s3://lanner-rules/rules/: error: RecursionError: maximum recursion depth exceeded"
    ]

"""Threshold rules (``threshold: {count, window, group_by}``, a lanner key): loading errors
at FILE:LINE:COL, one alert per group and window when the count is reached, the count
in the alert, and `lanner scan` over a file of repeated events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from lanner import Alert, RuleLoadErrors, compile_rules, load_rules_text
from lanner.threshold import Bucket, InMemoryStore

RULE = """\
- rule: Many secrets read
  desc: one principal read many secrets
  condition: ct.name = GetSecretValue and not ct.error exists
  output: "Secrets read in bulk (user=%ct.user.arn)"
  priority: WARNING
  source: aws_cloudtrail
  threshold: {count: 5, window: 5m, group_by: [ct.user.arn]}
"""

ANY_READ = """\
- rule: Secret read
  desc: any secret read
  condition: ct.name = GetSecretValue
  output: "Secret read (user=%ct.user.arn)"
  priority: NOTICE
  source: aws_cloudtrail
"""

T0 = "2026-11-28T10:00:00Z"


def read(n: int, user: str = "eve", at: str = "10:01:00", **extra: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "userName": user,
            "accountId": "123456789012",
            "arn": f"arn:aws:iam::123456789012:user/{user}",
        },
        "eventTime": f"2026-11-28T{at}Z",
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "requestParameters": {"secretId": f"prod/db-{n}"},
        "responseElements": None,
        "eventID": f"5f0c2b7e-0000-4000-8000-{n:012d}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
        **extra,
    }


def engine(text: str = RULE, match: str = "first") -> Any:
    return compile_rules(load_rules_text(text, "rules.yaml"), match=match, hostname="h")


def run(eng: Any, docs: list[dict[str, Any]]) -> list[Alert]:
    return [a for d in docs for a in eng.evaluate(d, "aws_cloudtrail")]


def errors(text: str) -> list[str]:
    with pytest.raises(RuleLoadErrors) as caught:
        compile_rules(load_rules_text(text, "rules.yaml"))
    return [str(e) for e in caught.value.errors]


# -- loading -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "want"),
    [
        (
            "{count: 1, window: 5m}",
            "rules.yaml:7:22: error: 'count' must be a whole number from 2 to 1000, not '1'",
        ),
        (
            "{count: many, window: 5m}",
            "rules.yaml:7:22: error: 'count' must be a whole number from 2 to 1000, not 'many'",
        ),
        (
            "{count: 5, window: 5d}",
            "rules.yaml:7:33: error: 'window' must be a whole number of seconds, minutes or "
            "hours (like 30s, 5m, 2h), not '5d'",
        ),
        (
            "{count: 5, window: 25h}",
            "rules.yaml:7:33: error: 'window' must be at most 24h, not '25h'",
        ),
        ("{count: 5}", "rules.yaml:7:14: error: 'threshold' needs 'window'"),
        (
            "{count: 5, window: 5m, groupby: [ct.user]}",
            "rules.yaml:7:37: error: unknown key 'groupby' in 'threshold'; did you mean "
            "'group_by'?",
        ),
        (
            "{count: 5, window: 5m, group_by: ct.user}",
            "rules.yaml:7:47: error: 'group_by' must be a list of field names",
        ),
        (
            "20",
            "rules.yaml:7:14: error: 'threshold' must be a mapping like {count: 20, "
            "window: 5m, group_by: [ct.user]}",
        ),
        (
            "{count: 5, window: 5m, group_by: [ct.user.ar]}",
            "rules.yaml:7:48: error: rule 'Many secrets read': threshold group_by: unknown "
            "field 'ct.user.ar' for source 'aws_cloudtrail'; did you mean 'ct.user' or "
            "'ct.user.arn'?",
        ),
        (
            "{count: 5, window: 5m, group_by: [ct.user, ka.verb]}",
            "rules.yaml:7:57: error: rule 'Many secrets read': threshold group_by: unknown "
            "field 'ka.verb' for source 'aws_cloudtrail'",
        ),
    ],
)
def test_a_bad_threshold_is_an_error_at_file_line_col(threshold: str, want: str) -> None:
    text = RULE.replace("{count: 5, window: 5m, group_by: [ct.user.arn]}", threshold)
    assert errors(text) == [want]


def test_threshold_can_be_replaced_by_override_but_not_appended() -> None:
    replaced = engine(
        RULE
        + """
- rule: Many secrets read
  threshold: {count: 2, window: 1m}
  override: {threshold: replace}
"""
    )
    assert [a.message for a in run(replaced, [read(1), read(2)])] == [
        "Secrets read in bulk (user=arn:aws:iam::123456789012:user/eve) (2 matches in 1m)"
    ]
    assert errors(
        RULE
        + """
- rule: Many secrets read
  threshold: {count: 2, window: 1m}
  override: {threshold: append}
"""
    ) == [
        "rules.yaml:11:14: error: key 'threshold' of a rule cannot be overridden with "
        "'append', use 'replace' instead"
    ]


# -- counting -------------------------------------------------------------------------


def test_fires_once_when_the_count_is_reached_with_the_count_in_the_alert() -> None:
    alerts = run(engine(), [read(n) for n in range(12)])

    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.rule == "Many secrets read"
    assert alert.message == (
        "Secrets read in bulk (user=arn:aws:iam::123456789012:user/eve) (5 matches in 5m)"
    )
    assert alert.output_fields == {
        "ct.user.arn": "arn:aws:iam::123456789012:user/eve",
        "threshold.count": 5,
        "threshold.window": "5m",
    }
    # The alert is the fifth match's: its time and its uuid.
    assert alert.to_dict()["output_fields"]["threshold.count"] == 5
    assert alert.uuid == run(engine(), [read(4)] * 5)[0].uuid


def test_one_match_short_of_the_count_is_quiet() -> None:
    assert run(engine(), [read(n) for n in range(4)]) == []


def test_each_group_counts_on_its_own() -> None:
    docs = [read(n, user="eve") for n in range(4)] + [read(n, user="bob") for n in range(4)]
    assert run(engine(), docs) == []

    alerts = run(engine(), [*docs, read(9, user="bob")])
    assert [a.output_fields["ct.user.arn"] for a in alerts] == [
        "arn:aws:iam::123456789012:user/bob"
    ]


def test_a_missing_group_value_is_a_group_of_its_own() -> None:
    anonymous = [read(n, userIdentity={"type": "AWSService"}) for n in range(5)]
    eng = engine()
    alerts = run(eng, [*anonymous, *(read(n) for n in range(4))])
    assert [a.output_fields["ct.user.arn"] for a in alerts] == [None]
    assert alerts[0].message.startswith("Secrets read in bulk (user=<NA>)")


def test_windows_are_aligned_on_event_time() -> None:
    # 10:04:59 and 10:05:00 are in different 5-minute windows: 3 + 2 matches never fire.
    straddling = [read(n, at="10:04:59") for n in range(3)] + [
        read(n, at="10:05:00") for n in range(3, 5)
    ]
    assert run(engine(), straddling) == []
    # 2*count-1 matches within 5 minutes always fire, wherever the boundary falls.
    spread = [read(n, at="10:04:59") for n in range(4)] + [
        read(n, at="10:05:00") for n in range(4, 9)
    ]
    assert len(run(engine(), spread)) == 1
    # A new window counts from zero and fires again.
    two_windows = [read(n, at="10:00:00") for n in range(5)] + [
        read(n, at="10:09:59") for n in range(5)
    ]
    assert [a.time_iso for a in run(engine(), two_windows)] == [
        "2026-11-28T10:00:00.000000000Z",
        "2026-11-28T10:09:59.000000000Z",
    ]


def test_a_threshold_match_below_its_count_does_not_stop_later_rules() -> None:
    eng = engine(RULE + "\n" + ANY_READ, match="first")
    alerts = run(eng, [read(n) for n in range(6)])
    assert [a.rule for a in alerts] == [
        "Secret read",
        "Secret read",
        "Secret read",
        "Secret read",
        "Many secrets read",  # the fifth: the threshold fired, which is the first match
        "Secret read",
    ]


def test_match_all_reports_the_threshold_alert_beside_the_others() -> None:
    eng = engine(RULE + "\n" + ANY_READ, match="all")
    alerts = run(eng, [read(n) for n in range(5)])
    assert [a.rule for a in alerts].count("Secret read") == 5
    assert [a.rule for a in alerts].count("Many secrets read") == 1


def test_a_fresh_store_forgets_every_count() -> None:
    eng = engine()
    run(eng, [read(n) for n in range(4)])
    eng.store = InMemoryStore()
    assert run(eng, [read(n) for n in range(4)]) == []


def test_rules_without_threshold_are_unaffected() -> None:
    class Refusing:
        def hit(self, bucket: Bucket, count: int, event: str) -> bool:
            raise AssertionError("a rule without threshold used the store")

    rs = load_rules_text(ANY_READ, "rules.yaml")
    eng = compile_rules(rs, hostname="h", store=Refusing())
    assert len(run(eng, [read(n) for n in range(3)])) == 3
    assert rs.rules[0].threshold is None


def test_in_memory_store_stays_bounded() -> None:
    store = InMemoryStore(max_buckets=100)
    for start in range(0, 1000 * 60, 60):
        store.hit(Bucket("r", (), start, 60), 2, "e")
    assert len(store._counts) <= 100


# -- lanner scan ------------------------------------------------------------------------


def test_scan_of_25_reads_fires_once(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.replace("count: 5", "count: 20"))
    log = tmp_path / "trail.json"
    log.write_text(json.dumps({"Records": [read(n, at=f"10:01:{n:02d}") for n in range(25)]}))

    result = CliRunner().invoke(main, ["scan", "-r", str(rules), "--json", str(log)])

    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["rule"] for a in alerts] == ["Many secrets read"], result.output
    assert alerts[0]["output_fields"]["threshold.count"] == 20
    assert alerts[0]["output_fields"]["threshold.window"] == "5m"
    assert alerts[0]["time"] == "2026-11-28T10:01:19.000000000Z"
    assert alerts[0]["output"].endswith("(20 matches in 5m)")

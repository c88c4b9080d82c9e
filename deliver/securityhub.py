"""An alert as an AWS Security Hub finding (ASFF), imported with BatchImportFindings.

Limits are ASFF's: Title 256 characters, Description 1024 (cut with a visible marker),
ProductFields at most 50 string -> string entries (Security Hub adds three of its own, so
lanner uses 47), values 2048, keys 128, and no empty strings anywhere.

Types come from Falco's ``mitre_*`` tactic tags through ``deliver.attack`` (ASFF's taxonomy
has TTPs for ten tactics and Effects for exfiltration and impact); an alert without one is
"Unusual Behaviors/Process" (syscall) or "Unusual Behaviors/User" (audit, CloudTrail).

Resources: the node, pod, namespace and container of a runtime or audit alert as one
``Other`` resource (its Id the ``where`` text, the parts in Details); the AWS account a
CloudTrail alert names as ``AwsAccount``; an EKS cluster, when the output fields name it,
as ``AwsEksCluster``. With no place at all, the hostname.

AwsAccountId: with the account's default product ARN, Security Hub only imports findings
whose AwsAccountId is the calling account, so the alert's own account (another account
of an organization trail) is used only with a product ARN passed in, and is otherwise
a resource and a product field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from deliver import attack
from deliver.alert import DeliveryAlert, Where
from deliver.retry import Answer
from deliver.severity import severity
from deliver.times import parse_time

SCHEMA_VERSION = "2018-10-08"
PRODUCT = "lanner"
MAX_ID = 512
MAX_TITLE = 256
MAX_DESCRIPTION = 1024
MAX_NOTE = 512
MAX_FIELD_VALUE = 2048
MAX_FIELD_KEY = 128
MAX_PRODUCT_FIELDS = 50 - 3  # aws/securityhub/{FindingId,ProductName,CompanyName}
MAX_OTHER_VALUE = 1024  # Resources[].Details.Other values
CUT = " …[truncated]"
NA = "<NA>"  # Falco's "no value"
_ACCOUNT = re.compile(r"^\d{12}$")

# Impact techniques whose effect is not destruction.
IMPACT_TYPES: dict[str, str] = {
    "T1496": "Effects/Resource Consumption",  # resource hijacking (mining)
    "T1498": "Effects/Denial of Service",
    "T1499": "Effects/Denial of Service",
}
DEFAULT_TYPES: dict[str, str] = {"syscall": "Unusual Behaviors/Process"}
DEFAULT_TYPE = "Unusual Behaviors/User"
# Output fields that name an EKS cluster.
CLUSTER_FIELDS = ("ka.cluster.name", "k8s.cluster.name")


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters; a cut one ends with ``CUT``."""
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def default_product_arn(account_id: str, region: str) -> str:
    """The account's own product: what a custom integration imports findings as."""
    return (
        f"arn:{partition_of(region)}:securityhub:{region}:{account_id}:product/{account_id}/default"
    )


def iso(when: datetime) -> str:
    """``2026-11-28T10:05:00.123Z``: ASFF's timestamps."""
    t = when.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def types_of(alert: DeliveryAlert) -> list[str]:
    found: list[str] = []
    for tactic in attack.tactics_of(alert.tags):
        if tactic.asff_type is None:
            continue
        if tactic is attack.IMPACT:
            bases = {i.split(".", 1)[0] for i in alert.attack_ids}
            specific = [IMPACT_TYPES[b] for b in sorted(bases) if b in IMPACT_TYPES]
            if specific:
                found.extend(specific)
                continue
        found.append(tactic.asff_type)
    if not found:
        found.append(DEFAULT_TYPES.get(alert.source, DEFAULT_TYPE))
    return list(dict.fromkeys(found))


def _text(value: Any) -> str:
    if value is None:
        return NA
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _cluster(fields: Mapping[str, Any]) -> str:
    for name in CLUSTER_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value.strip() and value != NA:
            return value
    return ""


def resources_of(alert: DeliveryAlert, account_id: str, region: str) -> list[dict[str, Any]]:
    """At least one resource: where the alert happened, in ASFF's terms."""
    where: Where = alert.where
    here = where.region or region
    partition = partition_of(here)
    out: list[dict[str, Any]] = []
    place = [(k, v) for k, v in where.parts() if k not in ("account", "region")]
    if place:
        text = " / ".join(f"{k} {v}" for k, v in place)
        out.append(
            {
                "Type": "Other",
                "Id": cut(text, MAX_ID),
                "Partition": partition,
                "Region": here,
                "Details": {"Other": {k: cut(v, MAX_OTHER_VALUE) for k, v in place}},
            }
        )
    account = where.account if _ACCOUNT.match(where.account) else ""
    cluster = _cluster(alert.fields)
    if cluster:
        owner = account or account_id
        out.append(
            {
                "Type": "AwsEksCluster",
                "Id": cut(f"arn:{partition}:eks:{here}:{owner}:cluster/{cluster}", MAX_ID),
                "Partition": partition,
                "Region": here,
                "Details": {"AwsEksCluster": {"Name": cut(cluster, MAX_OTHER_VALUE)}},
            }
        )
    if account:
        out.append(
            {
                "Type": "AwsAccount",
                "Id": f"AWS::::Account:{account}",
                "Partition": partition,
                "Region": here,
            }
        )
    if not out:
        name = alert.hostname.strip() or where.text()
        out.append(
            {"Type": "Other", "Id": cut(name, MAX_ID), "Partition": partition, "Region": here}
        )
    return out


def product_fields(alert: DeliveryAlert, fingerprint: str) -> dict[str, str]:
    """Lanner's own entries, then the output fields while there is room (and how many not)."""
    ours: dict[str, str] = {
        "lanner/rule": alert.rule,
        "lanner/source": alert.source,
        "lanner/priority": str(alert.priority),
        "lanner/uuid": alert.uuid,
        "lanner/fingerprint": fingerprint,
        "lanner/hostname": alert.hostname,
        "lanner/where": alert.where.text(),
        "lanner/tags": ",".join(alert.tags),
    }
    if alert.repeat is not None:
        r = alert.repeat
        ours.update(
            {
                "lanner/repeat/count": str(r.count),
                "lanner/repeat/hosts": str(r.hosts),
                "lanner/repeat/first_seen": r.first_seen,
                "lanner/repeat/last_seen": r.last_seen,
            }
        )
    out = {k: cut(v, MAX_FIELD_VALUE) for k, v in ours.items() if v.strip()}
    room = MAX_PRODUCT_FIELDS - 1  # one entry kept for the count of fields left out
    left_out = 0
    for name, value in alert.fields.items():
        key, text = str(name), _text(value)
        fits = key.strip() and len(key) <= MAX_FIELD_KEY and key not in out and text.strip()
        if not fits or len(out) >= room:
            left_out += 1
            continue
        out[key] = cut(text, MAX_FIELD_VALUE)
    if left_out:
        out["lanner/fields_left_out"] = str(left_out)
    return out


def _summary_note(alert: DeliveryAlert, at: str) -> dict[str, str] | None:
    r = alert.repeat
    if r is None:
        return None
    text = (
        f"{r.count} times on {r.hosts} host(s) between {r.first_seen or '?'} and "
        f"{r.last_seen or '?'} ({r.window_seconds}s window)"
    )
    if r.host_names:
        text += ": " + ", ".join(r.host_names)
    return {"Text": cut(text, MAX_NOTE), "UpdatedBy": PRODUCT, "UpdatedAt": at}


def to_asff(
    alert: DeliveryAlert,
    fingerprint: str,
    account_id: str,
    region: str,
    product_arn: str | None = None,
) -> dict[str, Any]:
    """The alert as one ASFF finding for BatchImportFindings."""
    default_arn = default_product_arn(account_id, region)
    arn = product_arn or default_arn
    own = alert.where.account if _ACCOUNT.match(alert.where.account) else ""
    # The default product imports findings for the calling account only.
    finding_account = own if own and arn != default_arn else account_id
    event = parse_time(alert.time) or datetime.now(UTC)
    first, last = event, event
    if alert.repeat is not None:
        first = parse_time(alert.repeat.first_seen) or event
        last = parse_time(alert.repeat.last_seen) or event
    created = min(event, first)
    updated = max(event, last)
    sev = severity(alert.priority)
    title = alert.rule.strip() or "lanner alert"
    description = alert.message.strip() or alert.output.strip() or title
    finding: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": cut(alert.uuid, MAX_ID),
        "ProductArn": arn,
        "GeneratorId": cut(f"{PRODUCT}/{title}", MAX_ID),
        "AwsAccountId": finding_account,
        "Types": types_of(alert),
        "CreatedAt": iso(created),
        "UpdatedAt": iso(updated),
        "FirstObservedAt": iso(first),
        "LastObservedAt": iso(last),
        "Severity": {"Label": sev.asff_label, "Original": str(alert.priority)},
        "Title": cut(title, MAX_TITLE),
        "Description": cut(description, MAX_DESCRIPTION),
        "Resources": resources_of(alert, account_id, region),
        "ProductFields": product_fields(alert, fingerprint),
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    }
    if arn == default_arn:  # a custom integration names itself; a partner product cannot
        finding["ProductName"] = PRODUCT
        finding["CompanyName"] = PRODUCT
    note = _summary_note(alert, iso(updated))
    if note is not None:
        finding["Note"] = note
    return finding


class SecurityHubDestination:
    """Imports each alert as one Security Hub finding."""

    name = "securityhub"

    def __init__(
        self,
        securityhub: Callable[[], Any],
        account_id: str,
        region: str,
        product_arn: str | None = None,
    ) -> None:
        self._securityhub = securityhub  # a boto3 securityhub client, made when first needed
        self.account_id = account_id
        self.region = region
        self.product_arn = product_arn

    def send(self, alert: DeliveryAlert, fingerprint: str) -> Answer:
        from deliver.aws_answer import (
            AWS_ERRORS,
            answer_of_aws_error,
            answer_of_error_code,
            ok_answer,
        )

        finding = to_asff(alert, fingerprint, self.account_id, self.region, self.product_arn)
        try:
            response = self._securityhub().batch_import_findings(Findings=[finding])
        except AWS_ERRORS as exc:
            return answer_of_aws_error(exc)
        failed = response.get("FailedFindings") or []
        if failed:
            first = failed[0]
            # Refused findings are permanent, but for a code that says "later".
            return answer_of_error_code(
                str(first.get("ErrorCode") or "FailedFinding"),
                str(first.get("ErrorMessage") or ""),
                400,
            )
        if response.get("FailedCount"):
            return Answer(400, f"FailedCount {response['FailedCount']}", error="FailedFinding")
        return ok_answer(f"imported {finding['Id']}")

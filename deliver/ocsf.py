"""An alert as an OCSF Detection Finding (class 2004), and a bucket of them.

The finding is built with ``py_ocsf_models``, so what it emits is what that package's
model accepts (the OCSF version it targets is ``metadata.version``). Where an alert is
comes from ``alert.where``: the node as a ``Host`` resource, the pod or namespace, the
container, and for CloudTrail the AWS account and region as ``cloud`` (with the ``cloud``
profile). The package's Detection Finding has no ``device`` (the host profile), so the
node is a resource. Falco's own fields stay in ``unmapped``: ``output_fields``, ``source``,
``tags`` and ``priority``.

ATT&CK: technique ids come from the rule's tags (T1059, T1059.004) and tactics from
Falco's ``mitre_*`` tags (the table is ``deliver.attack``). Falco's tags do not say which
tactic goes with which technique, so a tactic is attached to the techniques only when
there is exactly one; otherwise each tactic is an entry of its own. Lanner carries no
technique names: the model requires one, so a technique's name is its id (``src_url``
links to its ATT&CK page).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from py_ocsf_models import OCSF_VERSION
from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from py_ocsf_models.events.findings.detection_finding_type_id import DetectionFindingTypeID
from py_ocsf_models.events.findings.severity_id import SeverityID
from py_ocsf_models.events.findings.status_id import StatusID
from py_ocsf_models.objects.account import Account
from py_ocsf_models.objects.account import TypeID as AccountTypeID
from py_ocsf_models.objects.analytic import Analytic
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.metadata import Metadata
from py_ocsf_models.objects.mitre_attack import MITREAttack, SubTechnique, Tactic, Technique
from py_ocsf_models.objects.product import Product
from py_ocsf_models.objects.resource_details import ResourceDetails

from deliver import attack
from deliver.alert import DeliveryAlert, Where
from deliver.retry import Answer
from deliver.severity import severity
from deliver.times import parse_time

PRODUCT = "lanner"
ANALYTIC_TYPE_RULE = 1  # OCSF analytic type_id: 1 Rule
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAFE_KEY = re.compile(r"[^A-Za-z0-9._-]")


def epoch_ms(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(milliseconds=1)


def event_time(alert: DeliveryAlert) -> datetime:
    """When the alert's event happened; now if the alert does not say."""
    return parse_time(alert.time) or datetime.now(UTC)


@functools.lru_cache(maxsize=1)
def _product_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PRODUCT)
    except PackageNotFoundError:
        return None


def attacks_of(alert: DeliveryAlert) -> list[MITREAttack]:
    """ATT&CK entries from the alert's tags: one per technique, then lone tactics."""
    tactics = [
        Tactic(uid=t.uid, name=t.name, src_url=t.url) for t in attack.tactics_of(alert.tags)
    ]
    ids = list(dict.fromkeys(alert.attack_ids))
    # T1059 says less than T1059.004 beside it: keep the sub-technique only.
    parents = {i.split(".", 1)[0] for i in ids if "." in i}
    ids = [i for i in ids if "." in i or i not in parents]
    shared = tactics[0] if len(tactics) == 1 else None
    out: list[MITREAttack] = []
    for ident in ids:
        base, _, sub = ident.partition(".")
        technique = Technique(uid=base, name=base, src_url=attack.technique_url(base))
        sub_technique = (
            SubTechnique(uid=ident, src_url=attack.technique_url(ident)) if sub else None
        )
        out.append(MITREAttack(technique=technique, sub_technique=sub_technique, tactic=shared))
    if shared is None or not ids:
        out.extend(MITREAttack(tactic=t) for t in tactics)
    return out


def resources_of(where: Where) -> list[ResourceDetails]:
    """Where the alert happened, as OCSF resources (node, pod or namespace, container, account)."""
    out: list[ResourceDetails] = []
    region = where.region or None
    if where.node:
        out.append(ResourceDetails(type="Host", name=where.node, uid=where.node))
    if where.pod:
        ns = where.namespace or None
        uid = f"{where.namespace}/{where.pod}" if where.namespace else where.pod
        out.append(ResourceDetails(type="Pod", name=where.pod, namespace=ns, uid=uid))
    elif where.namespace:
        out.append(ResourceDetails(type="Namespace", name=where.namespace, uid=where.namespace))
    if where.container:
        out.append(
            ResourceDetails(
                type="Container", name=where.container, namespace=where.namespace or None
            )
        )
    if where.account:
        out.append(
            ResourceDetails(type="Account", uid=where.account, region=region, cloud_partition="aws")
        )
    return out


def cloud_of(where: Where) -> Cloud | None:
    """The AWS account and region, for alerts that name them (CloudTrail)."""
    if not where.account and not where.region:
        return None
    account = (
        Account(name=where.account, uid=where.account, type_id=AccountTypeID.AWS_Account)
        if where.account
        else None
    )
    return Cloud(provider="AWS", region=where.region or None, account=account)


def to_ocsf(alert: DeliveryAlert, fingerprint: str | None = None) -> dict[str, Any]:
    """The alert as an OCSF Detection Finding: a JSON-able dict, without empty attributes."""
    sev = severity(alert.priority)
    when = epoch_ms(event_time(alert))
    first = last = None
    repeat = alert.repeat
    if repeat is not None:
        start, end = parse_time(repeat.first_seen), parse_time(repeat.last_seen)
        first = epoch_ms(start) if start else None
        last = epoch_ms(end) if end else None
    attacks = attacks_of(alert)
    info = FindingInformation(
        uid=alert.uuid,
        title=alert.rule,
        desc=alert.message or None,
        analytic=Analytic(name=alert.rule, uid=alert.rule, type="Rule", type_id=ANALYTIC_TYPE_RULE),
        attacks=attacks or None,
        data_sources=[alert.source] if alert.source else None,
        first_seen_time=first,
        last_seen_time=last,
    )
    cloud = cloud_of(alert.where)
    metadata = Metadata(
        product=Product(name=PRODUCT, vendor_name=PRODUCT, version=_product_version()),
        version=OCSF_VERSION,
        uid=alert.uuid,
        correlation_uid=fingerprint or None,
        original_time=alert.time or None,
        profiles=["cloud"] if cloud is not None else None,
    )
    unmapped: dict[str, Any] = {
        "output_fields": alert.fields,
        "source": alert.source,
        "tags": list(alert.tags),
        "priority": str(alert.priority),
    }
    if alert.hostname:
        unmapped["hostname"] = alert.hostname
    finding = DetectionFinding(
        activity_id=ActivityID.Create,
        activity_name=ActivityID.Create.name,
        type_uid=DetectionFindingTypeID.Create,
        type_name=f"Detection Finding: {ActivityID.Create.name}",
        severity_id=SeverityID(sev.ocsf_id),
        severity=sev.ocsf_name,
        status_id=StatusID.New,
        status=StatusID.New.name,
        time=when,
        metadata=metadata,
        finding_info=info,
        message=alert.output or None,
        cloud=cloud,
        resources=resources_of(alert.where) or None,
        count=repeat.count if repeat is not None else None,
        start_time=first,
        end_time=last,
        duration=last - first if first is not None and last is not None else None,
        unmapped=unmapped,
    )
    doc: dict[str, Any] = finding.model_dump(mode="json", exclude_none=True)
    return doc


def to_ocsf_json(alert: DeliveryAlert, fingerprint: str | None = None) -> str:
    """``to_ocsf`` as one line of JSON."""
    return json.dumps(
        to_ocsf(alert, fingerprint), separators=(",", ":"), ensure_ascii=False, default=str
    )


def object_key(alert: DeliveryAlert, prefix: str = "ocsf/") -> str:
    """``{prefix}YYYY/MM/DD/HH/{uuid}.json``, by event time: a retry writes the same key."""
    when = event_time(alert).astimezone(UTC)
    name = _SAFE_KEY.sub("_", alert.uuid)[:200] or "alert"
    return f"{prefix}{when:%Y/%m/%d/%H}/{name}.json"


class OcsfS3Destination:
    """Each alert as one OCSF finding object in an S3 bucket (for a data lake to read)."""

    name = "ocsf"

    def __init__(self, s3: Callable[[], Any], bucket: str, prefix: str = "ocsf/") -> None:
        self._s3 = s3  # a boto3 S3 client, made when first needed
        self.bucket = bucket
        self.prefix = prefix

    def send(self, alert: DeliveryAlert, fingerprint: str) -> Answer:
        from deliver.aws_answer import AWS_ERRORS, answer_of_aws_error, ok_answer

        key = object_key(alert, self.prefix)
        body = to_ocsf_json(alert, fingerprint).encode("utf-8")
        try:
            self._s3().put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
            )
        except AWS_ERRORS as exc:
            return answer_of_aws_error(exc)
        return ok_answer(f"s3://{self.bucket}/{key}")

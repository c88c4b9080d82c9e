"""The ``aws_cloudtrail`` source: one CloudTrail record per event.

A document is one decoded element of a log file's ``Records`` array. The
fields are those of Falco's cloudtrail plugin (``ct.*``, ``s3.*``, ``ec2.*``,
``ecr.*``, ``iam.*``) plus the JSON extractor plugin's ``json.*``/``jevt.*``
fields, which Falco's own CloudTrail rules use for anything the plugin does
not name.

Value conventions, shared with the other JSON sources: a JSON string is
returned as is; a number, boolean, object or array read by a string field is
its JSON text (``jsonptr.render``), so ``json.value[/x/BlockPublicAcls]``
compares equal to ``false``; a missing key, a JSON ``null`` or a path through
a non-object is no value (None). Extractors never raise on odd documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lanner.event import Event
from lanner.fields import Extractor, FieldDef, FieldRegistry, FieldType, Source, simple
from lanner.sources.generic import generic_fields
from lanner.sources.json_source import json_plugin_fields, parse_rfc3339
from lanner.sources.jsonptr import as_text, lookup, string_at, top_string

_AMAZONAWS = ".amazonaws.com"

# The plugin guesses ``ct.readonly`` from the event name when a record has
# no ``readOnly`` key: these verbs change state, anything else only reads.
_WRITE_PREFIXES = (
    "Start",
    "Stop",
    "Create",
    "Destroy",
    "Delete",
    "Add",
    "Remove",
    "Terminate",
    "Put",
    "Associate",
    "Disassociate",
    "Attach",
    "Detach",
    "Open",
    "Close",
    "Wipe",
    "Update",
    "Upgrade",
    "Unlink",
    "Assign",
    "Unassign",
    "Suspend",
    "Set",
    "Run",
    "Register",
    "Deregister",
    "Reboot",
    "Purchase",
    "Modify",
    "Initialize",
    "Enable",
    "Disable",
    "Cancel",
    "Admin",
    "Activate",
)

_PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "BlockPublicPolicy",
    "IgnorePublicAcls",
    "RestrictPublicBuckets",
)


# --------------------------------------------------------------------------
# Plain reads


def _str(v: Any) -> str | None:
    """Only a JSON string counts (the plugin's ``GetStringBytes``)."""
    return v if type(v) is str else None


def _get(doc: Any, key: str) -> Any:
    return doc.get(key) if type(doc) is dict else None


def _at(*keys: str) -> Extractor:
    """A string field read at a fixed path of the record."""
    return string_at(keys)


# --------------------------------------------------------------------------
# Identity


def _user(doc: Any) -> str | None:
    """``ct.user``: the name the plugin shows for ``userIdentity``.

    Root and IAM users show their user name, an AWS service the service that
    made the call (``invokedBy``), an assumed role the name of the role it
    was issued from; AWS accounts and federated users show their type only.
    Any other identity type has no user.
    """
    ident = _get(doc, "userIdentity")
    if type(ident) is not dict:
        return None
    utype = ident.get("type")
    if utype == "IAMUser" or utype == "Root":
        return as_text(ident.get("userName"))
    if utype == "AssumedRole":
        name = as_text(lookup(ident.get("sessionContext"), ("sessionIssuer", "userName")))
        return "AssumedRole" if name is None else name
    if utype == "AWSService":
        return as_text(ident.get("invokedBy"))
    if utype == "AWSAccount" or utype == "FederatedUser":
        return utype
    return None


def _originaluser(doc: Any) -> str | None:
    """``ct.originaluser``: the session name for an assumed role, else the user name."""
    ident = _get(doc, "userIdentity")
    if type(ident) is not dict:
        return None
    if ident.get("type") != "AssumedRole":
        return as_text(ident.get("userName"))
    arn = ident.get("arn")
    if type(arn) is str:
        parts = arn.split("/")
        if len(parts) == 3:
            return parts[2]
    pid = ident.get("principalId")
    if type(pid) is str:
        parts = pid.split(":")
        if len(parts) == 2:
            return parts[1]
    return None


def _accountid(doc: Any) -> str | None:
    v = lookup(doc, ("userIdentity", "accountId"))
    if v is None:
        v = _get(doc, "recipientAccountId")
    return as_text(v)


# --------------------------------------------------------------------------
# Derived ct.* values


def _shortsrc(doc: Any) -> str | None:
    src = as_text(_get(doc, "eventSource"))
    # As the plugin: the bare suffix itself is left alone.
    if src is not None and len(src) > len(_AMAZONAWS) and src.endswith(_AMAZONAWS):
        return src[: -len(_AMAZONAWS)]
    return src


def _readonly(doc: Any) -> str | None:
    ro = _get(doc, "readOnly")
    if ro is None:
        name = _get(doc, "eventName")
        if type(name) is not str:
            return None
        return "false" if name.startswith(_WRITE_PREFIXES) else "true"
    return "true" if ro is True else "false"


def _bool_text(key: str) -> Callable[[Any], str | None]:
    """A boolean record key as the plugin's ``"true"``/``"false"`` string.

    The string ``"true"`` counts as true too: CloudTrail writes
    ``sessionCredentialFromConsole`` as a string.
    """

    def read(doc: Any) -> str | None:
        v = _get(doc, key)
        if v is None:
            return None
        return "true" if v is True or v == "true" else "false"

    return read


def _resources(doc: Any) -> str | None:
    """Each element of ``resources`` as compact JSON, joined by commas."""
    res = _get(doc, "resources")
    if type(res) is not list or not res:
        return None
    parts = [as_text(r) for r in res]
    joined = ",".join(p for p in parts if p is not None)
    return joined or None


# --------------------------------------------------------------------------
# s3.*


def _u64(v: Any) -> int:
    """A byte count: integral or float numbers truncate, anything else is 0."""
    if type(v) is int:
        return v if v > 0 else 0
    if type(v) is float:
        return int(v) if v > 0 and v != float("inf") else 0
    return 0


def _s3_bytes(doc: Any) -> int | None:
    extra = _get(doc, "additionalEventData")
    if type(extra) is not dict:
        return None
    bin_ = extra.get("bytesTransferredIn")
    bout = extra.get("bytesTransferredOut")
    if bin_ is None and bout is None:
        return None
    return _u64(bin_) + _u64(bout)


def _s3_bytes_key(key: str) -> Callable[[Any], int | None]:
    def read(doc: Any) -> int | None:
        v = lookup(doc, ("additionalEventData", key))
        return None if v is None else _u64(v)

    return read


def _s3_uri(doc: Any) -> str | None:
    bucket = _str(lookup(doc, ("requestParameters", "bucketName")))
    key = _str(lookup(doc, ("requestParameters", "key")))
    if bucket is None or key is None:
        return None
    return f"s3://{bucket}/{key}"


def _name_is(event_name: str) -> Callable[[Any], int | None]:
    def read(doc: Any) -> int | None:
        return 1 if _get(doc, "eventName") == event_name else None

    return read


def _s3_cnt_other(doc: Any) -> int | None:
    return None if _get(doc, "eventName") in ("GetObject", "PutObject") else 1


# --------------------------------------------------------------------------
# ec2.*


def _ec2_name(doc: Any) -> str | None:
    """The ``Name`` tag requested for the instances (the plugin: the last
    ``instance`` tag set that has one wins; an empty name is no name)."""
    items = lookup(doc, ("requestParameters", "tagSpecificationSet", "items"))
    if type(items) is not list:
        return None
    name: str | None = None
    for item in items:
        if type(item) is not dict or item.get("resourceType") != "instance":
            continue
        tags = item.get("tags")
        if type(tags) is not list:
            continue
        for tag in tags:
            if type(tag) is dict and tag.get("key") == "Name":
                name = _str(tag.get("value")) or ""
                break
    return name or None


def _ec2_imageid(doc: Any) -> str | None:
    # The plugin reads the image id from the response's tag specifications,
    # not from instancesSet; kept as is so rules behave the same.
    items = lookup(doc, ("responseElements", "tagSpecificationSet", "items"))
    if type(items) is not list or not items or type(items[0]) is not dict:
        return None
    return _str(items[0].get("imageId")) or None


# --------------------------------------------------------------------------
# ct.info and the event's one-line rendering


def _info(doc: Any) -> str | None:
    """``ct.info``: who, from where, read or write, what, and a detail.

    ``alice via 203.0.113.7 !→ PutBucketPolicy Bucket=logs``: ``!`` marks an
    error, ``←`` a read and ``→`` a write; the detail is the S3 size and
    object, the bucket, the key or the host, the first one the record has.
    """
    if type(doc) is not dict:
        return None
    name = _str(doc.get("eventName"))
    if name is None:
        return "<invalid cloudtrail event: eventName missing>"
    user = _user(doc)
    srcip = as_text(doc.get("sourceIPAddress"))
    err = "!" if doc.get("errorCode") is not None else ""
    rw = "→" if _readonly(doc) == "false" else "←"
    # A service calling on its own behalf is both the user and the source.
    who = user if user is not None and user == srcip else f"{user or '<NA>'} via {srcip or '<NA>'}"
    info = f"{who} {err}{rw} {name}"

    if name == "PutBucketPublicAccessBlock":
        cfg = lookup(doc, ("requestParameters", "PublicAccessBlockConfiguration"))
        if type(cfg) is dict:
            flags = " ".join(
                f"{k}={'true' if cfg.get(k) is True else 'false'}" for k in _PUBLIC_ACCESS_FLAGS
            )
            info = f"{info} {flags}"
        return info

    size = _s3_bytes(doc)
    if size is not None:
        info = f"{info} Size={size}"
    uri = _s3_uri(doc)
    if uri is not None:
        return f"{info} URI={uri}"
    for label, key in (("Bucket", "bucketName"), ("Key", "key"), ("Host", "Host")):
        v = _str(lookup(doc, ("requestParameters", key)))
        if v is not None:
            return f"{info} {label}={v}"
    return info


def plugin_info(doc: Any) -> str | None:
    """The event's one-line rendering (``evt.plugininfo``):
    region, short service name, then ``ct.info``."""
    info = _info(doc)
    if info is None:
        return None
    head = [p for p in (as_text(doc.get("awsRegion")), _shortsrc(doc)) if p]
    return " ".join([*head, info])


# --------------------------------------------------------------------------
# Time


def event_time(doc: Any) -> int | None:
    """``eventTime`` (RFC 3339, e.g. ``2026-11-28T10:00:00Z``) in ns since
    the epoch, or None when it is missing or not a valid time."""
    text = _get(doc, "eventTime")
    return parse_rfc3339(text) if type(text) is str else None


# --------------------------------------------------------------------------
# The registry


def _doc(fn: Callable[[Any], Any]) -> Extractor:
    """An extractor reading only the document."""

    def extract(ev: Event) -> Any:
        return fn(ev.doc)

    return extract


_S = FieldType.STRING
_U = FieldType.UINT
_HIDDEN = ("hidden",)

# (name, source path in the record, description)
_PATH_FIELDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("ct.id", ("eventID",), "Unique ID CloudTrail gave the event (eventID)."),
    (
        "ct.error",
        ("errorCode",),
        "Error code of a failed request (errorCode); no value on success.",
    ),
    (
        "ct.errormessage",
        ("errorMessage",),
        "Error message of a failed request (errorMessage); no value on success.",
    ),
    ("ct.time", ("eventTime",), "Event time as written in the record (eventTime)."),
    (
        "ct.src",
        ("eventSource",),
        "Service the request was made to (eventSource), e.g. s3.amazonaws.com.",
    ),
)


def _fields() -> list[FieldDef]:
    s, u = _S, _U
    at = _at
    rows: list[FieldDef] = [simple(name, s, desc, at(*path)) for name, path, desc in _PATH_FIELDS]
    rows += [
        simple(
            "ct.shortsrc",
            s,
            "Service the request was made to, without the '.amazonaws.com' suffix (e.g. s3).",
            _doc(_shortsrc),
        ),
        simple(
            "ct.name",
            s,
            "Name of the API call or action (eventName), e.g. CreateUser.",
            at("eventName"),
        ),
        simple(
            "ct.user",
            s,
            "Who made the request: the user name for Root and IAMUser identities, the issuing "
            "role's name for AssumedRole (or 'AssumedRole'), the calling service for AWSService, "
            "'AWSAccount' or 'FederatedUser' for those types; no value otherwise.",
            _doc(_user),
            flags=("conversation",),
        ),
        simple(
            "ct.originaluser",
            s,
            "The caller's own name: the session name of an assumed role (from its ARN or "
            "principal ID), the user name for the other identity types.",
            _doc(_originaluser),
        ),
        simple(
            "ct.user.accountid",
            s,
            "Account ID of the caller (userIdentity.accountId, else recipientAccountId).",
            _doc(_accountid),
        ),
        simple(
            "ct.user.identitytype",
            s,
            "Kind of identity that made the request (userIdentity.type): Root, IAMUser, "
            "AssumedRole, AWSService, FederatedUser, AWSAccount...",
            at("userIdentity", "type"),
        ),
        simple(
            "ct.user.principalid",
            s,
            "Unique identifier of the calling principal (userIdentity.principalId).",
            at("userIdentity", "principalId"),
        ),
        simple(
            "ct.user.arn",
            s,
            "ARN of the calling principal (userIdentity.arn).",
            at("userIdentity", "arn"),
        ),
        simple("ct.region", s, "AWS region the request was made in (awsRegion).", at("awsRegion")),
        simple(
            "ct.response.subnetid",
            s,
            "Subnet ID in the response (responseElements.subnetId).",
            at("responseElements", "subnetId"),
        ),
        simple(
            "ct.response.reservationid",
            s,
            "Reservation ID in the response (responseElements.reservationId).",
            at("responseElements", "reservationId"),
        ),
        simple(
            "ct.response",
            s,
            "The whole responseElements object, as compact JSON.",
            at("responseElements"),
        ),
    ]
    request_keys = (
        ("availabilityzone", "availabilityZone", "Availability zone named in the request"),
        ("cluster", "cluster", "Cluster named in the request (ECS)"),
        ("functionname", "functionName", "Function named in the request (Lambda)"),
        ("groupname", "groupName", "Group named in the request (IAM)"),
        ("host", "Host", "Host named in the request (S3 virtual-host requests)"),
        ("name", "name", "Name of the resource the request acts on, e.g. a trail"),
        ("policy", "policy", "Policy carried by the request"),
        ("reason", "reason", "Reason given in the request"),
        ("target", "target", "Target named in the request, e.g. an SSM session's instance"),
        ("documentname", "documentName", "Document named in the request (SSM)"),
        ("serialnumber", "serialNumber", "Serial number in the request, e.g. of an MFA device"),
        ("servicename", "serviceName", "Service named in the request (ECS)"),
        ("subnetid", "subnetId", "Subnet ID in the request"),
        ("taskdefinition", "taskDefinition", "Task definition named in the request (ECS)"),
        ("username", "userName", "User name in the request, e.g. the user being created"),
    )
    rows += [
        simple(
            f"ct.request.{suffix}",
            s,
            f"{desc} (requestParameters.{key}).",
            at("requestParameters", key),
        )
        for suffix, key, desc in request_keys
    ]
    rows += [
        simple(
            "ct.request",
            s,
            "The whole requestParameters object, as compact JSON.",
            at("requestParameters"),
        ),
        simple(
            "ct.srcip",
            s,
            "Where the request came from (sourceIPAddress): an IP address, or a service name "
            "such as ec2.amazonaws.com or 'AWS Internal'.",
            at("sourceIPAddress"),
            flags=("conversation",),
        ),
        simple("ct.useragent", s, "User agent of the request (userAgent).", at("userAgent")),
        simple(
            "ct.info",
            s,
            "One-line summary: user, source, '!' on error, '←' read or '→' write, event name, "
            "and an event-specific detail (S3 size and object, bucket, key or host).",
            _doc(_info),
            flags=("info",),
        ),
        simple(
            "ct.managementevent",
            s,
            "'true' for a management event, 'false' for a data event (managementEvent).",
            _doc(_bool_text("managementEvent")),
        ),
        simple(
            "ct.readonly",
            s,
            "'true' if the call only reads state, 'false' if it changes it (readOnly; guessed "
            "from the event name's verb when the record lacks it).",
            _doc(_readonly),
        ),
        simple("ct.requestid", s, "ID of the request (requestID).", at("requestID")),
        simple(
            "ct.eventtype",
            s,
            "Kind of record (eventType): AwsApiCall, AwsServiceEvent, AwsConsoleSignIn...",
            at("eventType"),
        ),
        simple(
            "ct.apiversion",
            s,
            "API version of an AwsApiCall (apiVersion).",
            at("apiVersion"),
        ),
        simple(
            "ct.resources",
            s,
            "The resources the event accessed (resources), each as compact JSON, comma-separated.",
            _doc(_resources),
        ),
        simple(
            "ct.recipientaccountid",
            s,
            "Account ID that received the event (recipientAccountId).",
            at("recipientAccountId"),
        ),
        simple(
            "ct.serviceeventdetails",
            s,
            "What triggered a service event and its result (serviceEventDetails), as JSON.",
            at("serviceEventDetails"),
        ),
        simple(
            "ct.sharedeventid",
            s,
            "ID shared by the copies of one event delivered to several accounts (sharedEventID).",
            at("sharedEventID"),
        ),
        simple(
            "ct.vpcendpointid",
            s,
            "VPC endpoint the request went through (vpcEndpointId).",
            at("vpcEndpointId"),
        ),
        simple(
            "ct.eventcategory",
            s,
            "Event category (eventCategory): Management, Data or Insight.",
            at("eventCategory"),
        ),
        simple(
            "ct.addendum.reason",
            s,
            "Why the event was delivered late or amended (addendum.reason).",
            at("addendum", "reason"),
        ),
        simple(
            "ct.addendum.updatedfields",
            s,
            "Record fields an addendum changed (addendum.updatedFields).",
            at("addendum", "updatedFields"),
        ),
        simple(
            "ct.addendum.originalrequestid",
            s,
            "Request ID of the original event an addendum amends (addendum.originalRequestID).",
            at("addendum", "originalRequestID"),
        ),
        simple(
            "ct.addendum.originaleventid",
            s,
            "Event ID of the original event an addendum amends (addendum.originalEventID).",
            at("addendum", "originalEventID"),
        ),
        simple(
            "ct.sessioncredentialfromconsole",
            s,
            "'true' if the call used credentials of an AWS Management Console session "
            "(sessionCredentialFromConsole).",
            _doc(_bool_text("sessionCredentialFromConsole")),
        ),
        simple(
            "ct.edgedevicedetails",
            s,
            "Edge devices the request targets (edgeDeviceDetails), as JSON.",
            at("edgeDeviceDetails"),
        ),
        simple(
            "ct.tlsdetails.tlsversion",
            s,
            "TLS version of the request (tlsDetails.tlsVersion).",
            at("tlsDetails", "tlsVersion"),
        ),
        simple(
            "ct.tlsdetails.ciphersuite",
            s,
            "TLS cipher suite of the request (tlsDetails.cipherSuite).",
            at("tlsDetails", "cipherSuite"),
        ),
        simple(
            "ct.tlsdetails.clientprovidedhostheader",
            s,
            "Host name the client sent to the service endpoint "
            "(tlsDetails.clientProvidedHostHeader).",
            at("tlsDetails", "clientProvidedHostHeader"),
        ),
        simple(
            "ct.additionaleventdata",
            s,
            "The whole additionalEventData object, as compact JSON.",
            at("additionalEventData"),
        ),
        # s3.*
        simple(
            "s3.uri",
            s,
            "S3 object of the request as s3://BUCKET/KEY (needs both bucketName and key).",
            _doc(_s3_uri),
            flags=("conversation",),
        ),
        simple(
            "s3.bucket",
            s,
            "Bucket named in the request (requestParameters.bucketName).",
            at("requestParameters", "bucketName"),
            flags=("conversation",),
        ),
        simple(
            "s3.key",
            s,
            "Object key named in the request (requestParameters.key).",
            at("requestParameters", "key"),
        ),
        simple(
            "s3.bytes",
            u,
            "Bytes uploaded plus bytes downloaded (additionalEventData.bytesTransferredIn/Out).",
            _doc(_s3_bytes),
        ),
        simple(
            "s3.bytes.in",
            u,
            "Bytes uploaded (additionalEventData.bytesTransferredIn).",
            _doc(_s3_bytes_key("bytesTransferredIn")),
            flags=_HIDDEN,
        ),
        simple(
            "s3.bytes.out",
            u,
            "Bytes downloaded (additionalEventData.bytesTransferredOut).",
            _doc(_s3_bytes_key("bytesTransferredOut")),
            flags=_HIDDEN,
        ),
        simple(
            "s3.cnt.get",
            u,
            "1 for a GetObject event; no value for any other event.",
            _doc(_name_is("GetObject")),
            flags=_HIDDEN,
        ),
        simple(
            "s3.cnt.put",
            u,
            "1 for a PutObject event; no value for any other event.",
            _doc(_name_is("PutObject")),
            flags=_HIDDEN,
        ),
        simple(
            "s3.cnt.other",
            u,
            "1 for any event but GetObject and PutObject; no value for those two.",
            _doc(_s3_cnt_other),
            flags=_HIDDEN,
        ),
        # ec2.*
        simple(
            "ec2.name",
            s,
            "Name tag requested for new instances (requestParameters.tagSpecificationSet).",
            _doc(_ec2_name),
        ),
        simple(
            "ec2.imageid",
            s,
            "Image ID from the first tag specification item of the response "
            "(responseElements.tagSpecificationSet.items[0].imageId).",
            _doc(_ec2_imageid),
        ),
        # ecr.*, iam.*
        simple(
            "ecr.repository",
            s,
            "ECR repository named in the request (requestParameters.repositoryName).",
            at("requestParameters", "repositoryName"),
        ),
        simple(
            "ecr.imagetag",
            s,
            "Image tag named in the request (requestParameters.imageTag).",
            at("requestParameters", "imageTag"),
        ),
        simple(
            "iam.role",
            s,
            "IAM role named in the request (requestParameters.roleName).",
            at("requestParameters", "roleName"),
        ),
        simple(
            "iam.policy",
            s,
            "IAM policy named in the request (requestParameters.policyName).",
            at("requestParameters", "policyName"),
        ),
    ]

    rows += json_plugin_fields("record")
    return rows


def cloudtrail_source() -> Source:
    """The ``aws_cloudtrail`` source: Falco's cloudtrail plugin fields over
    decoded CloudTrail records, rules pre-selected by ``ct.name``."""
    generic = generic_fields()
    return Source(
        name="aws_cloudtrail",
        fields=FieldRegistry([*generic, *_fields()]),
        index_fields=("ct.name",),
        event_time=event_time,
        info=plugin_info,
        event_id=top_string("eventID"),
        description="AWS CloudTrail records (one element of a log file's Records array).",
    )

"""The aws_cloudtrail source: field registry and extraction over CloudTrail records."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lanner.errors import FieldArgumentError
from lanner.event import Event
from lanner.fields import Arg, FieldType
from lanner.sources.aws_cloudtrail import cloudtrail_source, event_time

SRC = cloudtrail_source()
RULES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "falco" / "aws_cloudtrail_rules.yaml"


def x(doc: Any, name: str, arg: str | None = None) -> Any:
    """Extract ``name[arg]`` from ``doc`` as the engine would."""
    field = SRC.fields.get(name)
    assert field is not None, f"no field {name}"
    return field.extractor(arg)(Event(doc, SRC))


# --------------------------------------------------------------------------
# Records

CONSOLE_LOGIN_NO_MFA: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEALICE0001",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "userName": "alice",
    },
    "eventTime": "2026-11-28T10:00:00Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home",
        "MobileVersion": "No",
        "MFAUsed": "No",
    },
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0001",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": "signin.aws.amazon.com",
    },
}

CONSOLE_LOGIN_MFA = copy.deepcopy(CONSOLE_LOGIN_NO_MFA)
CONSOLE_LOGIN_MFA["additionalEventData"]["MFAUsed"] = "Yes"
CONSOLE_LOGIN_MFA["additionalEventData"]["MFAIdentifier"] = "arn:aws:iam::111122223333:mfa/alice"

CONSOLE_LOGIN_ASSUMED_ROLE: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEADMIN0001:bob@example.com",
        "arn": "arn:aws:sts::111122223333:assumed-role/AdminAccess/bob@example.com",
        "accountId": "111122223333",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEADMIN0001",
                "arn": "arn:aws:iam::111122223333:role/AdminAccess",
                "accountId": "111122223333",
                "userName": "AdminAccess",
            },
            "attributes": {"creationDate": "2026-11-28T09:58:00Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2026-11-28T10:01:30Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.23",
    "userAgent": "Mozilla/5.0",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0002",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
}

ASSUME_ROLE: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "AWSService",
        "invokedBy": "ec2.amazonaws.com",
    },
    "eventTime": "2026-11-28T10:02:00Z",
    "eventSource": "sts.amazonaws.com",
    "eventName": "AssumeRole",
    "awsRegion": "eu-west-1",
    "sourceIPAddress": "ec2.amazonaws.com",
    "userAgent": "ec2.amazonaws.com",
    "requestParameters": {
        "roleArn": "arn:aws:iam::111122223333:role/web-instance-role",
        "roleSessionName": "i-0abc1234def567890",
        "durationSeconds": 3600,
    },
    "responseElements": {
        "credentials": {
            "accessKeyId": "ASIAEXAMPLE000000001",
            "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE",
            "expiration": "Nov 28, 2026, 11:02:00 AM",
        }
    },
    "requestID": "9d0b1f2e-0000-4000-8000-000000000003",
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0003",
    "readOnly": True,
    "resources": [
        {
            "accountId": "111122223333",
            "type": "AWS::IAM::Role",
            "ARN": "arn:aws:iam::111122223333:role/web-instance-role",
        }
    ],
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "sharedEventID": "1c5b0b6e-0000-4c1f-8c33-000000000003",
    "eventCategory": "Management",
}

CREATE_ACCESS_KEY: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEALICE0001",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLE000000001",
        "userName": "alice",
    },
    "eventTime": "2026-11-28T10:03:00Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateAccessKey",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22",
    "requestParameters": {"userName": "ci-deployer"},
    "responseElements": {
        "accessKey": {
            "userName": "ci-deployer",
            "accessKeyId": "AKIAEXAMPLE000000002",
            "status": "Active",
            "createDate": "Nov 28, 2026 10:03:00 AM",
        }
    },
    "requestID": "9d0b1f2e-0000-4000-8000-000000000004",
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0004",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
}

PUT_BUCKET_POLICY: dict[str, Any] = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEDEPLOY001:terraform",
        "arn": "arn:aws:sts::111122223333:assumed-role/Deployer/terraform",
        "accountId": "111122223333",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEDEPLOY001",
                "arn": "arn:aws:iam::111122223333:role/Deployer",
                "accountId": "111122223333",
                "userName": "Deployer",
            }
        },
    },
    "eventTime": "2026-11-28T10:04:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "PutBucketPolicy",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.50",
    "userAgent": "[APN/1.0 HashiCorp/1.0 Terraform/1.6.6]",
    "requestParameters": {
        "bucketPolicy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::public-assets/*",
                }
            ],
        },
        "bucketName": "public-assets",
        "Host": "public-assets.s3.amazonaws.com",
        "policy": [""],
    },
    "responseElements": None,
    "additionalEventData": {
        "SignatureVersion": "SigV4",
        "bytesTransferredIn": 0,
        "bytesTransferredOut": 0,
    },
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0005",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "vpcEndpointId": "vpce-0a1b2c3d4e5f60718",
    "eventCategory": "Management",
}

PUT_PUBLIC_ACCESS_BLOCK: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEALICE0001",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "userName": "alice",
    },
    "eventTime": "2026-11-28T10:05:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "PutBucketPublicAccessBlock",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "[aws-cli/2.15.0]",
    "requestParameters": {
        "publicAccessBlock": "",
        "bucketName": "public-assets",
        "PublicAccessBlockConfiguration": {
            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
            "RestrictPublicBuckets": False,
            "BlockPublicPolicy": False,
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
        },
        "Host": "public-assets.s3.amazonaws.com",
    },
    "responseElements": None,
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0006",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
}

RUN_INSTANCES: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEALICE0001",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "userName": "alice",
    },
    "eventTime": "2026-11-28T10:06:00Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "RunInstances",
    "awsRegion": "ap-southeast-2",
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "aws-cli/2.15.0",
    "requestParameters": {
        "instancesSet": {"items": [{"imageId": "ami-0123456789abcdef0", "minCount": 1}]},
        "instanceType": "p4d.24xlarge",
        "availabilityZone": "ap-southeast-2a",
        "subnetId": "subnet-0aa11bb22cc33dd44",
        "tagSpecificationSet": {
            "items": [
                {"resourceType": "volume", "tags": [{"key": "Name", "value": "miner-disk"}]},
                {
                    "resourceType": "instance",
                    "tags": [
                        {"key": "team", "value": "research"},
                        {"key": "Name", "value": "gpu-miner-1"},
                    ],
                },
            ]
        },
    },
    "responseElements": {
        "requestId": "e1c2a3b4-0000-4000-8000-000000000007",
        "reservationId": "r-0fedcba9876543210",
        "ownerId": "111122223333",
        "groupSet": {},
        "instancesSet": {
            "items": [
                {
                    "instanceId": "i-0abc1234def567890",
                    "imageId": "ami-0123456789abcdef0",
                    "subnetId": "subnet-0aa11bb22cc33dd44",
                    "instanceState": {"code": 0, "name": "pending"},
                }
            ]
        },
        "subnetId": "subnet-0aa11bb22cc33dd44",
        "tagSpecificationSet": {
            "items": [{"imageId": "ami-0123456789abcdef0", "resourceType": "instance"}]
        },
    },
    "requestID": "e1c2a3b4-0000-4000-8000-000000000007",
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0007",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
}

STOP_LOGGING: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEADMIN0001:mallory",
        "arn": "arn:aws:sts::111122223333:assumed-role/AdminAccess/mallory",
        "accountId": "111122223333",
        "sessionContext": {"attributes": {"mfaAuthenticated": "false"}},
    },
    "eventTime": "2026-11-28T10:07:00.123456Z",
    "eventSource": "cloudtrail.amazonaws.com",
    "eventName": "StopLogging",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "192.0.2.99",
    "userAgent": "aws-cli/2.15.0",
    "requestParameters": {"name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail"},
    "responseElements": None,
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0008",
    "eventType": "AwsApiCall",
    "recipientAccountId": "111122223333",
    "sessionCredentialFromConsole": "true",
}

ROOT_DEACTIVATE_MFA: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "Root",
        "principalId": "111122223333",
        "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLEROOT00001",
        "userName": "example-org",
    },
    "eventTime": "2026-11-28T10:08:00Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "DeactivateMFADevice",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.200",
    "userAgent": "AWS Internal",
    "requestParameters": {
        "userName": "AWS ROOT USER",
        "serialNumber": "arn:aws:iam::111122223333:mfa/root-account-mfa-device",
    },
    "responseElements": None,
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0009",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
}

ACCESS_DENIED: dict[str, Any] = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEEVE000001",
        "arn": "arn:aws:iam::111122223333:user/eve",
        "accountId": "111122223333",
        "userName": "eve",
    },
    "eventTime": "2026-11-28T10:09:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "192.0.2.66",
    "userAgent": "curl/8.4.0",
    "errorCode": "AccessDenied",
    "errorMessage": "Access Denied",
    "requestParameters": {"bucketName": "payroll", "key": "2026/11/salaries.csv"},
    "responseElements": None,
    "additionalEventData": {"bytesTransferredIn": 0, "bytesTransferredOut": 243.0},
    "eventID": "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0010",
    "readOnly": True,
    "resources": [
        {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::payroll/2026/11/salaries.csv"},
        {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::payroll"},
    ],
    "eventType": "AwsApiCall",
    "managementEvent": False,
    "eventCategory": "Data",
}


# --------------------------------------------------------------------------
# Registry


def test_source_shape() -> None:
    assert SRC.name == "aws_cloudtrail"
    assert SRC.index_fields == ("ct.name",)
    assert SRC.fields_checked
    assert SRC.hostname(CONSOLE_LOGIN_NO_MFA) is None


def test_every_field_has_a_description() -> None:
    missing = [f.name for f in SRC.fields if not f.desc.strip()]
    assert missing == []


def test_registry_includes_generic_and_plugin_families() -> None:
    for name in ("evt.time", "evt.num", "ct.name", "s3.bucket", "ec2.name", "json.value"):
        assert name in SRC.fields
    assert SRC.fields.get("s3.bytes").type is FieldType.UINT  # type: ignore[union-attr]
    assert SRC.fields.get("ct.user").type is FieldType.STRING  # type: ignore[union-attr]
    assert SRC.fields.get("json.value").arg is Arg.KEY  # type: ignore[union-attr]
    assert not any(f.is_list for f in SRC.fields)


_QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
_COND_FIELD = re.compile(r"\b((?:ct|s3|ec2|ecr|iam|json|jevt|evt)\.[A-Za-z0-9_.]*[A-Za-z0-9_])")
_OUT_FIELD = re.compile(r"%([A-Za-z0-9_]+\.[A-Za-z0-9_.]*[A-Za-z0-9_])")


@pytest.mark.skipif(not RULES.exists(), reason="upstream rule corpus not available")
def test_every_field_of_the_upstream_rules_exists() -> None:
    items = yaml.safe_load(RULES.read_text())
    used: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        for key in ("condition", "output"):
            text = item.get(key)
            if not isinstance(text, str):
                continue
            used.update(_OUT_FIELD.findall(text))
            used.update(_COND_FIELD.findall(_QUOTED.sub('""', text)))
    assert {"ct.name", "ct.request.username", "json.value", "s3.bucket"} <= used
    assert sorted(u for u in used if u not in SRC.fields) == []


# --------------------------------------------------------------------------
# Identity


def test_iam_user_identity() -> None:
    d = CREATE_ACCESS_KEY
    assert x(d, "ct.user") == "alice"
    assert x(d, "ct.originaluser") == "alice"
    assert x(d, "ct.user.identitytype") == "IAMUser"
    assert x(d, "ct.user.arn") == "arn:aws:iam::111122223333:user/alice"
    assert x(d, "ct.user.principalid") == "AIDAEXAMPLEALICE0001"
    assert x(d, "ct.user.accountid") == "111122223333"
    assert x(d, "ct.request.username") == "ci-deployer"
    assert x(d, "ct.name") == "CreateAccessKey"
    assert x(d, "ct.readonly") == "false"


def test_assumed_role_user_is_the_issuing_role() -> None:
    d = CONSOLE_LOGIN_ASSUMED_ROLE
    assert x(d, "ct.user") == "AdminAccess"
    assert x(d, "ct.originaluser") == "bob@example.com"
    assert x(d, "ct.user.identitytype") == "AssumedRole"
    assert x(d, "ct.user.arn") == (
        "arn:aws:sts::111122223333:assumed-role/AdminAccess/bob@example.com"
    )
    assert x(d, "ct.user.principalid") == "AROAEXAMPLEADMIN0001:bob@example.com"


def test_assumed_role_without_session_issuer() -> None:
    assert x(STOP_LOGGING, "ct.user") == "AssumedRole"
    assert x(STOP_LOGGING, "ct.originaluser") == "mallory"


def test_aws_service_user_is_the_invoking_service() -> None:
    assert x(ASSUME_ROLE, "ct.user") == "ec2.amazonaws.com"
    assert x(ASSUME_ROLE, "ct.user.identitytype") == "AWSService"
    assert x(ASSUME_ROLE, "ct.user.arn") is None
    # No accountId in the identity: the recipient account stands in.
    assert x(ASSUME_ROLE, "ct.user.accountid") == "111122223333"


def test_root_user() -> None:
    d = ROOT_DEACTIVATE_MFA
    assert x(d, "ct.user") == "example-org"
    assert x(d, "ct.user.identitytype") == "Root"
    assert x(d, "ct.request.username") == "AWS ROOT USER"
    assert x(d, "ct.request.serialnumber") == (
        "arn:aws:iam::111122223333:mfa/root-account-mfa-device"
    )
    assert x(d, "ct.user.accountid") == "111122223333"


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ({"type": "Root", "principalId": "111122223333"}, None),  # no userName
        ({"type": "AWSAccount", "principalId": "AIDAX", "accountId": "444455556666"}, "AWSAccount"),
        ({"type": "FederatedUser", "principalId": "111122223333:carol"}, "FederatedUser"),
        ({"type": "IdentityCenterUser", "userName": "dave"}, None),
        ({"principalId": "x"}, None),
        ("not an object", None),
    ],
)
def test_user_by_identity_type(identity: Any, expected: str | None) -> None:
    assert x({"userIdentity": identity, "eventName": "ListBuckets"}, "ct.user") == expected


# --------------------------------------------------------------------------
# Sources, names, flags


def test_src_and_shortsrc() -> None:
    assert x(PUT_BUCKET_POLICY, "ct.src") == "s3.amazonaws.com"
    assert x(PUT_BUCKET_POLICY, "ct.shortsrc") == "s3"
    assert x(STOP_LOGGING, "ct.shortsrc") == "cloudtrail"
    assert x({"eventSource": "example.com"}, "ct.shortsrc") == "example.com"
    # Only a real prefix is cut: the bare suffix stays.
    assert x({"eventSource": ".amazonaws.com"}, "ct.shortsrc") == ".amazonaws.com"
    assert x({}, "ct.shortsrc") is None


def test_srcip_useragent_region_id_time() -> None:
    d = CONSOLE_LOGIN_NO_MFA
    assert x(d, "ct.srcip") == "203.0.113.7"
    assert x(ASSUME_ROLE, "ct.srcip") == "ec2.amazonaws.com"
    assert x(d, "ct.useragent") == "Mozilla/5.0 (X11; Linux x86_64)"
    assert x(d, "ct.region") == "us-east-1"
    assert x(d, "ct.id") == "3fcfb1a4-0000-4c2e-9d1e-1d1b0e4c0001"
    assert x(d, "ct.time") == "2026-11-28T10:00:00Z"
    assert x(d, "ct.eventtype") == "AwsConsoleSignIn"
    assert x(d, "ct.eventcategory") == "Management"
    assert x(d, "ct.tlsdetails.tlsversion") == "TLSv1.3"
    assert x(d, "ct.tlsdetails.clientprovidedhostheader") == "signin.aws.amazon.com"
    assert x(ASSUME_ROLE, "ct.requestid") == "9d0b1f2e-0000-4000-8000-000000000003"
    assert x(ASSUME_ROLE, "ct.sharedeventid") == "1c5b0b6e-0000-4c1f-8c33-000000000003"
    assert x(PUT_BUCKET_POLICY, "ct.vpcendpointid") == "vpce-0a1b2c3d4e5f60718"


def test_error_fields() -> None:
    assert x(ACCESS_DENIED, "ct.error") == "AccessDenied"
    assert x(ACCESS_DENIED, "ct.errormessage") == "Access Denied"
    assert x(CREATE_ACCESS_KEY, "ct.error") is None
    assert x(CREATE_ACCESS_KEY, "ct.errormessage") is None


def test_readonly_and_managementevent() -> None:
    assert x(ASSUME_ROLE, "ct.readonly") == "true"
    assert x(RUN_INSTANCES, "ct.readonly") == "false"
    assert x(ACCESS_DENIED, "ct.managementevent") == "false"
    assert x(RUN_INSTANCES, "ct.managementevent") == "true"
    # StopLogging has neither key: read-only is guessed from the verb.
    assert x(STOP_LOGGING, "ct.readonly") == "false"
    assert x(STOP_LOGGING, "ct.managementevent") is None
    assert x({"eventName": "DescribeInstances"}, "ct.readonly") == "true"
    assert x({"eventName": "AttachRolePolicy"}, "ct.readonly") == "false"
    assert x({}, "ct.readonly") is None


def test_session_credential_from_console() -> None:
    # CloudTrail writes this one as a string.
    assert x(STOP_LOGGING, "ct.sessioncredentialfromconsole") == "true"
    assert x({"sessionCredentialFromConsole": True}, "ct.sessioncredentialfromconsole") == "true"
    assert x(RUN_INSTANCES, "ct.sessioncredentialfromconsole") is None


# --------------------------------------------------------------------------
# Request, response, additional data


def test_whole_objects_render_as_compact_json() -> None:
    assert x(CREATE_ACCESS_KEY, "ct.request") == '{"userName":"ci-deployer"}'
    assert json.loads(x(CREATE_ACCESS_KEY, "ct.response")) == CREATE_ACCESS_KEY["responseElements"]
    assert json.loads(x(CONSOLE_LOGIN_MFA, "ct.additionaleventdata"))["MFAUsed"] == "Yes"
    # A JSON null responseElements has no value.
    assert x(PUT_BUCKET_POLICY, "ct.response") is None
    assert x(CONSOLE_LOGIN_NO_MFA, "ct.request") is None


def test_non_string_values_of_string_fields_are_json_text() -> None:
    assert x(PUT_BUCKET_POLICY, "ct.request.policy") == '[""]'
    assert x({"requestParameters": {"name": 42}}, "ct.request.name") == "42"
    assert x({"requestParameters": {"name": True}}, "ct.request.name") == "true"
    assert x({"requestParameters": {"name": {"a": 1}}}, "ct.request.name") == '{"a":1}'
    assert x({"requestParameters": {"name": None}}, "ct.request.name") is None


def test_run_instances() -> None:
    d = RUN_INSTANCES
    assert x(d, "ct.request.availabilityzone") == "ap-southeast-2a"
    assert x(d, "ct.request.subnetid") == "subnet-0aa11bb22cc33dd44"
    assert x(d, "ct.response.subnetid") == "subnet-0aa11bb22cc33dd44"
    assert x(d, "ct.response.reservationid") == "r-0fedcba9876543210"
    assert x(d, "ec2.name") == "gpu-miner-1"
    assert x(d, "ec2.imageid") == "ami-0123456789abcdef0"
    assert x(d, "json.value", "/responseElements/instancesSet/items/0/instanceId") == (
        "i-0abc1234def567890"
    )
    assert x(d, "json.value", "/responseElements/instancesSet/items/1/instanceId") is None
    assert x(d, "json.value", "/responseElements/instancesSet/items/0/instanceState/code") == "0"


def test_ec2_fields_without_tags() -> None:
    d = copy.deepcopy(RUN_INSTANCES)
    del d["requestParameters"]["tagSpecificationSet"]
    del d["responseElements"]["tagSpecificationSet"]
    assert x(d, "ec2.name") is None
    # Like the plugin, the image id is only read from the response's tag specifications.
    assert x(d, "ec2.imageid") is None
    d["requestParameters"]["tagSpecificationSet"] = {
        "items": [{"resourceType": "instance", "tags": [{"key": "Name", "value": ""}]}]
    }
    assert x(d, "ec2.name") is None


def test_request_fields_used_by_the_upstream_rules() -> None:
    ecs = {
        "eventSource": "ecs.amazonaws.com",
        "eventName": "CreateService",
        "requestParameters": {
            "cluster": "prod",
            "serviceName": "api",
            "taskDefinition": "api:42",
        },
    }
    assert x(ecs, "ct.request.cluster") == "prod"
    assert x(ecs, "ct.request.servicename") == "api"
    assert x(ecs, "ct.request.taskdefinition") == "api:42"
    fn = {"requestParameters": {"functionName": "billing-export"}}
    assert x(fn, "ct.request.functionname") == "billing-export"
    assert x({"requestParameters": {"groupName": "admins"}}, "ct.request.groupname") == "admins"
    assert x(STOP_LOGGING, "ct.request.name") == (
        "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail"
    )
    assert x(PUT_BUCKET_POLICY, "ct.request.host") == "public-assets.s3.amazonaws.com"
    ecr = {"requestParameters": {"repositoryName": "web", "imageTag": "v1.2.3"}}
    assert x(ecr, "ecr.repository") == "web"
    assert x(ecr, "ecr.imagetag") == "v1.2.3"
    iam = {"requestParameters": {"roleName": "Deployer", "policyName": "inline-admin"}}
    assert x(iam, "iam.role") == "Deployer"
    assert x(iam, "iam.policy") == "inline-admin"


def test_resources() -> None:
    text = x(ACCESS_DENIED, "ct.resources")
    assert text == (
        '{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::payroll/2026/11/salaries.csv"},'
        '{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::payroll"}'
    )
    assert x({"resources": []}, "ct.resources") is None
    assert x(RUN_INSTANCES, "ct.resources") is None


# --------------------------------------------------------------------------
# S3


def test_s3_fields() -> None:
    d = ACCESS_DENIED
    assert x(d, "s3.bucket") == "payroll"
    assert x(d, "s3.key") == "2026/11/salaries.csv"
    assert x(d, "s3.uri") == "s3://payroll/2026/11/salaries.csv"
    assert x(d, "s3.bytes") == 243
    assert x(d, "s3.bytes.in") == 0
    assert x(d, "s3.bytes.out") == 243
    assert x(d, "s3.cnt.get") == 1
    assert x(d, "s3.cnt.put") is None
    assert x(d, "s3.cnt.other") is None


def test_s3_fields_of_a_bucket_call() -> None:
    d = PUT_BUCKET_POLICY
    assert x(d, "s3.bucket") == "public-assets"
    assert x(d, "s3.key") is None
    assert x(d, "s3.uri") is None
    assert x(d, "s3.bytes") == 0
    assert x(d, "s3.cnt.get") is None
    assert x(d, "s3.cnt.other") == 1
    assert x({"eventName": "PutObject"}, "s3.cnt.put") == 1
    assert x(CREATE_ACCESS_KEY, "s3.bytes") is None
    assert x(CREATE_ACCESS_KEY, "s3.bytes.out") is None


def test_public_access_block_values_compare_as_text() -> None:
    d = PUT_PUBLIC_ACCESS_BLOCK
    base = "/requestParameters/PublicAccessBlockConfiguration/"
    assert x(d, "json.value", "/requestParameters/publicAccessBlock") == ""
    assert x(d, "json.value", base + "RestrictPublicBuckets") == "false"
    assert x(d, "json.value", base + "BlockPublicAcls") == "true"
    assert x(d, "s3.bucket") == "public-assets"


# --------------------------------------------------------------------------
# json.*


def test_console_login_json_values() -> None:
    assert x(CONSOLE_LOGIN_NO_MFA, "json.value", "/responseElements/ConsoleLogin") == "Success"
    assert x(CONSOLE_LOGIN_NO_MFA, "json.value", "/additionalEventData/MFAUsed") == "No"
    assert x(CONSOLE_LOGIN_MFA, "json.value", "/additionalEventData/MFAUsed") == "Yes"
    assert x(CONSOLE_LOGIN_NO_MFA, "json.value", "/requestParameters") is None
    assert x(CONSOLE_LOGIN_NO_MFA, "jevt.value", "/eventName") == "ConsoleLogin"
    assert x(CONSOLE_LOGIN_NO_MFA, "json.value", "/userIdentity/type") == "IAMUser"


def test_json_value_pointer_escapes() -> None:
    doc = {"requestParameters": {"a/b": {"c~d": "yes"}}}
    assert x(doc, "json.value", "/requestParameters/a~1b/c~0d") == "yes"


@pytest.mark.parametrize("arg", ["responseElements/ConsoleLogin", ""])
def test_json_value_rejects_non_pointers(arg: str) -> None:
    with pytest.raises(FieldArgumentError):
        SRC.fields.get("json.value").extractor(arg)  # type: ignore[union-attr]


def test_json_value_requires_an_argument() -> None:
    with pytest.raises(FieldArgumentError):
        SRC.fields.get("json.value").extractor(None)  # type: ignore[union-attr]
    with pytest.raises(FieldArgumentError):
        SRC.fields.get("ct.name").extractor("x")  # type: ignore[union-attr]


def test_json_obj_and_rawtime() -> None:
    assert json.loads(x(ASSUME_ROLE, "json.obj")) == ASSUME_ROLE
    assert x(ASSUME_ROLE, "json.obj").startswith('{\n  "eventVersion": "1.08"')
    assert x(CONSOLE_LOGIN_NO_MFA, "json.rawtime") == "1795860000000000000"
    assert x({"eventName": "x"}, "json.rawtime") is None


# --------------------------------------------------------------------------
# Time


def test_event_time() -> None:
    assert event_time(CONSOLE_LOGIN_NO_MFA) == 1_795_860_000 * 10**9
    assert SRC.event_time(STOP_LOGGING) == (1_795_860_000 + 420) * 10**9 + 123_456_000
    assert event_time({"eventTime": "2026-11-28T12:00:00+02:00"}) == 1_795_860_000 * 10**9
    assert event_time({"eventTime": "2026-11-28T05:00:00-05:00"}) == 1_795_860_000 * 10**9
    assert x(CONSOLE_LOGIN_NO_MFA, "evt.time.iso8601") == "2026-11-28T10:00:00.000000000Z"
    assert x(CONSOLE_LOGIN_NO_MFA, "evt.rawtime") == 1_795_860_000 * 10**9


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"eventTime": None},
        {"eventTime": 1795860000},
        {"eventTime": "yesterday"},
        {"eventTime": "2026-11-28 10:00"},
        {"eventTime": "2026-02-30T10:00:00Z"},
        {"eventTime": "2026-11-28T25:00:00Z"},
        {"eventTime": "2026-11-28T10:00:00"},
        ["not", "a", "record"],
        None,
    ],
)
def test_event_time_invalid(doc: Any) -> None:
    assert event_time(doc) is None


# --------------------------------------------------------------------------
# ct.info and evt.plugininfo


def test_info_lines() -> None:
    assert x(CREATE_ACCESS_KEY, "ct.info") == "alice via 203.0.113.7 → CreateAccessKey"
    assert x(ASSUME_ROLE, "ct.info") == "ec2.amazonaws.com ← AssumeRole"
    assert x(ACCESS_DENIED, "ct.info") == (
        "eve via 192.0.2.66 !← GetObject Size=243 URI=s3://payroll/2026/11/salaries.csv"
    )
    assert x(PUT_BUCKET_POLICY, "ct.info") == (
        "Deployer via 198.51.100.50 → PutBucketPolicy Size=0 Bucket=public-assets"
    )
    assert x(PUT_PUBLIC_ACCESS_BLOCK, "ct.info") == (
        "alice via 203.0.113.7 → PutBucketPublicAccessBlock BlockPublicAcls=true "
        "BlockPublicPolicy=false IgnorePublicAcls=true RestrictPublicBuckets=false"
    )
    assert x({"userIdentity": {"type": "Root"}}, "ct.info") == (
        "<invalid cloudtrail event: eventName missing>"
    )


def test_plugininfo() -> None:
    assert x(STOP_LOGGING, "evt.plugininfo") == (
        "us-east-1 cloudtrail AssumedRole via 192.0.2.99 → StopLogging"
    )
    assert x({"eventName": "ListBuckets"}, "evt.plugininfo") == "<NA> via <NA> ← ListBuckets"
    assert SRC.info(["odd"]) is None


# --------------------------------------------------------------------------
# Odd documents


ODD_DOCS: list[Any] = [
    None,
    "a string",
    42,
    [],
    ["a", "list"],
    {},
    {
        "userIdentity": "x",
        "requestParameters": ["a"],
        "responseElements": 3,
        "additionalEventData": "x",
        "tlsDetails": None,
        "addendum": [],
        "resources": "x",
        "eventName": 7,
        "readOnly": "yes",
    },
    {
        "requestParameters": {"tagSpecificationSet": {"items": [1, {"resourceType": "instance"}]}},
        "responseElements": {"tagSpecificationSet": {"items": ["x"]}},
        "additionalEventData": {"bytesTransferredIn": "many", "bytesTransferredOut": -5},
    },
]


@pytest.mark.parametrize("doc", ODD_DOCS)
def test_no_field_raises_on_odd_documents(doc: Any) -> None:
    for field in SRC.fields:
        arg = "/requestParameters/x" if field.arg is Arg.KEY else None
        value = field.extractor(arg)(Event(doc, SRC))
        if value is not None:
            expected: type = (
                bool if field.type is FieldType.BOOL else int if field.type.is_numeric else str
            )
            assert isinstance(value, expected), (field.name, value)


def test_odd_values_read_as_no_value_or_zero() -> None:
    odd = ODD_DOCS[-1]
    assert x(odd, "ec2.name") is None
    assert x(odd, "ec2.imageid") is None
    assert x(odd, "s3.bytes") == 0
    assert x(ODD_DOCS[6], "ct.user") is None
    assert x(ODD_DOCS[6], "ct.request.username") is None
    assert x(ODD_DOCS[6], "ct.response") == "3"
    assert x(ODD_DOCS[6], "ct.readonly") == "false"
    assert x(None, "ct.name") is None

"""Regenerate lanner's demo logs: ``python samples/make_samples.py``.

Writes, next to this script:

- ``AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/28/*.json.gz``: three
  CloudTrail log files, laid out and named the way CloudTrail delivers them to S3;
- ``AWSLogs/123456789012/CloudTrail-Digest/...``: the matching digest file,
  which a scanner must skip (it is a signature manifest, not events);
- ``k8s/kube-apiserver-audit.log``: a kube-apiserver audit log (JSON lines).

Output is deterministic (fixed seed, gzip mtime 0), so re-running it leaves the
committed files unchanged. Only documentation account ids, IP ranges and
example access keys are used. samples/README.md lists the attacks and the
bundled rules each one should trigger.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import io
import json
import random
import string
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

Json = dict[str, Any]

HERE = Path(__file__).resolve().parent
SEED = 20261128
ACCOUNT = "123456789012"
REGION = "us-east-1"
TRAIL = "management-events"
TRAIL_BUCKET = f"aws-cloudtrail-logs-{ACCOUNT}-3f9a1c"
DAY = datetime(2026, 11, 28, tzinfo=UTC)
DELIVERY = "20261128T1005Z"

rnd = random.Random(SEED)


# --------------------------------------------------------------------------- helpers


def new_uuid() -> str:
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))


def chars(n: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def at(hh: int, mm: int, ss: float) -> datetime:
    return DAY.replace(hour=hh, minute=mm) + timedelta(seconds=ss)


def iso_s(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_us(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}Z"


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    # mtime=0 and no file name keep the archive byte-identical across runs.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


# --------------------------------------------------------------------------- CloudTrail

BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CLI_UA = "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.6"
TF_UA = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) "
    "terraform-provider-aws/5.78.0 aws-sdk-go-v2/1.32.5 os/linux lang/go#1.23.3"
)
BOTO_UA = (
    "Boto3/1.35.68 md/Botocore#1.35.68 ua/2.0 os/linux#6.1.115 md/arch#x86_64 lang/python#3.12.7"
)
CONSOLE_UA = "AWS Internal"


class Principal:
    """One caller, with stable ids across all of its records."""

    def __init__(self, identity: Json) -> None:
        self.identity = identity

    def ident(self, t: datetime, mfa: bool = False) -> Json:
        ident = copy.deepcopy(self.identity)
        ctx = ident.get("sessionContext")
        if ctx is not None:
            ctx["attributes"] = {
                "creationDate": iso_s(t - timedelta(minutes=rnd.randint(3, 40))),
                "mfaAuthenticated": "true" if mfa else "false",
            }
        return ident


def iam_user(name: str, with_key: bool = True) -> Principal:
    ident: Json = {
        "type": "IAMUser",
        "principalId": "AIDA" + chars(17),
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
    }
    if with_key:
        ident["accessKeyId"] = "AKIA" + chars(9) + "EXAMPLE"
    ident["userName"] = name
    return Principal(ident)


def console_user(user: Principal) -> Principal:
    """The same IAM user, acting through a console session (temporary key)."""
    ident = copy.deepcopy(user.identity)
    ident["accessKeyId"] = "ASIA" + chars(9) + "EXAMPLE"
    ident["sessionContext"] = {}
    return Principal(ident)


def assumed_role(role: str, session: str, path: str = "/") -> Principal:
    role_id = "AROA" + chars(17)
    return Principal(
        {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIA" + chars(9) + "EXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": f"arn:aws:iam::{ACCOUNT}:role{path}{role}",
                    "accountId": ACCOUNT,
                    "userName": role,
                },
                "webIdFederationData": {},
            },
        }
    )


ROOT = Principal(
    {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
        "accessKeyId": "",
    }
)


def aws_service(name: str) -> Principal:
    return Principal({"type": "AWSService", "invokedBy": name})


def host_of(source: str) -> str:
    return source.replace(".amazonaws.com", f".{REGION}.amazonaws.com")


def ct_record(
    t: datetime,
    who: Principal,
    source: str,
    name: str,
    *,
    ip: str,
    ua: str,
    request: Json | None = None,
    response: Json | None = None,
    read_only: bool = False,
    extra: Json | None = None,
    error: tuple[str, str] | None = None,
    event_type: str = "AwsApiCall",
    mfa: bool = False,
    tls_host: str | None = None,
    console: bool = False,
) -> Json:
    rec: Json = {
        "eventVersion": "1.10" if event_type == "AwsApiCall" else "1.09",
        "userIdentity": who.ident(t, mfa),
        "eventTime": iso_s(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": ua,
    }
    if error:
        rec["errorCode"], rec["errorMessage"] = error
    rec["requestParameters"] = request
    rec["responseElements"] = response
    if extra is not None:
        rec["additionalEventData"] = extra
    if event_type != "AwsConsoleSignIn":
        rec["requestID"] = new_uuid()
    rec["eventID"] = new_uuid()
    rec["readOnly"] = read_only
    rec["eventType"] = event_type
    rec["managementEvent"] = True
    rec["recipientAccountId"] = ACCOUNT
    rec["eventCategory"] = "Management"
    if not ip.endswith(".amazonaws.com"):
        rec["tlsDetails"] = {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": tls_host or host_of(source),
        }
    if console:
        rec["sessionCredentialFromConsole"] = "true"
    return rec


def console_login(
    t: datetime, who: Principal, ip: str, mfa_used: bool, mfa_device: str = ""
) -> Json:
    extra: Json = {
        "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_"
        + chars(16, string.ascii_lowercase + string.digits),
        "MobileVersion": "No",
        "MFAUsed": "Yes" if mfa_used else "No",
    }
    if mfa_device:
        extra["MFAIdentifier"] = f"arn:aws:iam::{ACCOUNT}:mfa/{mfa_device}"
    return ct_record(
        t,
        who,
        "signin.amazonaws.com",
        "ConsoleLogin",
        ip=ip,
        ua=BROWSER_UA,
        response={"ConsoleLogin": "Success"},
        extra=extra,
        event_type="AwsConsoleSignIn",
        tls_host="signin.aws.amazon.com",
    )


def ip_perm(proto: str, port: int, cidr: str, desc: str) -> Json:
    return {
        "items": [
            {
                "ipProtocol": proto,
                "fromPort": port,
                "toPort": port,
                "groups": {},
                "ipRanges": {"items": [{"cidrIp": cidr, "description": desc}]},
                "ipv6Ranges": {},
                "prefixListIds": {},
            }
        ]
    }


def sg_ingress(t: datetime, who: Principal, ip: str, ua: str, group: str, perm: Json) -> Json:
    rule_id = "sgr-0" + chars(16, "0123456789abcdef")
    item = perm["items"][0]
    return ct_record(
        t,
        who,
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        ip=ip,
        ua=ua,
        request={"groupId": group, "ipPermissions": perm},
        response={
            "requestId": new_uuid(),
            "_return": True,
            "securityGroupRuleSet": {
                "items": [
                    {
                        "groupOwnerId": ACCOUNT,
                        "groupId": group,
                        "securityGroupRuleId": rule_id,
                        "description": item["ipRanges"]["items"][0]["description"],
                        "isEgress": False,
                        "ipProtocol": item["ipProtocol"],
                        "fromPort": item["fromPort"],
                        "toPort": item["toPort"],
                        "cidrIpv4": item["ipRanges"]["items"][0]["cidrIp"],
                    }
                ]
            },
        },
    )


def bucket_policy(t: datetime, who: Principal, ip: str, ua: str, bucket: str, policy: Json) -> Json:
    return ct_record(
        t,
        who,
        "s3.amazonaws.com",
        "PutBucketPolicy",
        ip=ip,
        ua=ua,
        request={
            "bucketPolicy": policy,
            "bucketName": bucket,
            "Host": f"{bucket}.s3.amazonaws.com",
            "policy": [""],
        },
        extra={
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": chars(56, string.ascii_letters + string.digits + "+/"),
            "bytesTransferredOut": 0,
        },
        tls_host=f"{bucket}.s3.amazonaws.com",
    )


def cloudtrail_records() -> list[list[Json]]:
    """Three delivery files' worth of records, in time order within each."""
    bob = iam_user("ops-bob")
    bob_console = console_user(bob)
    alice = iam_user("dev-alice")
    alice_console = console_user(alice)
    terraform = assumed_role("terraform-ci", "gha-run-4821")
    sso = assumed_role(
        "AWSReservedSSO_PlatformAdmin_4f2a9c1e7b3d5a60",
        "maria@example.com",
        "/aws-reserved/sso.amazonaws.com/",
    )
    lambda_role = assumed_role("orders-export-lambda", "orders-export")
    node_role = assumed_role("eks-node-group-role", "i-0a1b2c3d4e5f60718")
    ssm_role = assumed_role("ssm-managed-instance", "i-0a1b2c3d4e5f60718")

    office = "198.51.100.14"
    runner = "198.51.100.77"
    attacker = "203.0.113.50"
    web_sg = "sg-0c4e1f2a3b5d6e7f8"
    bastion_sg = "sg-01a2b3c4d5e6f7a8b"
    db_sg = "sg-0f1e2d3c4b5a69788"
    instance = "i-0a1b2c3d4e5f60718"

    f1: list[Json] = [
        ct_record(
            at(9, 58, 12.0),
            aws_service("ec2.amazonaws.com"),
            "sts.amazonaws.com",
            "AssumeRole",
            ip="ec2.amazonaws.com",
            ua="ec2.amazonaws.com",
            request={
                "roleArn": f"arn:aws:iam::{ACCOUNT}:role/eks-node-group-role",
                "roleSessionName": instance,
            },
            response={
                "credentials": {
                    "accessKeyId": "ASIA" + chars(9) + "EXAMPLE",
                    "sessionToken": "<redacted>",
                    "expiration": "Nov 28, 2026, 4:58:12 PM",
                }
            },
            read_only=True,
            event_type="AwsServiceEvent",
        ),
        console_login(at(9, 58, 40.0), bob, office, mfa_used=True, mfa_device="ops-bob"),
        ct_record(
            at(9, 58, 57.0),
            bob_console,
            "ec2.amazonaws.com",
            "DescribeInstances",
            ip=office,
            ua=CONSOLE_UA,
            request={"instancesSet": {}, "filterSet": {}},
            read_only=True,
            mfa=True,
            console=True,
        ),
        # attack: password-only console sign-in from an unfamiliar address
        console_login(at(9, 59, 21.0), alice, attacker, mfa_used=False),
        ct_record(
            at(9, 59, 30.0),
            alice_console,
            "sts.amazonaws.com",
            "GetCallerIdentity",
            ip=attacker,
            ua=CONSOLE_UA,
            read_only=True,
            console=True,
        ),
        ct_record(
            at(9, 59, 44.0),
            alice_console,
            "s3.amazonaws.com",
            "ListBuckets",
            ip=attacker,
            ua=CONSOLE_UA,
            request={"Host": "s3.amazonaws.com"},
            read_only=True,
            console=True,
            tls_host="s3.amazonaws.com",
        ),
        ct_record(
            at(9, 59, 58.0),
            aws_service("kms.amazonaws.com"),
            "kms.amazonaws.com",
            "Decrypt",
            ip="kms.amazonaws.com",
            ua="kms.amazonaws.com",
            request={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            read_only=True,
            event_type="AwsServiceEvent",
        ),
        ct_record(
            at(10, 0, 5.0),
            lambda_role,
            "logs.amazonaws.com",
            "CreateLogStream",
            ip="198.51.100.140",
            ua=BOTO_UA,
            request={
                "logGroupName": "/aws/lambda/orders-export",
                "logStreamName": "2026/11/28/[$LATEST]" + chars(32, "0123456789abcdef"),
            },
        ),
        ct_record(
            at(10, 0, 19.0),
            terraform,
            "s3.amazonaws.com",
            "PutBucketPublicAccessBlock",
            ip=runner,
            ua=TF_UA,
            request={
                "publicAccessBlock": "",
                "bucketName": "orders-exports-prod",
                "Host": "orders-exports-prod.s3.amazonaws.com",
                "PublicAccessBlockConfiguration": {
                    "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                    "RestrictPublicBuckets": True,
                    "BlockPublicPolicy": True,
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                },
            },
            tls_host="orders-exports-prod.s3.amazonaws.com",
        ),
        # a user rotating their own key: no userName in the request
        ct_record(
            at(10, 0, 33.0),
            bob_console,
            "iam.amazonaws.com",
            "CreateAccessKey",
            ip=office,
            ua=CONSOLE_UA,
            response={
                "accessKey": {
                    "accessKeyId": "AKIA" + chars(9) + "EXAMPLE",
                    "status": "Active",
                    "userName": "ops-bob",
                    "createDate": "Nov 28, 2026, 10:00:33 AM",
                }
            },
            mfa=True,
            console=True,
            tls_host="iam.amazonaws.com",
        ),
        # attack: a new access key for another user
        ct_record(
            at(10, 0, 51.0),
            alice_console,
            "iam.amazonaws.com",
            "CreateAccessKey",
            ip=attacker,
            ua=CONSOLE_UA,
            request={"userName": "svc-backup"},
            response={
                "accessKey": {
                    "accessKeyId": "AKIA" + chars(9) + "EXAMPLE",
                    "status": "Active",
                    "userName": "svc-backup",
                    "createDate": "Nov 28, 2026, 10:00:51 AM",
                }
            },
            console=True,
            tls_host="iam.amazonaws.com",
        ),
        # attack: full admin for that user
        ct_record(
            at(10, 1, 9.0),
            alice_console,
            "iam.amazonaws.com",
            "AttachUserPolicy",
            ip=attacker,
            ua=CONSOLE_UA,
            request={
                "userName": "svc-backup",
                "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
            },
            console=True,
            tls_host="iam.amazonaws.com",
        ),
        ct_record(
            at(10, 1, 27.0),
            terraform,
            "iam.amazonaws.com",
            "AttachRolePolicy",
            ip=runner,
            ua=TF_UA,
            request={
                "roleName": "orders-export-lambda",
                "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            },
            tls_host="iam.amazonaws.com",
        ),
        ct_record(
            at(10, 1, 40.0),
            terraform,
            "iam.amazonaws.com",
            "GetRole",
            ip=runner,
            ua=TF_UA,
            request={"roleName": "orders-export-lambda"},
            read_only=True,
            tls_host="iam.amazonaws.com",
        ),
        ct_record(
            at(10, 1, 52.0),
            ssm_role,
            "ssm.amazonaws.com",
            "UpdateInstanceInformation",
            ip="192.0.2.31",
            ua="aws-sdk-go/1.55.5 (go1.22.7; linux; amd64) amazon-ssm-agent/3.3.1142.0",
            request={
                "instanceId": instance,
                "agentVersion": "3.3.1142.0",
                "agentStatus": "Active",
                "platformType": "Linux",
                "platformName": "Amazon Linux",
                "platformVersion": "2023",
                "computerName": "ip-192-0-2-31.ec2.internal",
                "ipAddress": "192.0.2.31",
            },
        ),
    ]

    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::orders-exports-prod/*",
            }
        ],
    }
    tls_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::app-assets-prod", "arn:aws:s3:::app-assets-prod/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    f2: list[Json] = [
        # attack: root sign-in, password only
        console_login(at(10, 2, 3.0), ROOT, attacker, mfa_used=False),
        ct_record(
            at(10, 2, 15.0),
            node_role,
            "ec2.amazonaws.com",
            "DescribeInstances",
            ip="192.0.2.31",
            ua="aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64",
            request={"instancesSet": {"items": [{"instanceId": instance}]}, "filterSet": {}},
            read_only=True,
        ),
        # attack: SSH open to the world
        sg_ingress(
            at(10, 2, 31.0),
            alice_console,
            attacker,
            CONSOLE_UA,
            bastion_sg,
            ip_perm("tcp", 22, "0.0.0.0/0", "temp access"),
        ),
        sg_ingress(
            at(10, 2, 44.0),
            terraform,
            runner,
            TF_UA,
            web_sg,
            ip_perm("tcp", 443, "0.0.0.0/0", "public HTTPS"),
        ),
        sg_ingress(
            at(10, 2, 50.0),
            terraform,
            runner,
            TF_UA,
            db_sg,
            ip_perm("tcp", 5432, "198.51.100.0/24", "office VPN"),
        ),
        ct_record(
            at(10, 3, 2.0),
            terraform,
            "ec2.amazonaws.com",
            "RunInstances",
            ip=runner,
            ua=TF_UA,
            request={
                "instancesSet": {
                    "items": [{"imageId": "ami-0c1d2e3f4a5b6c7d8", "minCount": 1, "maxCount": 1}]
                },
                "instanceType": "m7i.large",
                "blockDeviceMapping": {},
                "monitoring": {"enabled": False},
                "disableApiTermination": False,
                "disableApiStop": False,
                "clientToken": "terraform-" + chars(20, "0123456789abcdef"),
                "subnetId": "subnet-0a9b8c7d6e5f40312",
                "tagSpecificationSet": {
                    "items": [
                        {
                            "resourceType": "instance",
                            "tags": [{"key": "Name", "value": "orders-worker"}],
                        }
                    ]
                },
            },
            response={
                "requestId": new_uuid(),
                "reservationId": "r-0" + chars(16, "0123456789abcdef"),
                "ownerId": ACCOUNT,
                "groupSet": {},
                "instancesSet": {
                    "items": [
                        {
                            "instanceId": "i-0" + chars(16, "0123456789abcdef"),
                            "imageId": "ami-0c1d2e3f4a5b6c7d8",
                            "instanceState": {"code": 0, "name": "pending"},
                            "instanceType": "m7i.large",
                            "subnetId": "subnet-0a9b8c7d6e5f40312",
                        }
                    ]
                },
            },
        ),
        ct_record(
            at(10, 3, 14.0),
            bob_console,
            "ec2.amazonaws.com",
            "DescribeInstanceAttribute",
            ip=office,
            ua=CONSOLE_UA,
            request={"instanceId": instance, "attribute": "instanceType"},
            read_only=True,
            mfa=True,
            console=True,
        ),
        # attack: reading bootstrap secrets from user data
        ct_record(
            at(10, 3, 26.0),
            alice_console,
            "ec2.amazonaws.com",
            "DescribeInstanceAttribute",
            ip=attacker,
            ua=CONSOLE_UA,
            request={"instanceId": instance, "attribute": "userData"},
            read_only=True,
            console=True,
        ),
        bucket_policy(at(10, 3, 39.0), terraform, runner, TF_UA, "app-assets-prod", tls_only),
        # attack: the export bucket made world-readable
        bucket_policy(
            at(10, 3, 52.0), alice_console, attacker, CONSOLE_UA, "orders-exports-prod", public_read
        ),
        ct_record(
            at(10, 3, 58.0),
            aws_service("kms.amazonaws.com"),
            "kms.amazonaws.com",
            "GenerateDataKey",
            ip="kms.amazonaws.com",
            ua="kms.amazonaws.com",
            request={"keySpec": "AES_256"},
            read_only=True,
            event_type="AwsServiceEvent",
        ),
        ct_record(
            at(10, 4, 1.0),
            lambda_role,
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            ip="198.51.100.140",
            ua=BOTO_UA,
            request={"secretId": "prod/orders-export/db"},
            read_only=True,
        ),
        ct_record(
            at(10, 4, 6.0),
            sso,
            "cloudtrail.amazonaws.com",
            "LookupEvents",
            ip="198.51.100.23",
            ua=CONSOLE_UA,
            request={"maxResults": 50, "lookupAttributes": []},
            read_only=True,
            console=True,
        ),
    ]

    f3: list[Json] = [
        # federated sign-in: MFA happened at the identity provider
        console_login(at(10, 2, 20.0), sso, "198.51.100.23", mfa_used=False),
        ct_record(
            at(10, 2, 48.0),
            sso,
            "iam.amazonaws.com",
            "ListRoles",
            ip="198.51.100.23",
            ua=CONSOLE_UA,
            request={"maxItems": 100},
            read_only=True,
            console=True,
            tls_host="iam.amazonaws.com",
        ),
        # attack: blind the trail
        ct_record(
            at(10, 4, 12.0),
            alice_console,
            "cloudtrail.amazonaws.com",
            "StopLogging",
            ip=attacker,
            ua=CONSOLE_UA,
            request={"name": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}"},
            console=True,
        ),
        # attack: and GuardDuty
        ct_record(
            at(10, 4, 25.0),
            alice_console,
            "guardduty.amazonaws.com",
            "DeleteDetector",
            ip=attacker,
            ua=CONSOLE_UA,
            request={"detectorId": "7ac8b9d0e1f2a3b4c5d6e7f8091a2b3c"},
            console=True,
        ),
        # a denied attempt is not a change
        ct_record(
            at(10, 4, 33.0),
            lambda_role,
            "cloudtrail.amazonaws.com",
            "StopLogging",
            ip="198.51.100.140",
            ua=BOTO_UA,
            request={"name": TRAIL},
            error=(
                "AccessDenied",
                f"User: arn:aws:sts::{ACCOUNT}:assumed-role/orders-export-lambda/orders-export "
                "is not authorized to perform: cloudtrail:StopLogging on resource: "
                f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL} "
                "because no identity-based policy allows the cloudtrail:StopLogging action",
            ),
        ),
        ct_record(
            at(10, 4, 41.0),
            bob_console,
            "guardduty.amazonaws.com",
            "ListFindings",
            ip=office,
            ua=CONSOLE_UA,
            request={
                "detectorId": "7ac8b9d0e1f2a3b4c5d6e7f8091a2b3c",
                "maxResults": 50,
                "sortCriteria": {"attributeName": "updatedAt", "orderBy": "DESC"},
            },
            read_only=True,
            mfa=True,
            console=True,
        ),
        ct_record(
            at(10, 4, 48.0),
            terraform,
            "ec2.amazonaws.com",
            "DescribeSecurityGroups",
            ip=runner,
            ua=TF_UA,
            request={"securityGroupIdSet": {"items": [{"groupId": web_sg}]}},
            read_only=True,
        ),
        ct_record(
            at(10, 4, 55.0),
            terraform,
            "s3.amazonaws.com",
            "GetBucketAcl",
            ip=runner,
            ua=TF_UA,
            request={
                "bucketName": "app-assets-prod",
                "Host": "app-assets-prod.s3.amazonaws.com",
                "acl": "",
            },
            read_only=True,
            tls_host="app-assets-prod.s3.amazonaws.com",
        ),
        ct_record(
            at(10, 4, 59.0),
            aws_service("kms.amazonaws.com"),
            "kms.amazonaws.com",
            "Decrypt",
            ip="kms.amazonaws.com",
            ua="kms.amazonaws.com",
            request={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
            read_only=True,
            event_type="AwsServiceEvent",
        ),
    ]
    return [f1, f2, sorted(f3, key=lambda r: r["eventTime"])]


def write_cloudtrail(root: Path) -> list[Path]:
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/28"
    out_dir = root / prefix
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    digest_logs: list[Json] = []
    for records in cloudtrail_records():
        suffix = chars(16, string.ascii_letters + string.digits)
        name = f"{ACCOUNT}_CloudTrail_{REGION}_{DELIVERY}_{suffix}.json.gz"
        body = json.dumps({"Records": records}, separators=(",", ":")).encode()
        blob = gzip_bytes(body)
        (out_dir / name).write_bytes(blob)
        written.append(out_dir / name)
        times = sorted(r["eventTime"] for r in records)
        digest_logs.append(
            {
                "s3Bucket": TRAIL_BUCKET,
                "s3Object": f"{prefix}/{name}",
                "hashValue": hashlib.sha256(blob).hexdigest(),
                "hashAlgorithm": "SHA-256",
                "newestEventTime": times[-1],
                "oldestEventTime": times[0],
            }
        )

    digest_prefix = f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/11/28"
    digest_dir = root / digest_prefix
    digest_dir.mkdir(parents=True, exist_ok=True)
    digest_name = f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_20261128T1105Z.json.gz"
    previous = f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_20261128T1005Z.json.gz"
    digest = {
        "awsAccountId": ACCOUNT,
        "digestStartTime": "2026-11-28T10:05:00Z",
        "digestEndTime": "2026-11-28T11:05:00Z",
        "digestS3Bucket": TRAIL_BUCKET,
        "digestS3Object": f"{digest_prefix}/{digest_name}",
        "digestPublicKeyFingerprint": chars(32, "0123456789abcdef"),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": max(d["newestEventTime"] for d in digest_logs),
        "oldestEventTime": min(d["oldestEventTime"] for d in digest_logs),
        "previousDigestS3Bucket": TRAIL_BUCKET,
        "previousDigestS3Object": f"{digest_prefix}/{previous}",
        "previousDigestHashValue": chars(64, "0123456789abcdef"),
        "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": chars(512, "0123456789abcdef"),
        "logFiles": digest_logs,
    }
    digest_blob = gzip_bytes(json.dumps(digest, separators=(",", ":")).encode())
    (digest_dir / digest_name).write_bytes(digest_blob)
    written.append(digest_dir / digest_name)
    return written


# --------------------------------------------------------------------------- Kubernetes

KUBECTL_UA = "kubectl/v1.30.4 (linux/amd64) kubernetes/a51b3b7"
KUBELET_UA = "kubelet/v1.30.4 (linux/amd64) kubernetes/a51b3b7"
KCM_BASE_UA = "kube-controller-manager/v1.30.4 (linux/amd64) kubernetes/a51b3b7"
KCM_UA = KCM_BASE_UA + "/system:serviceaccount:kube-system:{}"
SCHED_UA = "kube-scheduler/v1.30.4 (linux/amd64) kubernetes/a51b3b7"
NODES = {
    "ip-192-0-2-21.ec2.internal": "192.0.2.21",
    "ip-192-0-2-31.ec2.internal": "192.0.2.31",
    "ip-192-0-2-42.ec2.internal": "192.0.2.42",
}
APP_ECR = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


class K8sLog:
    """Builds audit events with a monotonic clock."""

    def __init__(self, start: datetime) -> None:
        self.t = start
        self.events: list[Json] = []

    def user(self, name: str, groups: list[str], extra: Json | None = None) -> Json:
        u: Json = {"username": name}
        if name.startswith("system:serviceaccount:") or name.startswith("system:node:"):
            u["uid"] = new_uuid()
        u["groups"] = groups
        if extra:
            u["extra"] = extra
        return u

    def sa(self, ns: str, name: str, pod: str | None = None) -> Json:
        extra = None
        if pod:
            extra = {
                "authentication.kubernetes.io/credential-id": ["JTI=" + new_uuid()],
                "authentication.kubernetes.io/node-name": ["ip-192-0-2-42.ec2.internal"],
                "authentication.kubernetes.io/node-uid": [new_uuid()],
                "authentication.kubernetes.io/pod-name": [pod],
                "authentication.kubernetes.io/pod-uid": [new_uuid()],
            }
        return self.user(
            f"system:serviceaccount:{ns}:{name}",
            ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
            extra,
        )

    def node(self, name: str) -> Json:
        return self.user(f"system:node:{name}", ["system:nodes", "system:authenticated"])

    def add(
        self,
        *,
        verb: str,
        uri: str,
        user: Json,
        ip: str,
        ua: str,
        ref: Json | None,
        code: int = 200,
        stage: str = "ResponseComplete",
        level: str = "Metadata",
        req: Json | None = None,
        resp: Json | None = None,
        decision: str = "allow",
        reason: str = "",
        gap: float = 1.5,
        status: Json | None = None,
        annotations: Json | None = None,
    ) -> Json:
        self.t += timedelta(seconds=gap * rnd.uniform(0.6, 1.4))
        done = self.t + timedelta(microseconds=rnd.randint(800, 42000))
        ev: Json = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": new_uuid(),
            "stage": stage,
            "requestURI": uri,
            "verb": verb,
            "user": user,
            "sourceIPs": [ip],
            "userAgent": ua,
        }
        if ref is not None:
            ev["objectRef"] = ref
        rs: Json = {"metadata": {}}
        if status:
            rs.update(status)
        rs["code"] = code
        ev["responseStatus"] = rs
        if req is not None:
            ev["requestObject"] = req
        if resp is not None:
            ev["responseObject"] = resp
        ev["requestReceivedTimestamp"] = iso_us(self.t)
        ev["stageTimestamp"] = iso_us(done)
        ann = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": reason}
        if annotations:
            ann.update(annotations)
        ev["annotations"] = ann
        self.events.append(ev)
        return ev


def rbac(kind: str, binding: str, role_kind: str, role: str, subject: str, ns: str = "") -> str:
    where = f' in Namespace "{ns}"' if ns else ""
    return f'RBAC: allowed by {kind} "{binding}" of {role_kind} "{role}" to {subject}{where}'


def k_container(name: str, image: str, **sc: Any) -> Json:
    c: Json = {"name": name, "image": image}
    for key in ("command", "args", "ports", "volumeMounts", "env"):
        if key in sc:
            c[key] = sc.pop(key)
    c["resources"] = sc.pop("resources", {})
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "File"
    c["imagePullPolicy"] = "IfNotPresent"
    if sc:
        c["securityContext"] = sc
    return c


def k_pod(
    name: str,
    ns: str,
    containers: list[Json],
    *,
    init: list[Json] | None = None,
    volumes: list[Json] | None = None,
    generate: str | None = None,
    labels: Json | None = None,
    owner: Json | None = None,
    sa: str = "default",
    node: str | None = None,
    **pod_fields: Any,
) -> tuple[Json, Json]:
    meta: Json = {"generateName": generate} if generate else {"name": name}
    meta["namespace"] = ns
    if labels:
        meta["labels"] = labels
    if owner:
        meta["ownerReferences"] = [owner]
    spec: Json = {}
    if volumes:
        spec["volumes"] = volumes
    if init:
        spec["initContainers"] = init
    spec["containers"] = containers
    spec["restartPolicy"] = "Always"
    spec["terminationGracePeriodSeconds"] = 30
    spec["dnsPolicy"] = "ClusterFirst"
    spec["serviceAccountName"] = sa
    if node:
        spec["nodeName"] = node
    spec.update(pod_fields)
    spec["securityContext"] = {}
    spec["schedulerName"] = "default-scheduler"
    spec["priority"] = 2000001000 if ns == "kube-system" else 0
    spec["enableServiceLinks"] = True
    req = {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec, "status": {}}
    resp = copy.deepcopy(req)
    resp["metadata"] = dict(
        meta,
        name=name,
        uid=new_uuid(),
        resourceVersion=str(rnd.randint(200000, 990000)),
        creationTimestamp="2026-11-28T10:03:00Z",
    )
    resp["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    return req, resp


def owner(kind: str, name: str) -> Json:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": name,
        "uid": new_uuid(),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def kubernetes_events() -> list[Json]:
    log = K8sLog(at(10, 0, 0.0))
    admin = log.user("kubernetes-admin", ["system:masters", "system:authenticated"])
    admin_reason = rbac(
        "ClusterRoleBinding",
        "cluster-admin",
        "ClusterRole",
        "cluster-admin",
        'Group "system:masters"',
    )
    kcm = log.user("system:kube-controller-manager", ["system:authenticated"])
    scheduler = log.user("system:kube-scheduler", ["system:authenticated"])
    ci = log.sa("ci", "deployer", pod="gitlab-runner-5d8f7c9b6-q7x2m")
    ci_reason = rbac(
        "ClusterRoleBinding",
        "ci-deployer",
        "ClusterRole",
        "ci-deployer",
        'ServiceAccount "ci/deployer"',
    )
    rs_ctrl = log.sa("kube-system", "replicaset-controller")
    ds_ctrl = log.sa("kube-system", "daemon-set-controller")
    ns_ctrl = log.sa("kube-system", "namespace-controller")
    coredns = log.sa("kube-system", "coredns")
    certmgr = log.sa("cert-manager", "cert-manager")
    cainjector = log.sa("cert-manager", "cert-manager-cainjector")
    jdoe = log.user("oidc:jdoe@example.com", ["oidc:developers", "system:authenticated"])
    jdoe_reason = rbac(
        "RoleBinding",
        "developers-edit",
        "ClusterRole",
        "edit",
        'Group "oidc:developers"',
        "payments",
    )
    anon = log.user("system:anonymous", ["system:unauthenticated"])
    attacker_ip = "203.0.113.77"
    node_names = list(NODES)

    def lease(node: str) -> None:
        log.add(
            verb="update",
            uri=f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}?timeout=10s",
            user=log.node(node),
            ip=NODES[node],
            ua=KUBELET_UA,
            ref={
                "resource": "leases",
                "namespace": "kube-node-lease",
                "name": node,
                "uid": new_uuid(),
                "apiGroup": "coordination.k8s.io",
                "apiVersion": "v1",
                "resourceVersion": str(rnd.randint(200000, 990000)),
            },
            gap=0.8,
        )

    def node_status(node: str) -> None:
        log.add(
            verb="patch",
            uri=f"/api/v1/nodes/{node}/status?timeout=10s",
            user=log.node(node),
            ip=NODES[node],
            ua=KUBELET_UA,
            ref={"resource": "nodes", "name": node, "apiVersion": "v1", "subresource": "status"},
            gap=0.8,
        )

    def leader_lease(who: Json, name: str, ua: str) -> None:
        log.add(
            verb="update",
            uri=f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}?timeout=5s",
            user=who,
            ip="192.0.2.10",
            ua=ua,
            ref={
                "resource": "leases",
                "namespace": "kube-system",
                "name": name,
                "uid": new_uuid(),
                "apiGroup": "coordination.k8s.io",
                "apiVersion": "v1",
                "resourceVersion": str(rnd.randint(200000, 990000)),
            },
            gap=0.6,
        )

    def pod_create(
        who: Json,
        ip: str,
        ua: str,
        req: Json,
        resp: Json,
        reason: str = "",
        psa: str = "privileged:latest",
    ) -> Json:
        ns = req["metadata"]["namespace"]
        ref: Json = {"resource": "pods", "namespace": ns, "apiVersion": "v1"}
        if "name" in req["metadata"]:
            ref["name"] = req["metadata"]["name"]
        return log.add(
            verb="create",
            uri=f"/api/v1/namespaces/{ns}/pods",
            user=who,
            ip=ip,
            ua=ua,
            ref=ref,
            code=201,
            level="RequestResponse",
            req=req,
            resp=resp,
            reason=reason,
            annotations={"pod-security.kubernetes.io/enforce-policy": psa},
        )

    def binding(pod: str, ns: str, node: str) -> None:
        log.add(
            verb="create",
            uri=f"/api/v1/namespaces/{ns}/pods/{pod}/binding",
            user=scheduler,
            ip="192.0.2.10",
            ua=SCHED_UA + "/scheduler",
            ref={
                "resource": "pods",
                "namespace": ns,
                "name": pod,
                "apiVersion": "v1",
                "subresource": "binding",
            },
            code=201,
            gap=0.3,
        )

    # --- routine control-plane and node traffic ----------------------------------------
    for node in node_names:
        lease(node)
    leader_lease(kcm, "kube-controller-manager", KCM_BASE_UA + "/leader-election")
    leader_lease(scheduler, "kube-scheduler", SCHED_UA + "/leader-election")
    log.add(
        verb="watch",
        uri="/apis/discovery.k8s.io/v1/endpointslices?allowWatchBookmarks=true&resourceVersion=402113&timeout=8m36s&timeoutSeconds=516&watch=true",
        user=coredns,
        ip="192.0.2.143",
        ua="coredns/v1.11.3 (linux/amd64) kubernetes/coredns",
        ref={"resource": "endpointslices", "apiGroup": "discovery.k8s.io", "apiVersion": "v1"},
        reason=rbac(
            "ClusterRoleBinding",
            "system:coredns",
            "ClusterRole",
            "system:coredns",
            'ServiceAccount "kube-system/coredns"',
        ),
    )
    node_status(node_names[0])
    log.add(
        verb="get",
        uri="/healthz",
        user=anon,
        ip="192.0.2.5",
        ua="ELB-HealthChecker/2.0",
        ref=None,
        reason=rbac(
            "ClusterRoleBinding",
            "system:public-info-viewer",
            "ClusterRole",
            "system:public-info-viewer",
            'Group "system:unauthenticated"',
        ),
    )
    # AWS STS reads the service-account issuer's discovery document (IRSA).
    log.add(
        verb="get",
        uri="/.well-known/openid-configuration",
        user=anon,
        ip="192.0.2.6",
        ua="Amazon-STS/1.0",
        ref=None,
        reason=rbac(
            "ClusterRoleBinding",
            "system:service-account-issuer-discovery",
            "ClusterRole",
            "system:service-account-issuer-discovery",
            'Group "system:unauthenticated"',
        ),
    )
    log.add(
        verb="list",
        uri="/api/v1/namespaces/payments/pods?limit=500",
        user=admin,
        ip="198.51.100.23",
        ua=KUBECTL_UA,
        ref={"resource": "pods", "namespace": "payments", "apiVersion": "v1"},
        reason=admin_reason,
    )

    # a Deployment rollout by CI: patch, then the ReplicaSet controller creates pods
    log.add(
        verb="patch",
        uri="/apis/apps/v1/namespaces/payments/deployments/payments-api?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        user=ci,
        ip="198.51.100.77",
        ua="kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        ref={
            "resource": "deployments",
            "namespace": "payments",
            "name": "payments-api",
            "apiGroup": "apps",
            "apiVersion": "v1",
        },
        level="Request",
        req={
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "api", "image": f"{APP_ECR}/payments-api:1.42.0"}]
                    }
                }
            }
        },
        reason=ci_reason,
    )
    for suffix in ("k2x7d", "p9q4m"):
        name = f"payments-api-7c9f8d6b5-{suffix}"
        req, resp = k_pod(
            name,
            "payments",
            [
                k_container(
                    "api",
                    f"{APP_ECR}/payments-api:1.42.0",
                    ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    allowPrivilegeEscalation=False,
                    readOnlyRootFilesystem=True,
                    runAsNonRoot=True,
                )
            ],
            generate="payments-api-7c9f8d6b5-",
            labels={"app": "payments-api", "pod-template-hash": "7c9f8d6b5"},
            owner=owner("ReplicaSet", "payments-api-7c9f8d6b5"),
            sa="payments-api",
        )
        pod_create(
            rs_ctrl,
            "192.0.2.10",
            KCM_UA.format("replicaset-controller"),
            req,
            resp,
            psa="restricted:latest",
        )
        binding(name, "payments", rnd.choice(node_names))
    lease(node_names[1])

    # kubelet fetches the pods' secret and a projected token
    log.add(
        verb="get",
        uri="/api/v1/namespaces/payments/secrets/payments-api-db",
        user=log.node(node_names[2]),
        ip=NODES[node_names[2]],
        ua=KUBELET_UA,
        ref={
            "resource": "secrets",
            "namespace": "payments",
            "name": "payments-api-db",
            "apiVersion": "v1",
        },
    )
    log.add(
        verb="create",
        uri="/api/v1/namespaces/payments/serviceaccounts/payments-api/token",
        user=log.node(node_names[2]),
        ip=NODES[node_names[2]],
        ua=KUBELET_UA,
        ref={
            "resource": "serviceaccounts",
            "namespace": "payments",
            "name": "payments-api",
            "apiVersion": "v1",
            "subresource": "token",
        },
        code=201,
    )

    # a new node joins: the DaemonSet controller starts cilium and kube-proxy on it
    new_node = node_names[2]
    cilium = "quay.io/cilium/cilium:v1.16.4"
    req, resp = k_pod(
        "cilium-8zq5t",
        "kube-system",
        [
            k_container(
                "cilium-agent",
                cilium,
                command=["cilium-agent"],
                args=["--config-dir=/tmp/cilium/config-map"],
                volumeMounts=[
                    {
                        "name": "bpf-maps",
                        "mountPath": "/sys/fs/bpf",
                        "mountPropagation": "HostToContainer",
                    },
                    {"name": "cni-path", "mountPath": "/host/opt/cni/bin"},
                ],
                capabilities={"add": ["NET_ADMIN", "SYS_MODULE", "SYS_ADMIN", "SYS_RESOURCE"]},
            )
        ],
        init=[
            k_container(
                "mount-cgroup",
                cilium,
                command=["sh", "-ec", "cp /usr/bin/cilium-mount /hostbin/cilium-mount"],
                privileged=True,
            )
        ],
        volumes=[
            {"name": "bpf-maps", "hostPath": {"path": "/sys/fs/bpf", "type": "DirectoryOrCreate"}},
            {"name": "cni-path", "hostPath": {"path": "/opt/cni/bin", "type": "DirectoryOrCreate"}},
            {
                "name": "cilium-cgroup",
                "hostPath": {"path": "/run/cilium/cgroupv2", "type": "DirectoryOrCreate"},
            },
            {
                "name": "xtables-lock",
                "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"},
            },
        ],
        generate="cilium-",
        labels={"k8s-app": "cilium", "controller-revision-hash": "6b7c9d8f5"},
        owner=owner("DaemonSet", "cilium"),
        sa="cilium",
        node=new_node,
        hostNetwork=True,
    )
    pod_create(ds_ctrl, "192.0.2.10", KCM_UA.format("daemon-set-controller"), req, resp)
    req, resp = k_pod(
        "kube-proxy-4wq8r",
        "kube-system",
        [
            k_container(
                "kube-proxy",
                "registry.k8s.io/kube-proxy:v1.30.4",
                command=["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"],
                volumeMounts=[
                    {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
                    {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True},
                ],
                privileged=True,
            )
        ],
        volumes=[
            {
                "name": "xtables-lock",
                "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"},
            },
            {"name": "lib-modules", "hostPath": {"path": "/lib/modules", "type": ""}},
            {"name": "varlog", "hostPath": {"path": "/var/log", "type": ""}},
        ],
        generate="kube-proxy-",
        labels={"k8s-app": "kube-proxy", "controller-revision-hash": "58d4c7f6b9"},
        owner=owner("DaemonSet", "kube-proxy"),
        sa="kube-proxy",
        node=new_node,
        hostNetwork=True,
    )
    pod_create(ds_ctrl, "192.0.2.10", KCM_UA.format("daemon-set-controller"), req, resp)
    node_status(new_node)

    # --- attack: developer credentials used from an unknown address ------------------
    # exec into a production pod
    log.add(
        verb="create",
        uri="/api/v1/namespaces/payments/pods/payments-api-7c9f8d6b5-k2x7d/exec?command=%2Fbin%2Fsh&container=api&stdin=true&stdout=true&tty=true",
        user=jdoe,
        ip=attacker_ip,
        ua=KUBECTL_UA,
        ref={
            "resource": "pods",
            "namespace": "payments",
            "name": "payments-api-7c9f8d6b5-k2x7d",
            "apiVersion": "v1",
            "subresource": "exec",
        },
        code=101,
        stage="ResponseStarted",
        level="Request",
        reason=jdoe_reason,
        gap=4.0,
    )
    # the same developer's exec into another namespace is denied: no stream, no alert
    log.add(
        verb="create",
        uri="/api/v1/namespaces/kube-system/pods/coredns-6d8f9c7b5d-mx2lq/exec?command=sh&container=coredns&stdin=true&stdout=true&tty=true",
        user=jdoe,
        ip=attacker_ip,
        ua=KUBECTL_UA,
        ref={
            "resource": "pods",
            "namespace": "kube-system",
            "name": "coredns-6d8f9c7b5d-mx2lq",
            "apiVersion": "v1",
            "subresource": "exec",
        },
        code=403,
        level="Request",
        decision="forbid",
        status={
            "status": "Failure",
            "message": 'pods "coredns-6d8f9c7b5d-mx2lq" is forbidden: User "oidc:jdoe@example.com" '
            'cannot create resource "pods/exec" in API group "" in the namespace "kube-system"',
            "reason": "Forbidden",
            "details": {"name": "coredns-6d8f9c7b5d-mx2lq", "kind": "pods"},
        },
    )
    # credentials dropped in a ConfigMap
    cm_data = {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    }
    log.add(
        verb="create",
        uri="/api/v1/namespaces/payments/configmaps?fieldManager=kubectl-create&fieldValidation=Strict",
        user=jdoe,
        ip=attacker_ip,
        ua=KUBECTL_UA,
        ref={
            "resource": "configmaps",
            "namespace": "payments",
            "name": "s3-sync-env",
            "apiVersion": "v1",
        },
        code=201,
        level="RequestResponse",
        req={
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"name": "s3-sync-env", "namespace": "payments", "creationTimestamp": None},
            "data": cm_data,
        },
        resp={
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "name": "s3-sync-env",
                "namespace": "payments",
                "uid": new_uuid(),
                "resourceVersion": str(rnd.randint(200000, 990000)),
                "creationTimestamp": "2026-11-28T10:01:40Z",
            },
            "data": cm_data,
        },
        reason=jdoe_reason,
    )
    # a benign ConfigMap update by CI
    log.add(
        verb="patch",
        uri="/api/v1/namespaces/payments/configmaps/payments-api-config?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        user=ci,
        ip="198.51.100.77",
        ua="kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        ref={
            "resource": "configmaps",
            "namespace": "payments",
            "name": "payments-api-config",
            "apiVersion": "v1",
        },
        level="Request",
        req={
            "data": {
                "LOG_LEVEL": "info",
                "DB_HOST": "orders-db.payments.svc",
                "FEATURE_FLAGS": "async-export",
            }
        },
        reason=ci_reason,
    )
    for node in node_names:
        lease(node)

    # --- attack: a stolen CI token builds a foothold ------------------------------------
    log.add(
        verb="get",
        uri="/api/v1/namespaces/payments/secrets/stripe-api-key",
        user=ci,
        ip=attacker_ip,
        ua="curl/8.5.0",
        ref={
            "resource": "secrets",
            "namespace": "payments",
            "name": "stripe-api-key",
            "apiVersion": "v1",
        },
        reason=ci_reason,
        gap=3.0,
    )
    # helm (run by the same CI account, from its runner) reads its release records: routine
    log.add(
        verb="list",
        uri="/api/v1/namespaces/payments/secrets?labelSelector=name%3Dpayments-api%2Cowner%3Dhelm",
        user=ci,
        ip="198.51.100.77",
        ua="helm/v3.16.3 (linux/amd64)",
        ref={"resource": "secrets", "namespace": "payments", "apiVersion": "v1"},
        reason=ci_reason,
    )
    log.add(
        verb="get",
        uri="/api/v1/namespaces/payments/secrets/payments-api-tls",
        user=certmgr,
        ip="192.0.2.150",
        ua="cert-manager-certificates-issuing/v1.16.2 (linux/amd64) cert-manager/a9b8c7d6e5",
        ref={
            "resource": "secrets",
            "namespace": "payments",
            "name": "payments-api-tls",
            "apiVersion": "v1",
        },
        reason=rbac(
            "ClusterRoleBinding",
            "cert-manager-controller-certificates",
            "ClusterRole",
            "cert-manager-controller-certificates",
            'ServiceAccount "cert-manager/cert-manager"',
        ),
    )
    sa_name = "kube-metrics-agent"
    log.add(
        verb="create",
        uri="/api/v1/namespaces/kube-system/serviceaccounts?fieldManager=kubectl-create&fieldValidation=Strict",
        user=ci,
        ip=attacker_ip,
        ua="kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        ref={
            "resource": "serviceaccounts",
            "namespace": "kube-system",
            "name": sa_name,
            "apiVersion": "v1",
        },
        code=201,
        level="RequestResponse",
        req={
            "kind": "ServiceAccount",
            "apiVersion": "v1",
            "metadata": {"name": sa_name, "namespace": "kube-system", "creationTimestamp": None},
        },
        resp={
            "kind": "ServiceAccount",
            "apiVersion": "v1",
            "metadata": {
                "name": sa_name,
                "namespace": "kube-system",
                "uid": new_uuid(),
                "resourceVersion": str(rnd.randint(200000, 990000)),
                "creationTimestamp": "2026-11-28T10:02:12Z",
            },
        },
        reason=ci_reason,
    )
    crb: Json = {
        "kind": "ClusterRoleBinding",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": sa_name, "creationTimestamp": None},
        "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": "kube-system"}],
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
    }
    crb_resp = copy.deepcopy(crb)
    crb_resp["metadata"] = {
        "name": sa_name,
        "uid": new_uuid(),
        "resourceVersion": str(rnd.randint(200000, 990000)),
        "creationTimestamp": "2026-11-28T10:02:20Z",
    }
    log.add(
        verb="create",
        uri="/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=kubectl-create&fieldValidation=Strict",
        user=ci,
        ip=attacker_ip,
        ua="kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        ref={
            "resource": "clusterrolebindings",
            "name": sa_name,
            "apiGroup": "rbac.authorization.k8s.io",
            "apiVersion": "v1",
        },
        code=201,
        level="RequestResponse",
        req=crb,
        resp=crb_resp,
        reason=ci_reason,
    )
    log.add(
        verb="create",
        uri=f"/api/v1/namespaces/kube-system/serviceaccounts/{sa_name}/token",
        user=ci,
        ip=attacker_ip,
        ua="kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        ref={
            "resource": "serviceaccounts",
            "namespace": "kube-system",
            "name": sa_name,
            "apiVersion": "v1",
            "subresource": "token",
        },
        code=201,
        level="Request",
        req={
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": {"audiences": None, "expirationSeconds": 31536000, "boundObjectRef": None},
            "status": {"token": "", "expirationTimestamp": None},
        },
        reason=ci_reason,
    )
    # benign: a ClusterRoleBinding to a read-only role, by an administrator
    view = copy.deepcopy(crb)
    view["metadata"]["name"] = "oncall-view"
    view["subjects"] = [
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "oidc:oncall"}
    ]
    view["roleRef"]["name"] = "view"
    log.add(
        verb="create",
        uri="/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=kubectl-create&fieldValidation=Strict",
        user=admin,
        ip="198.51.100.23",
        ua=KUBECTL_UA,
        ref={
            "resource": "clusterrolebindings",
            "name": "oncall-view",
            "apiGroup": "rbac.authorization.k8s.io",
            "apiVersion": "v1",
        },
        code=201,
        level="Request",
        req=view,
        reason=admin_reason,
    )
    leader_lease(kcm, "kube-controller-manager", KCM_BASE_UA + "/leader-election")

    # --- attack: the new cluster-admin token at work --------------------------------------
    backdoor = log.sa("kube-system", sa_name)
    backdoor_reason = rbac(
        "ClusterRoleBinding",
        sa_name,
        "ClusterRole",
        "cluster-admin",
        f'ServiceAccount "kube-system/{sa_name}"',
    )
    req, resp = k_pod(
        "kube-metrics-agent-7d9xq",
        "kube-system",
        [
            k_container(
                "agent",
                "ghcr.io/kube-metrics/agent:latest",
                args=["--url", "pool.example.net:3333", "--threads", "8"],
                resources={"limits": {"cpu": "4"}},
            )
        ],
        labels={"k8s-app": "kube-metrics-agent"},
        sa=sa_name,
    )
    pod_create(
        backdoor,
        attacker_ip,
        "kubectl/v1.30.4 (linux/amd64) kubernetes/a51b3b7",
        req,
        resp,
        backdoor_reason,
    )
    req, resp = k_pod(
        "node-shell-h7k2p",
        "default",
        [
            k_container(
                "shell",
                "docker.io/library/alpine:3.20",
                command=["sleep", "infinity"],
                privileged=True,
            )
        ],
        labels={"run": "node-shell"},
        node=node_names[0],
    )
    pod_create(
        backdoor,
        attacker_ip,
        "kubectl/v1.30.4 (linux/amd64) kubernetes/a51b3b7",
        req,
        resp,
        backdoor_reason,
    )
    binding("node-shell-h7k2p", "default", node_names[0])
    log.add(
        verb="deletecollection",
        uri="/api/v1/namespaces/kube-system/events",
        user=backdoor,
        ip=attacker_ip,
        ua="kubectl/v1.30.4 (linux/amd64) kubernetes/a51b3b7",
        ref={"resource": "events", "namespace": "kube-system", "apiVersion": "v1"},
        level="Request",
        req={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
        reason=backdoor_reason,
    )

    # --- more routine traffic ------------------------------------------------------------------
    node_status(node_names[1])
    log.add(
        verb="patch",
        uri="/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/cert-manager-webhook",
        user=cainjector,
        ip="192.0.2.151",
        ua="cainjector/v1.16.2 (linux/amd64) cert-manager/a9b8c7d6e5",
        ref={
            "resource": "validatingwebhookconfigurations",
            "name": "cert-manager-webhook",
            "apiGroup": "admissionregistration.k8s.io",
            "apiVersion": "v1",
        },
        reason=rbac(
            "ClusterRoleBinding",
            "cert-manager-cainjector",
            "ClusterRole",
            "cert-manager-cainjector",
            'ServiceAccount "cert-manager/cert-manager-cainjector"',
        ),
    )
    log.add(
        verb="get",
        uri="/api/v1/namespaces/payments/pods/payments-api-7c9f8d6b5-p9q4m/log?container=api&tailLines=200",
        user=admin,
        ip="198.51.100.23",
        ua=KUBECTL_UA,
        ref={
            "resource": "pods",
            "namespace": "payments",
            "name": "payments-api-7c9f8d6b5-p9q4m",
            "apiVersion": "v1",
            "subresource": "log",
        },
        reason=admin_reason,
    )
    # a preview namespace is torn down; the namespace controller empties it
    log.add(
        verb="delete",
        uri="/api/v1/namespaces/preview-pr-481",
        user=ci,
        ip="198.51.100.77",
        ua="kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        ref={"resource": "namespaces", "name": "preview-pr-481", "apiVersion": "v1"},
        reason=ci_reason,
    )
    log.add(
        verb="deletecollection",
        uri="/api/v1/namespaces/preview-pr-481/events",
        user=ns_ctrl,
        ip="192.0.2.10",
        ua=KCM_UA.format("namespace-controller"),
        ref={"resource": "events", "namespace": "preview-pr-481", "apiVersion": "v1"},
    )
    log.add(
        verb="create",
        uri="/api/v1/namespaces/kube-system/serviceaccounts",
        user=log.user("eks:addon-manager", ["system:authenticated"]),
        ip="192.0.2.11",
        ua="eks-addon-manager/v0.0.0 (linux/amd64) kubernetes/$Format",
        ref={
            "resource": "serviceaccounts",
            "namespace": "kube-system",
            "name": "ebs-csi-controller-sa",
            "apiVersion": "v1",
        },
        code=201,
        reason=rbac(
            "ClusterRoleBinding",
            "eks:addon-manager",
            "ClusterRole",
            "eks:addon-manager",
            'User "eks:addon-manager"',
        ),
    )
    # recon by an unauthenticated client, authorized by a leftover debug binding
    log.add(
        verb="list",
        uri="/api/v1/pods?limit=500",
        user=anon,
        ip="203.0.113.9",
        ua="python-requests/2.32.3",
        ref={"resource": "pods", "apiVersion": "v1"},
        reason=rbac(
            "ClusterRoleBinding",
            "debug-anonymous-view",
            "ClusterRole",
            "view",
            'User "system:anonymous"',
        ),
        gap=3.0,
    )
    # the same client probing /readyz is routine
    log.add(
        verb="get",
        uri="/readyz?verbose",
        user=anon,
        ip="203.0.113.9",
        ua="python-requests/2.32.3",
        ref=None,
        reason=rbac(
            "ClusterRoleBinding",
            "system:public-info-viewer",
            "ClusterRole",
            "system:public-info-viewer",
            'Group "system:unauthenticated"',
        ),
    )
    for node in node_names:
        lease(node)
    leader_lease(scheduler, "kube-scheduler", SCHED_UA + "/leader-election")
    log.add(
        verb="get",
        uri="/apis/apps/v1/namespaces/payments/deployments/payments-api",
        user=admin,
        ip="198.51.100.23",
        ua=KUBECTL_UA,
        ref={
            "resource": "deployments",
            "namespace": "payments",
            "name": "payments-api",
            "apiGroup": "apps",
            "apiVersion": "v1",
        },
        reason=admin_reason,
    )
    node_status(node_names[2])
    return log.events


def write_k8s(root: Path) -> Path:
    out = root / "k8s" / "kube-apiserver-audit.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(ev, separators=(",", ":")) for ev in kubernetes_events()]
    out.write_text("\n".join(lines) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate lanner's sample logs.")
    parser.add_argument(
        "--out", type=Path, default=HERE, help="output directory (default: next to this script)"
    )
    root: Path = parser.parse_args(argv).out
    rnd.seed(SEED)  # the same bytes on every run, even when called twice in one process
    for path in [*write_cloudtrail(root), write_k8s(root)]:
        print(path.relative_to(root))


if __name__ == "__main__":
    main()

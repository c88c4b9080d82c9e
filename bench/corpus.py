"""Realistic generated event corpora for benchmarks: Kubernetes audit events and CloudTrail records.

The mixes follow what a busy EKS cluster and AWS account produce: most audit
events are controllers and kubelets reading and renewing leases; most
CloudTrail records are read-only Describe/Get/List calls by roles. A small
share are the writes and risky calls rules look at.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

_USERS = [
    ("system:kube-controller-manager", ["system:authenticated"]),
    ("system:kube-scheduler", ["system:authenticated"]),
    ("system:node:ip-10-0-1-23.ec2.internal", ["system:nodes", "system:authenticated"]),
    (
        "system:serviceaccount:kube-system:coredns",
        ["system:serviceaccounts", "system:authenticated"],
    ),
    ("system:serviceaccount:argocd:argocd-application-controller", ["system:serviceaccounts"]),
    ("eks:node-manager", ["system:authenticated"]),
    ("alice@example.com", ["developers", "system:authenticated"]),
    ("bob@example.com", ["sre", "system:authenticated"]),
    ("system:anonymous", ["system:unauthenticated"]),
]
_READ_RESOURCES = [
    "pods",
    "nodes",
    "configmaps",
    "endpoints",
    "services",
    "leases",
    "secrets",
    "deployments",
    "replicasets",
    "events",
    "namespaces",
    "serviceaccounts",
]
_NAMESPACES = ["default", "kube-system", "payments", "web", "argocd", "monitoring"]
_IMAGES = [
    "nginx:1.27",
    "busybox:1.36",
    "ghcr.io/acme/api:2.3.1",
    "public.ecr.aws/eks/coredns:v1.11",
    "alpine:3.20",
    "docker.io/library/redis:7",
]


class _Clock:
    """Time-ordered timestamps, as in a real log: about ``rate`` events a second."""

    def __init__(self, rng: random.Random, rate: float) -> None:
        self.rng = rng
        self.rate = rate
        self.us = 1_795_860_000 * 1_000_000  # 2026-11-28T10:00:00Z

    def next(self, fraction: bool = True) -> str:
        self.us += int(self.rng.expovariate(self.rate) * 1_000_000)
        secs, us = divmod(self.us, 1_000_000)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
        return f"{text}.{us:06d}Z" if fraction else f"{text}Z"


def _audit_base(
    rng: random.Random,
    clock: _Clock,
    verb: str,
    resource: str,
    ns: str | None,
    name: str | None,
    user: tuple[str, list[str]],
    code: int = 200,
    sub: str | None = None,
) -> dict[str, Any]:
    path = f"/api/v1/namespaces/{ns}/{resource}" if ns else f"/api/v1/{resource}"
    if name and verb not in ("create", "list", "watch"):
        path += f"/{name}"
    if sub:
        path += f"/{sub}"
    obj: dict[str, Any] = {"resource": resource, "apiVersion": "v1"}
    if ns:
        obj["namespace"] = ns
    if name:
        obj["name"] = name
    if sub:
        obj["subresource"] = sub
    ts = clock.next()
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Request" if verb in ("create", "update", "patch") else "Metadata",
        "auditID": str(uuid.UUID(int=rng.getrandbits(128))),
        "stage": "ResponseComplete",
        "requestURI": path,
        "verb": verb,
        "user": {"username": user[0], "uid": str(rng.randrange(10**6)), "groups": user[1]},
        "sourceIPs": [f"10.0.{rng.randrange(4)}.{rng.randrange(1, 250)}"],
        "userAgent": rng.choice(
            [
                "kube-controller-manager/v1.30.2",
                "kubelet/v1.30.2 (linux/amd64)",
                "kubectl/v1.30.1 (darwin/arm64)",
                "argocd-application-controller/v2.11",
            ]
        ),
        "objectRef": obj,
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": ts,
        "stageTimestamp": ts,
        "annotations": {
            "authorization.k8s.io/decision": "allow",
            "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "system:controller"',
        },
    }


def _pod_spec(
    rng: random.Random, privileged: bool = False, host_path: str | None = None
) -> dict[str, Any]:
    ctr: dict[str, Any] = {
        "name": "app",
        "image": rng.choice(_IMAGES),
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
    }
    if privileged:
        ctr["securityContext"] = {"privileged": True}
    spec: dict[str, Any] = {"containers": [ctr], "serviceAccountName": "default"}
    if host_path:
        spec["volumes"] = [{"name": "h", "hostPath": {"path": host_path}}]
        ctr["volumeMounts"] = [{"name": "h", "mountPath": "/host"}]
    return spec


def k8s_audit_events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` audit events: ~80% reads/watches, ~15% controller writes, ~5% user writes and risky calls."""
    rng = random.Random(seed)
    clock = _Clock(rng, rate=300.0)  # a busy cluster's API server
    out: list[dict[str, Any]] = []
    for _ in range(n):
        r = rng.random()
        ns = rng.choice(_NAMESPACES)
        if r < 0.80:
            user = rng.choice(_USERS[:6])
            verb = rng.choice(["get", "list", "watch", "get", "list"])
            res = rng.choice(_READ_RESOURCES)
            out.append(
                _audit_base(
                    rng,
                    clock,
                    verb,
                    res,
                    ns,
                    f"obj-{rng.randrange(500)}" if verb == "get" else None,
                    user,
                )
            )
        elif r < 0.95:
            user = rng.choice(_USERS[:5])
            verb = rng.choice(["update", "patch"])
            res = rng.choice(["leases", "endpoints", "configmaps", "pods"])
            ev = _audit_base(rng, clock, verb, res, ns, f"obj-{rng.randrange(500)}", user)
            if res == "pods":
                ev["objectRef"]["subresource"] = "status"
            out.append(ev)
        else:
            user = rng.choice(_USERS[6:8])
            kind = rng.random()
            if kind < 0.5:
                ev = _audit_base(
                    rng, clock, "create", "pods", ns, f"web-{rng.randrange(999)}", user, 201
                )
                ev["requestObject"] = {
                    "kind": "Pod",
                    "apiVersion": "v1",
                    "metadata": {"name": ev["objectRef"]["name"], "namespace": ns},
                    "spec": _pod_spec(
                        rng, rng.random() < 0.1, "/etc" if rng.random() < 0.05 else None
                    ),
                }
            elif kind < 0.7:
                ev = _audit_base(
                    rng, clock, "create", "pods", ns, f"web-{rng.randrange(999)}", user, 101, "exec"
                )
                ev["requestURI"] += "?command=sh&container=app&stdin=true&tty=true"
            elif kind < 0.85:
                ev = _audit_base(
                    rng, clock, "create", "configmaps", ns, f"cfg-{rng.randrange(99)}", user, 201
                )
                ev["requestObject"] = {
                    "kind": "ConfigMap",
                    "apiVersion": "v1",
                    "metadata": {"name": ev["objectRef"]["name"]},
                    "data": {"app.properties": "mode=prod\nretries=3"},
                }
            else:
                ev = _audit_base(
                    rng, clock, "delete", "secrets", ns, f"sec-{rng.randrange(99)}", user
                )
            out.append(ev)
    return out


_CT_READS = [
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("s3.amazonaws.com", "GetObject"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("iam.amazonaws.com", "GetRole"),
    ("sts.amazonaws.com", "GetCallerIdentity"),
    ("kms.amazonaws.com", "Decrypt"),
    ("logs.amazonaws.com", "DescribeLogGroups"),
    ("eks.amazonaws.com", "DescribeCluster"),
    ("lambda.amazonaws.com", "GetFunction"),
    ("ssm.amazonaws.com", "GetParameter"),
]
_CT_WRITES = [
    ("sts.amazonaws.com", "AssumeRole"),
    ("ec2.amazonaws.com", "RunInstances"),
    ("s3.amazonaws.com", "PutObject"),
    ("iam.amazonaws.com", "CreateAccessKey"),
    ("cloudtrail.amazonaws.com", "StopLogging"),
    ("s3.amazonaws.com", "PutBucketPolicy"),
    ("iam.amazonaws.com", "PutUserPolicy"),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
    ("signin.amazonaws.com", "ConsoleLogin"),
    ("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2"),
]


def cloudtrail_records(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` CloudTrail records: ~85% read-only calls by roles, the rest writes by roles and users."""
    rng = random.Random(seed)
    clock = _Clock(rng, rate=50.0)  # an account's trail, all regions
    out: list[dict[str, Any]] = []
    for _ in range(n):
        read = rng.random() < 0.85
        src, name = rng.choice(_CT_READS if read else _CT_WRITES)
        if rng.random() < 0.8:
            ident: dict[str, Any] = {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLEID:session",
                "arn": "arn:aws:sts::123456789012:assumed-role/app-role/session",
                "accountId": "123456789012",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "userName": "app-role",
                        "arn": "arn:aws:iam::123456789012:role/app-role",
                    },
                    "attributes": {
                        "mfaAuthenticated": "false",
                        "creationDate": "2026-11-28T09:00:00Z",
                    },
                },
            }
        else:
            ident = {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "userName": rng.choice(["alice", "bob", "ci"]),
                "arn": "arn:aws:iam::123456789012:user/alice",
                "accountId": "123456789012",
            }
        rec: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": ident,
            "eventTime": clock.next(fraction=False),
            "eventSource": src,
            "eventName": name,
            "awsRegion": rng.choice(["us-east-1", "eu-west-1", "us-west-2"]),
            "sourceIPAddress": f"203.0.113.{rng.randrange(1, 250)}",
            "userAgent": rng.choice(["aws-cli/2.17.0", "Boto3/1.35.0", "console.amazonaws.com"]),
            "requestParameters": {"bucketName": "acme-data", "key": f"obj/{rng.randrange(10**5)}"}
            if src.startswith("s3")
            else {"maxResults": 100},
            "responseElements": None,
            "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
            "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
            "readOnly": read,
            "eventType": "AwsApiCall" if name != "ConsoleLogin" else "AwsConsoleSignIn",
            "managementEvent": not src.startswith("s3"),
            "recipientAccountId": "123456789012",
            "eventCategory": "Management",
        }
        if name == "ConsoleLogin":
            rec["responseElements"] = {"ConsoleLogin": "Success"}
            rec["additionalEventData"] = {"MFAUsed": rng.choice(["Yes", "No"])}
        out.append(rec)
    return out

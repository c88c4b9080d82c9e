"""The false-positive corpus: ordinary AWS account and EKS cluster activity, generated.

Run ``python bench/fp_corpus.py [--events N] [--seed S] [--write FILE]``: it generates N
events (default 200,000), evaluates them with the bundled rules (every rule, match="all")
and prints the alerts per million events at each priority, and every rule that fired.
The tests (tests/test_fp_corpus.py, tests/test_scan_mixed.py) use a smaller slice.

What is in it, all of it what a real account and cluster do every day without anyone
attacking them (and nothing that is suspicious on its own, such as a root login):

- CloudTrail: CI deploys through CloudFormation (the pipeline role creating change sets,
  the CloudFormation service role creating and updating roles, policies, functions,
  buckets and log groups, with invokedBy cloudformation.amazonaws.com), Lambda code
  updates by the pipeline role, console browsing (Describe*/List*/Get* by IAM Identity
  Center users signed in with MFA), EC2 Auto Scaling launching and terminating instances
  through its service-linked role, S3 object traffic, KMS data keys, STS role
  assumptions (instance profiles, IRSA web identities), a service reading its secret.
- Kubernetes audit (EKS): control-plane chatter (kube-controller-manager, scheduler,
  eks:* components, kubelets system:node:* renewing leases and posting node status,
  endpoints and events), kube-system controllers (aws-node, kube-proxy, coredns,
  cluster-autoscaler, kube-state-metrics listing pods and nodes), the DaemonSet
  controller starting aws-node and kube-proxy pods on new nodes, CI deploying workloads
  (helm and Argo CD patching Deployments, ConfigMaps, Services; Helm's release secrets),
  developers running kubectl get/describe/logs.

Everything is drawn from one seeded random.Random, so a seed and a size always give the
same events; time advances a few milliseconds per event from a fixed start.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLOUDTRAIL = "aws_cloudtrail"
K8S_AUDIT = "k8s_audit"

ACCOUNT = "111122223333"
REGION = "us-east-1"
START = 1795849200.0  # 2026-11-28T07:00:00Z
CLUSTER = "prod-eks"
ECR = "602401143452.dkr.ecr.us-east-1.amazonaws.com"
APP_ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"

Doc = dict[str, Any]
Source = tuple[str, Doc]

# --- identities ----------------------------------------------------------------------------


def _role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def _assumed(role: str, session: str, *, mfa: bool = False, path: str = "") -> Doc:
    """userIdentity of an assumed-role session (IAM Identity Center roles live under a path)."""
    rid = "AROA" + f"{zlib.crc32(role.encode()):08X}{zlib.crc32(role[::-1].encode()):08X}"
    return {
        "type": "AssumedRole",
        "principalId": f"{rid}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIA" + rid[4:20],
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": rid,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{path}{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "webIdFederationData": {},
            "attributes": {
                "creationDate": "2026-11-28T06:58:11Z",
                "mfaAuthenticated": "true" if mfa else "false",
            },
        },
    }


SSO_PATH = "aws-reserved/sso.amazonaws.com/"
SSO_USERS = ["alice@example.com", "bob@example.com", "chen@example.com", "dana@example.com"]
SSO_ROLES = [
    "AWSReservedSSO_ReadOnlyAccess_4f1c2a9e7d3b5c60",
    "AWSReservedSSO_Developer_9a8b7c6d5e4f3a21",
]
PIPELINE_ROLE = "github-actions-deploy"
CFN_ROLE = "cfn-exec-role"
APP_ROLES = ["orders-api-irsa", "payments-worker-irsa", "catalog-lambda-role"]
NODE_ROLE = "eks-node-group-role"
CONSOLE_UA = "AWS Internal"
CLI_UA = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.ubuntu.22 prompt/off command/cloudformation.deploy"
SDK_UA = "aws-sdk-go-v2/1.25.3 os/linux lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.4"
BOTO_UA = "Boto3/1.34.64 md/Botocore#1.34.64 ua/2.0 os/linux#5.10.210 md/arch#x86_64 lang/python#3.12.2 exec-env/AWS_Lambda_python3.12"


class Corpus:
    """The generator: one seeded random stream, one clock."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = START
        self.nodes = [
            f"ip-10-0-{self.rng.randint(1, 3)}-{self.rng.randint(10, 250)}.ec2.internal"
            for _ in range(12)
        ]
        self.stack_seq = 0

    # --- shared bits --------------------------------------------------------------------

    def tick(self) -> None:
        self.now += self.rng.uniform(0.001, 0.012)

    def stamp(self) -> str:
        t = time.gmtime(self.now)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)

    def stamp_us(self) -> str:
        t = time.gmtime(self.now)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(self.now * 1e6) % 1_000_000:06d}Z"

    def uid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def pick(self, items: list[Any]) -> Any:
        return items[self.rng.randrange(len(items))]

    # --- CloudTrail ---------------------------------------------------------------------

    def ct(
        self,
        ident: Doc,
        source: str,
        name: str,
        *,
        params: Doc | None = None,
        response: Doc | None = None,
        read_only: bool | None = None,
        ip: str = "203.0.113.10",
        ua: str = CLI_UA,
        region: str = REGION,
        resources: list[Doc] | None = None,
        management: bool = True,
    ) -> Doc:
        self.tick()
        if read_only is None:
            read_only = name.startswith(("Describe", "List", "Get", "Lookup", "Head"))
        rec: Doc = {
            "eventVersion": "1.09",
            "userIdentity": ident,
            "eventTime": self.stamp(),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": ua,
            "requestParameters": params,
            "responseElements": response,
            "requestID": self.uid(),
            "eventID": self.uid(),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": management,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management" if management else "Data",
        }
        if resources:
            rec["resources"] = resources
        if ip not in ("AWS Internal",) and not ip.endswith("amazonaws.com"):
            rec["tlsDetails"] = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
            }
        return rec

    def via_cfn(self, source: str, name: str, params: Doc, response: Doc | None = None) -> Doc:
        """A call CloudFormation makes with the stack's service role."""
        ident = _assumed(CFN_ROLE, "AWSCloudFormation")
        ident["invokedBy"] = "cloudformation.amazonaws.com"
        return self.ct(
            ident,
            source,
            name,
            params=params,
            response=response,
            ip="cloudformation.amazonaws.com",
            ua="cloudformation.amazonaws.com",
        )

    def cfn_deploy(self) -> list[Doc]:
        """A pipeline run: change set, then CloudFormation building the stack's resources."""
        self.stack_seq += 1
        app = self.pick(["orders", "payments", "catalog", "search", "notify"])
        stack = f"{app}-service-prod"
        stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/{self.uid()}"
        pipe = _assumed(PIPELINE_ROLE, f"GitHubActions-{self.rng.randint(10**9, 10**10)}")
        cs = f"{stack}-{self.stack_seq}"
        role = f"{stack}-FunctionRole-{self.rng.getrandbits(40):X}"
        fn = f"{stack}-handler"
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
        inline = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                        "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{app}",
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["sqs:SendMessage"],
                        "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{app}-events",
                    },
                ],
            }
        )
        code = {"s3Bucket": f"cfn-artifacts-{ACCOUNT}-{REGION}", "s3Key": f"{app}/{self.uid()}.zip"}
        out = [
            self.ct(
                pipe,
                "sts.amazonaws.com",
                "GetCallerIdentity",
                params=None,
                response=None,
                ua=CLI_UA,
                ip="4.148.0.12",
            ),
            self.ct(
                pipe,
                "cloudformation.amazonaws.com",
                "CreateChangeSet",
                params={
                    "stackName": stack,
                    "changeSetName": cs,
                    "changeSetType": "UPDATE",
                    "capabilities": ["CAPABILITY_IAM"],
                    "roleARN": _role_arn(CFN_ROLE),
                    "templateURL": f"https://s3.amazonaws.com/cfn-artifacts-{ACCOUNT}-{REGION}/{app}/template.yaml",
                },
                response={
                    "id": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/{cs}/{self.uid()}",
                    "stackId": stack_id,
                },
                ip="4.148.0.12",
            ),
            self.ct(
                pipe,
                "cloudformation.amazonaws.com",
                "DescribeChangeSet",
                params={"changeSetName": cs, "stackName": stack},
                ip="4.148.0.12",
            ),
            self.ct(
                pipe,
                "cloudformation.amazonaws.com",
                "ExecuteChangeSet",
                params={"changeSetName": cs, "stackName": stack},
                ip="4.148.0.12",
            ),
        ]
        step = self.rng.random()
        if step < 0.35:  # a new function and its role
            out += [
                self.via_cfn(
                    "iam.amazonaws.com",
                    "CreateRole",
                    {
                        "roleName": role,
                        "path": "/",
                        "assumeRolePolicyDocument": trust,
                        "tags": [{"key": "aws:cloudformation:stack-name", "value": stack}],
                    },
                    {
                        "role": {
                            "roleName": role,
                            "arn": _role_arn(role),
                            "path": "/",
                            "createDate": "Nov 28, 2026 7:01:02 AM",
                        }
                    },
                ),
                self.via_cfn(
                    "iam.amazonaws.com",
                    "AttachRolePolicy",
                    {
                        "roleName": role,
                        "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                    },
                ),
                self.via_cfn(
                    "iam.amazonaws.com",
                    "PutRolePolicy",
                    {"roleName": role, "policyName": f"{app}-data", "policyDocument": inline},
                ),
                self.via_cfn("iam.amazonaws.com", "GetRole", {"roleName": role}),
                self.via_cfn(
                    "logs.amazonaws.com", "CreateLogGroup", {"logGroupName": f"/aws/lambda/{fn}"}
                ),
                self.via_cfn(
                    "lambda.amazonaws.com",
                    "CreateFunction20150331",
                    {
                        "functionName": fn,
                        "runtime": "python3.12",
                        "role": _role_arn(role),
                        "handler": "app.handler",
                        "code": code,
                        "timeout": 30,
                        "memorySize": 512,
                    },
                    {
                        "functionName": fn,
                        "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}",
                        "state": "Pending",
                    },
                ),
            ]
        elif step < 0.75:  # a code and configuration update
            out += [
                self.via_cfn(
                    "lambda.amazonaws.com",
                    "UpdateFunctionCode20150331v2",
                    {"functionName": fn, **code, "publish": False},
                    {"functionName": fn, "lastUpdateStatus": "InProgress"},
                ),
                self.via_cfn(
                    "lambda.amazonaws.com",
                    "UpdateFunctionConfiguration20150331v2",
                    {"functionName": fn, "environment": {}, "timeout": 30},
                    {"functionName": fn, "lastUpdateStatus": "InProgress"},
                ),
                self.via_cfn("lambda.amazonaws.com", "GetFunction20150331v2", {"functionName": fn}),
            ]
        else:  # a bucket and queue for a new feature, private and encrypted
            bucket = f"{app}-exports-{ACCOUNT}-{self.rng.getrandbits(24):x}"
            out += [
                self.via_cfn(
                    "s3.amazonaws.com",
                    "CreateBucket",
                    {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com"},
                ),
                self.via_cfn(
                    "s3.amazonaws.com",
                    "PutBucketEncryption",
                    {
                        "bucketName": bucket,
                        "ServerSideEncryptionConfiguration": {
                            "Rule": {
                                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"},
                                "BucketKeyEnabled": True,
                            }
                        },
                    },
                ),
                self.via_cfn(
                    "s3.amazonaws.com",
                    "PutBucketPublicAccessBlock",
                    {
                        "bucketName": bucket,
                        "PublicAccessBlockConfiguration": {
                            "BlockPublicAcls": True,
                            "IgnorePublicAcls": True,
                            "BlockPublicPolicy": True,
                            "RestrictPublicBuckets": True,
                        },
                    },
                ),
                self.via_cfn("s3.amazonaws.com", "PutBucketTagging", {"bucketName": bucket}),
                self.via_cfn(
                    "sqs.amazonaws.com",
                    "CreateQueue",
                    {"queueName": f"{app}-events"},
                    {"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{app}-events"},
                ),
            ]
        out.append(
            self.ct(
                pipe,
                "cloudformation.amazonaws.com",
                "DescribeStacks",
                params={"stackName": stack},
                ip="4.148.0.12",
            )
        )
        return out

    def pipeline_lambda_update(self) -> list[Doc]:
        """The pipeline pushes new code straight to a function it owns (no CloudFormation)."""
        pipe = _assumed(PIPELINE_ROLE, f"GitHubActions-{self.rng.randint(10**9, 10**10)}")
        fn = f"{self.pick(['orders', 'catalog', 'notify'])}-service-prod-handler"
        return [
            self.ct(
                pipe,
                "lambda.amazonaws.com",
                "UpdateFunctionCode20150331v2",
                params={
                    "functionName": fn,
                    "s3Bucket": f"cfn-artifacts-{ACCOUNT}-{REGION}",
                    "s3Key": f"lambda/{self.uid()}.zip",
                    "publish": True,
                },
                response={
                    "functionName": fn,
                    "version": str(self.rng.randint(10, 400)),
                    "lastUpdateStatus": "InProgress",
                },
                ip="4.148.0.12",
            ),
            self.ct(
                pipe,
                "lambda.amazonaws.com",
                "GetFunctionConfiguration20150331v2",
                params={"functionName": fn},
                ip="4.148.0.12",
            ),
        ]

    _CONSOLE_READS: ClassVar[list[tuple[str, str, Doc | None]]] = [
        ("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}, "filterSet": {}}),
        ("ec2.amazonaws.com", "DescribeSecurityGroups", {"securityGroupSet": {}, "filterSet": {}}),
        ("ec2.amazonaws.com", "DescribeVpcs", {"vpcSet": {}, "filterSet": {}}),
        ("ec2.amazonaws.com", "DescribeVolumes", {"volumeSet": {}, "filterSet": {}}),
        ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.amazonaws.com"}),
        ("s3.amazonaws.com", "GetBucketLocation", {"bucketName": "orders-exports", "location": ""}),
        (
            "s3.amazonaws.com",
            "GetBucketPolicyStatus",
            {"bucketName": "orders-exports", "policyStatus": ""},
        ),
        ("iam.amazonaws.com", "ListRoles", {"maxItems": 1000}),
        ("iam.amazonaws.com", "GetRole", {"roleName": "orders-api-irsa"}),
        ("iam.amazonaws.com", "ListAttachedRolePolicies", {"roleName": "orders-api-irsa"}),
        ("lambda.amazonaws.com", "ListFunctions20150331", None),
        ("cloudwatch.amazonaws.com", "DescribeAlarms", {"maxRecords": 100}),
        ("logs.amazonaws.com", "DescribeLogGroups", {"limit": 50}),
        ("rds.amazonaws.com", "DescribeDBInstances", None),
        ("eks.amazonaws.com", "ListClusters", None),
        ("eks.amazonaws.com", "DescribeCluster", {"name": CLUSTER}),
        ("cloudtrail.amazonaws.com", "LookupEvents", {"maxResults": 50}),
        ("cloudformation.amazonaws.com", "DescribeStacks", None),
        (
            "health.amazonaws.com",
            "DescribeEventAggregates",
            {"aggregateField": "eventTypeCategory"},
        ),
        ("ce.amazonaws.com", "GetCostAndUsage", {"granularity": "DAILY"}),
    ]

    def console_browse(self) -> list[Doc]:
        user = self.pick(SSO_USERS)
        ident = _assumed(self.pick(SSO_ROLES), user, mfa=True, path=SSO_PATH)
        ip = f"198.51.100.{SSO_USERS.index(user) + 20}"
        out = []
        for _ in range(self.rng.randint(3, 9)):
            src, name, params = self.pick(self._CONSOLE_READS)
            out.append(
                self.ct(
                    ident,
                    src,
                    name,
                    params=params,
                    ip=ip,
                    ua="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
                )
            )
        return out

    def autoscaling(self) -> list[Doc]:
        ident = _assumed(
            "AWSServiceRoleForAutoScaling",
            "AutoScaling",
            path="aws-service-role/autoscaling.amazonaws.com/",
        )
        ident["invokedBy"] = "autoscaling.amazonaws.com"
        iid = f"i-0{self.rng.getrandbits(64):016x}"
        if self.rng.random() < 0.55:
            return [
                self.ct(
                    ident,
                    "ec2.amazonaws.com",
                    "RunInstances",
                    params={
                        "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]},
                        "launchTemplate": {
                            "launchTemplateId": "lt-0a1b2c3d4e5f60718",
                            "version": "7",
                        },
                        "availabilityZone": f"{REGION}{self.pick(['a', 'b', 'c'])}",
                        "clientToken": self.uid(),
                    },
                    response={
                        "instancesSet": {
                            "items": [
                                {
                                    "instanceId": iid,
                                    "imageId": "ami-0c7217cdde317cfec",
                                    "instanceType": self.pick(
                                        ["m6i.large", "m6i.xlarge", "c6i.xlarge"]
                                    ),
                                    "instanceState": {"code": 0, "name": "pending"},
                                }
                            ]
                        }
                    },
                    ip="autoscaling.amazonaws.com",
                    ua="autoscaling.amazonaws.com",
                )
            ]
        return [
            self.ct(
                ident,
                "ec2.amazonaws.com",
                "TerminateInstances",
                params={"instancesSet": {"items": [{"instanceId": iid}]}},
                response={
                    "instancesSet": {
                        "items": [
                            {
                                "instanceId": iid,
                                "currentState": {"code": 32, "name": "shutting-down"},
                            }
                        ]
                    }
                },
                ip="autoscaling.amazonaws.com",
                ua="autoscaling.amazonaws.com",
            )
        ]

    def service_event(
        self, source: str, name: str, params: Doc | None, service: str, response: Doc | None = None
    ) -> Doc:
        ident: Doc = {"type": "AWSService", "invokedBy": service}
        rec = self.ct(ident, source, name, params=params, response=response, ip=service, ua=service)
        return rec

    def routine(self) -> list[Doc]:
        r = self.rng.random()
        app = self.pick(APP_ROLES)
        if r < 0.25:  # instance profile and IRSA credentials
            if self.rng.random() < 0.5:
                return [
                    self.service_event(
                        "sts.amazonaws.com",
                        "AssumeRole",
                        {
                            "roleArn": _role_arn(NODE_ROLE),
                            "roleSessionName": f"i-0{self.rng.getrandbits(64):016x}",
                        },
                        "ec2.amazonaws.com",
                    )
                ]
            sa = self.pick(
                [
                    "orders-api",
                    "payments-worker",
                    "cluster-autoscaler",
                    "aws-load-balancer-controller",
                ]
            )
            ident = {
                "type": "WebIdentityUser",
                "principalId": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/5C0D8F1E:sts.amazonaws.com:system:serviceaccount:prod:{sa}",
                "userName": f"system:serviceaccount:prod:{sa}",
                "identityProvider": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/5C0D8F1E",
            }
            return [
                self.ct(
                    ident,
                    "sts.amazonaws.com",
                    "AssumeRoleWithWebIdentity",
                    params={
                        "roleArn": _role_arn(f"{sa}-irsa"),
                        "roleSessionName": f"botocore-session-{self.rng.randint(10**9, 10**10)}",
                    },
                    ip="10.0.2.41",
                    ua=SDK_UA,
                )
            ]
        if r < 0.5:  # S3 objects (data events)
            ident = _assumed(app, f"botocore-session-{self.rng.randint(10**9, 10**10)}")
            bucket = f"{app.split('-')[0]}-data-{ACCOUNT}"
            name = self.pick(["GetObject", "GetObject", "PutObject", "HeadObject"])
            return [
                self.ct(
                    ident,
                    "s3.amazonaws.com",
                    name,
                    params={
                        "bucketName": bucket,
                        "key": f"2026/11/28/{self.uid()}.json",
                        "Host": f"{bucket}.s3.{REGION}.amazonaws.com",
                    },
                    ip="10.0.2.41",
                    ua=BOTO_UA,
                    management=False,
                    read_only=name != "PutObject",
                    resources=[
                        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/2026/11/28/"}
                    ],
                )
            ]
        if r < 0.75:  # KMS data keys, by apps and by services on their behalf
            key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{self.uid()}"
            if self.rng.random() < 0.5:
                return [
                    self.service_event(
                        "kms.amazonaws.com",
                        self.pick(["Decrypt", "GenerateDataKey"]),
                        {"keyId": key, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                        self.pick(
                            [
                                "s3.amazonaws.com",
                                "secretsmanager.amazonaws.com",
                                "ebs.amazonaws.com",
                            ]
                        ),
                    )
                ]
            ident = _assumed(app, f"botocore-session-{self.rng.randint(10**9, 10**10)}")
            return [
                self.ct(
                    ident,
                    "kms.amazonaws.com",
                    self.pick(["Decrypt", "GenerateDataKey"]),
                    params={"keyId": key, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                    ip="10.0.2.41",
                    ua=BOTO_UA,
                    read_only=True,
                )
            ]
        if r < 0.8:  # a service reads its own configuration at start-up
            ident = _assumed(app, f"botocore-session-{self.rng.randint(10**9, 10**10)}")
            return [
                self.ct(
                    ident,
                    "secretsmanager.amazonaws.com",
                    "GetSecretValue",
                    params={"secretId": f"prod/{app.split('-')[0]}/db"},
                    ip="10.0.2.41",
                    ua=BOTO_UA,
                )
            ]
        if r < 0.9:  # nodes and the load balancer controller look things up
            ident = _assumed(NODE_ROLE, f"i-0{self.rng.getrandbits(64):016x}")
            src, name = self.pick(
                [
                    ("ec2.amazonaws.com", "DescribeInstances"),
                    ("ec2.amazonaws.com", "DescribeNetworkInterfaces"),
                    ("eks.amazonaws.com", "DescribeCluster"),
                    ("ecr.amazonaws.com", "GetAuthorizationToken"),
                    ("ec2.amazonaws.com", "DescribeTags"),
                ]
            )
            return [self.ct(ident, src, name, params=None, ip="10.0.1.17", ua=SDK_UA)]
        # CloudWatch and logs written by the platform
        return [
            self.service_event(
                "logs.amazonaws.com",
                "CreateLogStream",
                {
                    "logGroupName": f"/aws/eks/{CLUSTER}/cluster",
                    "logStreamName": f"kube-apiserver-audit-{self.uid()[:12]}",
                },
                "eks.amazonaws.com",
            )
        ]

    # --- Kubernetes audit ---------------------------------------------------------------

    def audit(
        self,
        user: str,
        groups: list[str],
        verb: str,
        resource: str,
        *,
        ns: str | None = None,
        name: str | None = None,
        group: str = "",
        sub: str | None = None,
        code: int = 200,
        ua: str = "kube-controller-manager/v1.30.4 (linux/amd64) kubernetes/0e1f8a4",
        ip: str = "10.0.1.5",
        reason: str = "",
        request: Doc | None = None,
        uri: str | None = None,
        level: str = "Metadata",
        extra: Doc | None = None,
    ) -> Doc:
        self.tick()
        version = "v1" if group == "" else ("v1" if group != "autoscaling" else "v2")
        prefix = "/api/v1" if group == "" else f"/apis/{group}/{version}"
        path = (
            prefix
            + (f"/namespaces/{ns}" if ns else "")
            + f"/{resource}"
            + (f"/{name}" if name else "")
            + (f"/{sub}" if sub else "")
        )
        if uri is None:
            uri = path + ("?watch=true&resourceVersion=0&timeout=7m31s" if verb == "watch" else "")
        obj: Doc = {"resource": resource, "apiVersion": version}
        if group:
            obj["apiGroup"] = group
        if ns:
            obj["namespace"] = ns
        if name:
            obj["name"] = name
        if sub:
            obj["subresource"] = sub
        stamp = self.stamp_us()
        ev: Doc = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": self.uid(),
            "stage": "ResponseComplete",
            "requestURI": uri,
            "verb": verb,
            "user": {"username": user, "groups": groups},
            "sourceIPs": [ip],
            "userAgent": ua,
            "objectRef": obj,
            "responseStatus": {"metadata": {}, "code": code},
            "requestReceivedTimestamp": stamp,
            "stageTimestamp": stamp,
            "annotations": {
                "authorization.k8s.io/decision": "allow",
                "authorization.k8s.io/reason": reason,
            },
        }
        if user.startswith("system:serviceaccount:"):
            ev["user"]["uid"] = self.uid()
            ev["user"]["extra"] = {
                "authentication.kubernetes.io/pod-name": [
                    f"{user.rsplit(':', 1)[1]}-7c9d8f6b5-{self.uid()[:5]}"
                ]
            }
        if request is not None:
            ev["requestObject"] = request
            ev["level"] = "RequestResponse"
        if extra:
            ev.update(extra)
        return ev

    def control_plane(self) -> list[Doc]:
        r = self.rng.random()
        node = self.pick(self.nodes)
        nodes_groups = ["system:nodes", "system:authenticated"]
        if r < 0.3:  # kubelet lease renewal and node status
            if self.rng.random() < 0.7:
                return [
                    self.audit(
                        f"system:node:{node}",
                        nodes_groups,
                        "update",
                        "leases",
                        ns="kube-node-lease",
                        name=node,
                        group="coordination.k8s.io",
                        ua="kubelet/v1.30.4 (linux/amd64) kubernetes/0e1f8a4",
                        ip="10.0.1.17",
                    )
                ]
            return [
                self.audit(
                    f"system:node:{node}",
                    nodes_groups,
                    "patch",
                    "nodes",
                    name=node,
                    sub="status",
                    ua="kubelet/v1.30.4 (linux/amd64) kubernetes/0e1f8a4",
                    ip="10.0.1.17",
                )
            ]
        if r < 0.45:  # leader election of the control plane
            who = self.pick(
                [
                    "system:kube-controller-manager",
                    "system:kube-scheduler",
                    "eks:cloud-controller-manager",
                ]
            )
            lease = {
                "system:kube-controller-manager": "kube-controller-manager",
                "system:kube-scheduler": "kube-scheduler",
                "eks:cloud-controller-manager": "cloud-controller-manager",
            }[who]
            verb = self.pick(["get", "update"])
            return [
                self.audit(
                    who,
                    ["system:authenticated"],
                    verb,
                    "leases",
                    ns="kube-system",
                    name=lease,
                    group="coordination.k8s.io",
                    reason='RBAC: allowed by ClusterRoleBinding "system:kube-controller-manager"',
                )
            ]
        if r < 0.6:  # endpoints, endpoint slices, events
            ns = self.pick(["prod", "kube-system", "monitoring", "argocd"])
            res, grp = self.pick([("endpoints", ""), ("endpointslices", "discovery.k8s.io")])
            if self.rng.random() < 0.5:
                return [
                    self.audit(
                        "system:serviceaccount:kube-system:endpointslice-controller",
                        [
                            "system:serviceaccounts",
                            "system:serviceaccounts:kube-system",
                            "system:authenticated",
                        ],
                        "update",
                        res,
                        ns=ns,
                        name=self.pick(["orders-api", "catalog", "kube-dns", "argocd-server"]),
                        group=grp,
                    )
                ]
            return [
                self.audit(
                    self.pick(
                        [
                            f"system:node:{node}",
                            "system:kube-controller-manager",
                            "system:kube-scheduler",
                        ]
                    ),
                    ["system:authenticated"],
                    "create",
                    "events",
                    ns=ns,
                    group="",
                    ua="kubelet/v1.30.4 (linux/amd64) kubernetes/0e1f8a4",
                )
            ]
        if r < 0.75:  # the scheduler binds pods, controllers update status
            ns = self.pick(["prod", "monitoring"])
            pod = f"{self.pick(['orders-api', 'catalog', 'payments-worker'])}-7d9f8c6b5-{self.uid()[:5]}"
            if self.rng.random() < 0.5:
                return [
                    self.audit(
                        "system:kube-scheduler",
                        ["system:authenticated"],
                        "create",
                        "pods",
                        ns=ns,
                        name=pod,
                        sub="binding",
                        ua="kube-scheduler/v1.30.4 (linux/amd64) kubernetes/0e1f8a4/scheduler",
                    )
                ]
            return [
                self.audit(
                    "system:serviceaccount:kube-system:replicaset-controller",
                    [
                        "system:serviceaccounts",
                        "system:serviceaccounts:kube-system",
                        "system:authenticated",
                    ],
                    "update",
                    "replicasets",
                    ns=ns,
                    name=pod.rsplit("-", 1)[0],
                    group="apps",
                    sub="status",
                )
            ]
        if r < 0.9:  # eks:* components
            who, verb, res, ns, grp = self.pick(
                [
                    (
                        "eks:certificate-controller",
                        "list",
                        "certificatesigningrequests",
                        None,
                        "certificates.k8s.io",
                    ),
                    ("eks:node-manager", "get", "configmaps", "kube-system", ""),
                    ("eks:k8s-metrics", "list", "pods", None, ""),
                    ("eks:cluster-event-watcher", "watch", "events", None, ""),
                    ("eks:nodewatcher", "list", "nodes", None, ""),
                    (
                        "eks:vpc-resource-controller",
                        "get",
                        "leases",
                        "kube-system",
                        "coordination.k8s.io",
                    ),
                    ("eks:addon-manager", "get", "daemonsets", "kube-system", "apps"),
                    ("eks:authenticator", "get", "configmaps", "kube-system", ""),
                ]
            )
            name = (
                {
                    "configmaps": "aws-auth",
                    "leases": "cp-vpc-resource-controller",
                    "daemonsets": "aws-node",
                }.get(res)
                if verb == "get"
                else None
            )
            return [
                self.audit(
                    who,
                    ["system:authenticated"],
                    verb,
                    res,
                    ns=ns,
                    name=name,
                    group=grp,
                    ua="eks-controllers/v1.30.4",
                    ip="10.0.0.88",
                )
            ]
        # the cloud provider updates node addresses
        return [
            self.audit(
                "eks:cloud-controller-manager",
                ["system:authenticated"],
                "patch",
                "nodes",
                name=node,
                sub="status",
                ua="aws-cloud-controller-manager/v1.30.4",
            )
        ]

    def kube_system_controller(self) -> list[Doc]:
        sa, verb, res, grp, ns = self.pick(
            [
                ("aws-node", "list", "pods", "", None),
                ("aws-node", "watch", "pods", "", None),
                ("aws-node", "get", "nodes", "", None),
                ("aws-node", "list", "eniconfigs", "crd.k8s.amazonaws.com", None),
                ("kube-proxy", "watch", "endpointslices", "discovery.k8s.io", None),
                ("kube-proxy", "watch", "services", "", None),
                ("kube-proxy", "list", "nodes", "", None),
                ("coredns", "watch", "endpointslices", "discovery.k8s.io", None),
                ("coredns", "list", "services", "", None),
                ("coredns", "list", "namespaces", "", None),
                ("cluster-autoscaler", "list", "pods", "", None),
                ("cluster-autoscaler", "watch", "nodes", "", None),
                ("cluster-autoscaler", "list", "poddisruptionbudgets", "policy", None),
                ("cluster-autoscaler", "update", "configmaps", "", "kube-system"),
                ("cluster-autoscaler", "update", "leases", "coordination.k8s.io", "kube-system"),
                ("ebs-csi-controller-sa", "list", "persistentvolumes", "", None),
                ("aws-load-balancer-controller", "list", "ingresses", "networking.k8s.io", None),
            ]
        )
        kss = "kube-system"
        user = f"system:serviceaccount:{kss}:{sa}"
        name = None
        if verb == "update":
            name = "cluster-autoscaler-status" if res == "configmaps" else "cluster-autoscaler"
        if verb == "get":
            name = self.pick(self.nodes)
        out = [
            self.audit(
                user,
                ["system:serviceaccounts", f"system:serviceaccounts:{kss}", "system:authenticated"],
                verb,
                res,
                ns=ns,
                name=name,
                group=grp,
                ua=f"{sa}/v0.0.0 (linux/amd64) kubernetes/$Format",
                ip=f"10.0.{self.rng.randint(1, 3)}.{self.rng.randint(10, 250)}",
            )
        ]
        if self.rng.random() < 0.3:  # kube-state-metrics and prometheus list the cluster
            sa2 = self.pick(
                [
                    "system:serviceaccount:monitoring:kube-state-metrics",
                    "system:serviceaccount:monitoring:prometheus-k8s",
                ]
            )
            res2, grp2 = self.pick(
                [
                    ("pods", ""),
                    ("nodes", ""),
                    ("deployments", "apps"),
                    ("services", ""),
                    ("namespaces", ""),
                    ("horizontalpodautoscalers", "autoscaling"),
                ]
            )
            out.append(
                self.audit(
                    sa2,
                    [
                        "system:serviceaccounts",
                        "system:serviceaccounts:monitoring",
                        "system:authenticated",
                    ],
                    "list",
                    res2,
                    group=grp2,
                    ua="kube-state-metrics/v2.12.0",
                    ip="10.0.2.77",
                )
            )
        return out

    def _pod_spec(self, image: str, app: str, *, node_agent: bool = False) -> Doc:
        container: Doc = {
            "name": app,
            "image": image,
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"memory": "512Mi"},
            },
            "securityContext": {
                "runAsNonRoot": True,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        }
        spec: Doc = {"serviceAccountName": app, "containers": [container]}
        if node_agent:
            container["securityContext"] = {"privileged": True}
            spec["hostNetwork"] = True
            spec["priorityClassName"] = "system-node-critical"
            spec["volumes"] = [
                {
                    "name": "xtables-lock",
                    "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"},
                }
            ]
            container.pop("ports", None)
        return spec

    def daemonset_pod(self) -> list[Doc]:
        """A new node joined: the DaemonSet controller starts kube-system's node agents on it."""
        app, image = self.pick(
            [
                ("aws-node", f"{ECR}/amazon-k8s-cni:v1.18.3-eksbuild.1"),
                ("kube-proxy", f"{ECR}/eks/kube-proxy:v1.30.3-minimal-eksbuild.5"),
            ]
        )
        pod = f"{app}-{self.uid()[:5]}"
        spec = self._pod_spec(image, app, node_agent=True)
        spec["nodeName"] = self.pick(self.nodes)
        body = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "generateName": f"{app}-",
                "namespace": "kube-system",
                "labels": {"k8s-app": app},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "DaemonSet",
                        "name": app,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
        }
        return [
            self.audit(
                "system:serviceaccount:kube-system:daemon-set-controller",
                [
                    "system:serviceaccounts",
                    "system:serviceaccounts:kube-system",
                    "system:authenticated",
                ],
                "create",
                "pods",
                ns="kube-system",
                name=pod,
                request=body,
                uri="/api/v1/namespaces/kube-system/pods",
                code=201,
                extra={
                    "responseObject": {
                        "kind": "Pod",
                        "apiVersion": "v1",
                        "metadata": {"name": pod, "namespace": "kube-system"},
                        "spec": spec,
                    }
                },
            )
        ]

    def ci_deploy(self) -> list[Doc]:
        """helm upgrade from CI, or Argo CD syncing an application."""
        app = self.pick(["orders-api", "catalog", "payments-worker", "search", "notify"])
        ns = "prod"
        image = f"{APP_ECR}/{app}:{self.rng.getrandbits(28):07x}"
        if self.rng.random() < 0.5:
            user = "system:serviceaccount:argocd:argocd-application-controller"
            groups = [
                "system:serviceaccounts",
                "system:serviceaccounts:argocd",
                "system:authenticated",
            ]
            ua = "argocd-application-controller/v2.11.3 (linux/amd64)"
            ip = "10.0.3.40"
        else:
            user = "ci-deployer"
            groups = ["ci-deployers", "system:authenticated"]
            ua = "Helm/3.15.2"
            ip = "4.148.0.12"
        rev = self.rng.randint(2, 300)
        deploy = {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": app,
                "namespace": ns,
                "labels": {"app.kubernetes.io/name": app, "app.kubernetes.io/managed-by": "Helm"},
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": app}},
                "template": {
                    "metadata": {"labels": {"app": app}},
                    "spec": self._pod_spec(image, app),
                },
            },
        }
        out = []
        if user == "ci-deployer":
            out.append(
                self.audit(
                    user,
                    groups,
                    "list",
                    "secrets",
                    ns=ns,
                    ua=ua,
                    ip=ip,
                    uri=f"/api/v1/namespaces/{ns}/secrets?labelSelector=name%3D{app}%2Cowner%3Dhelm",
                    reason='RBAC: allowed by RoleBinding "ci-deployer/prod"',
                )
            )
        out.append(
            self.audit(
                user,
                groups,
                "patch",
                "deployments",
                ns=ns,
                name=app,
                group="apps",
                ua=ua,
                ip=ip,
                request=deploy,
                reason='RBAC: allowed by RoleBinding "deployers/prod"',
            )
        )
        out.append(
            self.audit(
                user,
                groups,
                "patch",
                "configmaps",
                ns=ns,
                name=f"{app}-config",
                ua=ua,
                ip=ip,
                request={
                    "kind": "ConfigMap",
                    "apiVersion": "v1",
                    "metadata": {"name": f"{app}-config", "namespace": ns},
                    "data": {
                        "LOG_LEVEL": "info",
                        "FEATURE_FLAGS": "checkout-v2,fast-search",
                        "UPSTREAM_URL": f"http://{app}.prod.svc.cluster.local:8080",
                    },
                },
            )
        )
        out.append(
            self.audit(
                user,
                groups,
                "patch",
                "services",
                ns=ns,
                name=app,
                ua=ua,
                ip=ip,
                request={
                    "kind": "Service",
                    "apiVersion": "v1",
                    "metadata": {"name": app, "namespace": ns},
                    "spec": {
                        "type": "ClusterIP",
                        "selector": {"app": app},
                        "ports": [{"port": 80, "targetPort": 8080}],
                    },
                },
            )
        )
        if user == "ci-deployer":
            rel = f"sh.helm.release.v1.{app}.v{rev}"
            out.append(
                self.audit(
                    user,
                    groups,
                    "create",
                    "secrets",
                    ns=ns,
                    name=rel,
                    ua=ua,
                    ip=ip,
                    code=201,
                    uri=f"/api/v1/namespaces/{ns}/secrets",
                )
            )
        # the deployment controller rolls a new ReplicaSet, which creates pods
        rs = f"{app}-{self.rng.getrandbits(40):010x}"[: len(app) + 11]
        out.append(
            self.audit(
                "system:serviceaccount:kube-system:deployment-controller",
                [
                    "system:serviceaccounts",
                    "system:serviceaccounts:kube-system",
                    "system:authenticated",
                ],
                "create",
                "replicasets",
                ns=ns,
                name=rs,
                group="apps",
                code=201,
                uri=f"/apis/apps/v1/namespaces/{ns}/replicasets",
            )
        )
        pod_body = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"generateName": f"{rs}-", "namespace": ns, "labels": {"app": app}},
            "spec": self._pod_spec(image, app),
        }
        out.append(
            self.audit(
                "system:serviceaccount:kube-system:replicaset-controller",
                [
                    "system:serviceaccounts",
                    "system:serviceaccounts:kube-system",
                    "system:authenticated",
                ],
                "create",
                "pods",
                ns=ns,
                name=f"{rs}-{self.uid()[:5]}",
                code=201,
                request=pod_body,
                uri=f"/api/v1/namespaces/{ns}/pods",
            )
        )
        return out

    def developer(self) -> list[Doc]:
        """kubectl get / describe / logs by a developer signed in through IAM Identity Center."""
        user = self.pick(["alice", "bob", "chen"])
        groups = ["developers", "system:authenticated"]
        ua = "kubectl/v1.30.2 (darwin/arm64) kubernetes/3968350"
        ip = f"198.51.100.{self.rng.randint(20, 40)}"
        ns = self.pick(["prod", "staging"])
        app = self.pick(["orders-api", "catalog", "payments-worker"])
        pod = f"{app}-7d9f8c6b5-{self.uid()[:5]}"
        extra = {
            "user": {
                "username": user,
                "uid": f"aws-iam-authenticator:{ACCOUNT}:AROAEXAMPLE{user.upper()}",
                "groups": groups,
                "extra": {
                    "arn": [
                        f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Developer_9a8b7c6d5e4f3a21/{user}@example.com"
                    ],
                    "canonicalArn": [
                        f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Developer_9a8b7c6d5e4f3a21"
                    ],
                    "sessionName": [f"{user}@example.com"],
                },
            }
        }
        r = self.rng.random()
        reason = 'RBAC: allowed by ClusterRoleBinding "developers-view" of ClusterRole "view" to Group "developers"'
        if r < 0.4:
            evs = [
                self.audit(
                    user, groups, "list", "pods", ns=ns, ua=ua, ip=ip, reason=reason, extra=extra
                )
            ]
        elif r < 0.7:  # kubectl describe pod: the pod, then its events
            evs = [
                self.audit(
                    user,
                    groups,
                    "get",
                    "pods",
                    ns=ns,
                    name=pod,
                    ua=ua,
                    ip=ip,
                    reason=reason,
                    extra=extra,
                ),
                self.audit(
                    user,
                    groups,
                    "list",
                    "events",
                    ns=ns,
                    ua=ua,
                    ip=ip,
                    reason=reason,
                    extra=extra,
                    uri=f"/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3D{pod}",
                ),
            ]
        elif r < 0.85:
            evs = [
                self.audit(
                    user,
                    groups,
                    "get",
                    "pods",
                    ns=ns,
                    name=pod,
                    sub="log",
                    ua=ua,
                    ip=ip,
                    reason=reason,
                    extra=extra,
                )
            ]
        else:
            evs = [
                self.audit(
                    user,
                    groups,
                    self.pick(["get", "list"]),
                    self.pick(["deployments", "services", "configmaps"]),
                    ns=ns,
                    group="",
                    ua=ua,
                    ip=ip,
                    reason=reason,
                    extra=extra,
                )
            ]
        return evs

    # --- the mix ------------------------------------------------------------------------

    def batches(self) -> Iterator[tuple[str, list[Doc]]]:
        """Endless batches of related events, with each kind's share of a real day."""
        kinds: list[tuple[float, str, Callable[[], list[Doc]]]] = [
            (0.02, CLOUDTRAIL, self.cfn_deploy),
            (0.01, CLOUDTRAIL, self.pipeline_lambda_update),
            (0.04, CLOUDTRAIL, self.console_browse),
            (0.02, CLOUDTRAIL, self.autoscaling),
            (0.30, CLOUDTRAIL, self.routine),
            (0.34, K8S_AUDIT, self.control_plane),
            (0.14, K8S_AUDIT, self.kube_system_controller),
            (0.01, K8S_AUDIT, self.daemonset_pod),
            (0.03, K8S_AUDIT, self.ci_deploy),
            (0.09, K8S_AUDIT, self.developer),
        ]
        weights = [k[0] for k in kinds]
        while True:
            _, source, make = self.rng.choices(kinds, weights)[0]
            yield source, make()


def generate(n: int, seed: int = 11) -> Iterator[Source]:
    """``n`` (source, document) pairs of ordinary activity; the same for the same seed."""
    left = n
    for source, docs in Corpus(seed).batches():
        for doc in docs:
            if left <= 0:
                return
            left -= 1
            yield source, doc


def write_jsonl(path: Path, events: Iterator[Source]) -> dict[str, int]:
    """Write the events as JSON lines (what `lanner scan` reads); returns counts by source."""
    counts: Counter[str] = Counter()
    with path.open("w") as fh:
        for source, doc in events:
            counts[source] += 1
            fh.write(json.dumps(doc, separators=(",", ":")) + "\n")
    return dict(counts)


# --- measuring ---------------------------------------------------------------------------------


def measure(
    n: int, seed: int
) -> tuple[Counter[str], Counter[tuple[str, str]], Counter[str], float, float]:
    """Events by source, alerts by (priority, rule), alerts by priority, seconds to
    generate, seconds to evaluate."""
    from lanner import compile_rules, load_rules

    t0 = time.perf_counter()
    events = list(generate(n, seed))
    t1 = time.perf_counter()
    engine = compile_rules(load_rules([str(ROOT / "rules")]), match="all")
    sources: Counter[str] = Counter()
    by_rule: Counter[tuple[str, str]] = Counter()
    by_priority: Counter[str] = Counter()
    t2 = time.perf_counter()
    for source, doc in events:
        sources[source] += 1
        for alert in engine.evaluate(doc, source):
            by_rule[(alert.priority.name, alert.rule)] += 1
            by_priority[alert.priority.name] += 1
    t3 = time.perf_counter()
    return sources, by_rule, by_priority, t1 - t0, t3 - t2


def main(argv: list[str] | None = None) -> int:
    from lanner.priority import Priority

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--write", type=Path, help="also write the corpus as JSON lines to this file")
    args = ap.parse_args(argv)
    if args.write:
        counts = write_jsonl(args.write, generate(args.events, args.seed))
        print(f"wrote {sum(counts.values())} events to {args.write}: {counts}")
    sources, by_rule, by_priority, gen_s, eval_s = measure(args.events, args.seed)
    total = sum(sources.values())
    print(
        f"corpus: {total} events (seed {args.seed}): "
        + ", ".join(f"{s} {n}" for s, n in sorted(sources.items()))
    )
    print(
        f"generated in {gen_s:.1f} s, evaluated with the bundled rules (match=all) in {eval_s:.1f} s"
    )
    print("alerts per million events, by priority:")
    for p in sorted(Priority, key=lambda p: p.value):
        count = by_priority.get(p.name, 0)
        print(f"  {p.name:<13} {count * 1e6 / total:>10.1f}   ({count} alerts)")
    for (prio, rule), count in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:>8}  {prio:<13} {rule}")
    warn = Priority["WARNING"].value
    loud = sum(c for (p, _), c in by_rule.items() if Priority[p].value <= warn)
    return 1 if loud else 0


if __name__ == "__main__":
    sys.exit(main())

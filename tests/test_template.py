"""The AWS deployment: template.yaml (SAM) and infra/sensor-irsa.yaml, checked offline.

template.yaml is transformed with aws-sam-translator as CloudFormation's SAM transform would
(no AWS call: the managed-policy lookup is stubbed, and the template names no managed policy),
then linted with cfn-lint. The other tests read the transformed template, the one that would
be deployed: IAM stays least-privilege and sufficient, every failure path ends in an alarmed
queue, and each combination of "parts you already have" leaves no dangling reference.
The Makefile's build target is run for this machine's Python and imported without the venv.
The dashboard's part is checked against the code it deploys: the alert store's table against
dashboard/table.py, its two roles against the DynamoDB calls the store really makes (on moto).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode.decode import decode_str
from samtranslator.translator.arn_generator import ArnGenerator
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

from tests.aws.conftest import aws, moto_endpoint  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
IRSA = ROOT / "infra" / "sensor-irsa.yaml"
MANIFEST = ROOT / "infra" / "kustomize" / "overlays" / "example" / "service-account.yaml"
MAKEFILE = ROOT / "Makefile"

# The environment variables the functions read (the contract between template.yaml, the
# functions and `lanner demo`), and the three every detector must get.
CONTRACT_ENV = {
    "LANNER_ALERT_TOPIC_ARN",
    "LANNER_DEDUP_TABLE",
    "LANNER_QUARANTINE_QUEUE_URL",
    "LANNER_RULES_DIR",
    "LANNER_RULES_S3_URI",
    "LANNER_RULES_REFRESH_SECONDS",
    "LANNER_MIN_PRIORITY",
    "LANNER_DEDUP_TTL_SECONDS",
    "LANNER_DEDUP_WINDOW_SECONDS",
    "LANNER_FINGERPRINT_FIELDS",
    "LANNER_DESTINATION",
    "LANNER_DEAD_LETTER_QUEUE_URL",
    "LANNER_DESTINATION_SECRET",
    "LANNER_OCSF_BUCKET",
    "LANNER_OCSF_PREFIX",
    "LANNER_INTAKE_TOKEN_SECRET",
    "LANNER_ALERT_STORE_TABLE",
    "LANNER_ALERT_RETENTION_DAYS",
    "LANNER_DASHBOARD_USER_POOL_ID",
    "LANNER_DASHBOARD_CLIENT_ID",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOGGER_LOG_EVENT",
}
REQUIRED_ENV = {"LANNER_ALERT_TOPIC_ARN", "LANNER_DEDUP_TABLE", "LANNER_QUARANTINE_QUEUE_URL"}
DETECTORS = {
    "KinesisDetector": "functions.kinesis_detector.handler",
    "CloudTrailDetector": "functions.cloudtrail_detector.handler",
    "EksAuditDetector": "functions.eks_audit_detector.handler",
}
# Alert delivery: function -> (LANNER_DESTINATION, the condition that creates it, its secret
# parameter or None, its minimum-priority parameter, the prefix of its list filters or None).
# The alert store is always there and takes every alert: no condition, no routing.
DESTINATIONS = {
    "SlackDelivery": ("slack", "HasSlack", "SlackSecretArn", "SlackMinPriority", "Slack"),
    "WebhookDelivery": (
        "webhook",
        "HasWebhook",
        "WebhookSecretArn",
        "WebhookMinPriority",
        "Webhook",
    ),
    "PagerDutyDelivery": (
        "pagerduty",
        "HasPagerDuty",
        "PagerDutySecretArn",
        "PagerDutyMinPriority",
        "PagerDuty",
    ),
    "SecurityHubDelivery": ("securityhub", "HasSecurityHub", None, "SecurityHubMinPriority", None),
    "OcsfDelivery": ("ocsf", "HasOcsf", None, "OcsfMinPriority", None),
    "StoreDelivery": ("store", None, None, None, None),
}
# The destinations a parameter switches on, each through a subscription's filter policy.
ROUTED = {name: d for name, d in DESTINATIONS.items() if d[1] is not None}
HANDLERS = {
    **DETECTORS,
    **dict.fromkeys(DESTINATIONS, "functions.deliver_handler.handler"),
    "AlertSummarizer": "functions.summarize_handler.handler",
    "FalcoIntake": "functions.intake_handler.handler",
    "DashboardFunction": "functions.dashboard_handler.handler",
}
# The dashboard's routes (API Gateway route keys): the page, its files and its sign-in
# settings answer anyone and hold no alert data; everything under /api/ needs a user pool token.
PUBLIC_ROUTES = {"GET /", "GET /assets/{proxy+}", "GET /config.json"}
PROTECTED_ROUTES = {"GET /api/{proxy+}"}
# What the alert store's code does to its table (the test on moto below checks these): the
# delivery function writes (a conditional put, counter updates), the dashboard only reads.
STORE_WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem")
STORE_READS = ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem")
# The filter policy's list parameters (<Dest><suffix>) and the message attribute each matches.
LIST_FILTERS = {
    "Rules": "rule",
    "Sources": "source",
    "Tags": "tags",
    "Namespaces": "k8s_ns",
    "Accounts": "account",
}
# cfn-lint warnings accepted, by rule id, with the reason. None today.
ACCEPTED_WARNINGS: dict[str, str] = {}
LINT_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]

# Parameters for "the user already has everything": an existing stream (with a CMK), trail
# bucket (SSE-KMS), EKS cluster, alarm topic and rules bucket.
EXISTING = {
    "ExistingStreamArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/events",
    "ExistingStreamKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000001",
    "CloudTrailBucketName": "org-cloudtrail-logs",
    "CloudTrailKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-0000-4000-8000-000000000002",
    "CloudTrailEventBridge": "false",
    "EksClusterName": "prod",
    "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops",
    "RulesBucketName": "my-lanner-rules",
}


def _secret(name: str) -> str:
    return f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:lanner/{name}-AbC123"


# Parameters that switch on each alert destination, the e-mail subscription, the Falco intake,
# the dashboard's first user.
ENABLE = {
    "SlackDelivery": {"SlackSecretArn": _secret("slack")},
    "WebhookDelivery": {"WebhookSecretArn": _secret("webhook")},
    "PagerDutyDelivery": {"PagerDutySecretArn": _secret("pagerduty")},
    "SecurityHubDelivery": {"SecurityHubMinPriority": "error"},
    "OcsfDelivery": {"OcsfBucketName": "org-security-lake"},
    "AlertEmailSubscription": {"AlertEmail": "secops@example.com"},
    "FalcoIntake": {"IntakeTokenSecretArn": _secret("falco-token")},
    "DashboardAdminUser": {"DashboardAdminEmail": "secops@example.com"},
}
EVERY_DELIVERY = {k: v for params in ENABLE.values() for k, v in params.items()}


def _load(path: Path) -> dict[str, Any]:
    """A CloudFormation YAML template as plain data (short-form tags become Fn:: dicts)."""
    template, errors = decode_str(path.read_text())
    assert not errors, [str(e) for e in errors]
    assert template is not None
    loaded: dict[str, Any] = json.loads(json.dumps(template))
    return loaded


class _NoManagedPolicies(ManagedPolicyLoader):
    """The translator asks IAM for AWS managed policy ARNs by name; the template names none."""

    def __init__(self) -> None:
        pass

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return _load(TEMPLATE)


@pytest.fixture(scope="module")
def cfn(sam: dict[str, Any]) -> dict[str, Any]:
    """template.yaml after the SAM transform, with the code where `sam package` puts it."""
    source = copy.deepcopy(sam)
    for res in source["Resources"].values():
        if res["Type"] == "AWS::Serverless::Function":
            res["Properties"]["CodeUri"] = {
                "Bucket": "lanner-artifacts-123456789012",
                "Key": "lanner.zip",
            }
    with pytest.MonkeyPatch.context() as mp:
        # The translator asks boto3 for the region to pick the partition: no AWS call.
        mp.setattr(ArnGenerator, "BOTO_SESSION_REGION_NAME", "us-east-1")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        out: dict[str, Any] = transform(source, {}, _NoManagedPolicies())
    return out


def _resources(cfn: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == rtype}


def _lint(template: dict[str, Any] | Path, tmp_path: Path) -> list[Any]:
    if isinstance(template, dict):
        path = tmp_path / "template.json"
        path.write_text(json.dumps(template, indent=1))
    else:
        path = template
    return lint_file(path, config=ManualArgs(regions=LINT_REGIONS))


def _report(matches: list[Any]) -> list[str]:
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in matches]


# --- cfn-lint ------------------------------------------------------------------------------


def test_transformed_template_lints_clean(cfn: dict[str, Any], tmp_path: Path) -> None:
    assert "Transform" not in cfn, "the SAM transform did not run"
    matches = _lint(cfn, tmp_path)
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert not errors, _report(errors)
    unexpected = [m for m in matches if m.rule.id not in ACCEPTED_WARNINGS]
    assert not unexpected, _report(unexpected)


def test_irsa_template_lints_clean(tmp_path: Path) -> None:
    matches = _lint(IRSA, tmp_path)
    assert not matches, _report(matches)


# --- functions: handlers, runtime, environment, packaging ---------------------------------


def test_each_function_runs_its_contract_handler(cfn: dict[str, Any]) -> None:
    functions = _resources(cfn, "AWS::Lambda::Function")
    assert {k: f["Properties"]["Handler"] for k, f in functions.items()} == HANDLERS
    for handler in sorted(set(HANDLERS.values())):
        module_name, _, attr = handler.rpartition(".")
        assert (ROOT / Path(*module_name.split("."))).with_suffix(".py").is_file(), handler
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attr, None)), f"{handler} is not a function"


def test_functions_get_only_contract_environment_variables(cfn: dict[str, Any]) -> None:
    for name, fn in _resources(cfn, "AWS::Lambda::Function").items():
        env = set(fn["Properties"]["Environment"]["Variables"])
        assert env <= CONTRACT_ENV, f"{name}: not in the contract: {sorted(env - CONTRACT_ENV)}"
        assert env >= REQUIRED_ENV, f"{name}: missing {sorted(REQUIRED_ENV - env)}"
        variables = fn["Properties"]["Environment"]["Variables"]
        assert variables["LANNER_DEDUP_WINDOW_SECONDS"] == {"Ref": "DedupWindowSeconds"}, name
        # Never turned on: the intake's events can carry its token in the query string.
        assert variables.get("POWERTOOLS_LOGGER_LOG_EVENT", "false") == "false", name
        assert variables["LANNER_FINGERPRINT_FIELDS"] == {"Ref": "FingerprintFields"}, name


def test_each_delivery_function_gets_its_destination_and_nothing_else(cfn: dict[str, Any]) -> None:
    functions = _resources(cfn, "AWS::Lambda::Function")
    common = {
        "LANNER_DESTINATION",
        "LANNER_DEAD_LETTER_QUEUE_URL",
        "LANNER_DESTINATION_SECRET",
        "LANNER_OCSF_BUCKET",
        "LANNER_OCSF_PREFIX",
        "LANNER_ALERT_STORE_TABLE",
        "LANNER_ALERT_RETENTION_DAYS",
    }
    for name, (destination, _, secret, _, _) in DESTINATIONS.items():
        env = functions[name]["Properties"]["Environment"]["Variables"]
        expected = {
            "LANNER_DESTINATION": destination,
            "LANNER_DEAD_LETTER_QUEUE_URL": {"Ref": f"{name}DeadLetterQueue"},
        }
        if secret:
            expected["LANNER_DESTINATION_SECRET"] = {"Ref": secret}
        if destination == "ocsf":
            expected["LANNER_OCSF_BUCKET"] = {"Ref": "OcsfBucketName"}
            expected["LANNER_OCSF_PREFIX"] = {"Ref": "OcsfPrefix"}
        if destination == "store":
            expected["LANNER_ALERT_STORE_TABLE"] = {"Ref": "AlertStoreTable"}
            expected["LANNER_ALERT_RETENTION_DAYS"] = {"Ref": "AlertRetentionDays"}
        assert {k: v for k, v in env.items() if k in common} == expected, name
        assert "LANNER_INTAKE_TOKEN_SECRET" not in env, name
    intake = functions["FalcoIntake"]["Properties"]["Environment"]["Variables"]
    assert intake["LANNER_INTAKE_TOKEN_SECRET"] == {"Ref": "IntakeTokenSecretArn"}
    for name in [*DETECTORS, "AlertSummarizer", "FalcoIntake"]:
        env = functions[name]["Properties"]["Environment"]["Variables"]
        assert not common & set(env), name
    # The dashboard reads the store and tells the page where to sign in; it writes nothing,
    # so it has no retention, and no destination.
    dashboard = functions["DashboardFunction"]["Properties"]["Environment"]["Variables"]
    assert {k: v for k, v in dashboard.items() if k in common or "DASHBOARD" in k} == {
        "LANNER_ALERT_STORE_TABLE": {"Ref": "AlertStoreTable"},
        "LANNER_DASHBOARD_USER_POOL_ID": {"Ref": "DashboardUserPool"},
        "LANNER_DASHBOARD_CLIENT_ID": {"Ref": "DashboardUserPoolClient"},
    }
    assert not any(
        "DASHBOARD" in k
        for n, f in functions.items()
        if n != "DashboardFunction"
        for k in f["Properties"]["Environment"]["Variables"]
    )


def _make_variable(name: str) -> str:
    match = re.search(rf"^{name} \?= (\S+)$", MAKEFILE.read_text(), re.MULTILINE)
    assert match, f"{name} is not set in the Makefile"
    return match.group(1)


def test_functions_run_the_platform_the_makefile_builds_for(
    sam: dict[str, Any], cfn: dict[str, Any]
) -> None:
    arch = {"aarch64": "arm64", "x86_64": "x86_64"}[_make_variable("LAMBDA_ARCH")]
    runtime = "python" + _make_variable("LAMBDA_PYTHON")
    targets = set(
        re.findall(r"^LAMBDA_FUNCTIONS := (.+)$", MAKEFILE.read_text(), re.MULTILINE)[0].split()
    )
    for name, fn in _resources(cfn, "AWS::Lambda::Function").items():
        assert fn["Properties"]["Runtime"] == runtime, name
        assert fn["Properties"]["Architectures"] == [arch], name
        # `sam build` runs `make build-<LogicalId>` for a makefile build.
        assert sam["Resources"][name]["Metadata"] == {"BuildMethod": "makefile"}, name
        assert sam["Resources"][name]["Properties"]["CodeUri"] == ".", name
        assert name in targets, f"the Makefile has no build-{name}"
        # Only the summarizer runs one at a time (two would close the same windows).
        reserved = fn["Properties"].get("ReservedConcurrentExecutions")
        assert reserved == (1 if name == "AlertSummarizer" else None), name


def _runtime_provided_paths() -> list[str]:
    """boto3 and what it imports, from this environment: the Lambda runtime provides them."""
    paths = []
    for name in ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, f"{name} is not installed"
        origin = Path(spec.origin)
        paths.append(str(origin.parent if origin.name == "__init__.py" else origin))
    return paths


def test_build_target_makes_a_self_contained_artifact(tmp_path: Path) -> None:
    # For this machine's Python and CPU, so the artifact can be imported here; sam build uses
    # the Makefile's defaults (the template's runtime and arm64).
    art = tmp_path / "artifact"
    arch = os.uname().machine
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    build = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "build-KinesisDetector",
            f"ARTIFACTS_DIR={art}",
            f"PYTHON={sys.executable}",
            f"LAMBDA_ARCH={arch}",
            f"LAMBDA_PYTHON={py}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    top = {p.name for p in art.iterdir()}
    assert {
        "lanner",
        "functions",
        "rules",
        "deliver",
        "re2",
        "yaml",
        "pydantic",
        "aws_lambda_powertools",
        "slack_sdk",
        "standardwebhooks",
        "py_ocsf_models",
        "dashboard",
    } <= top
    assert not {"boto3", "botocore", "click", "cli", "tests", "sensor", "bpf", "bin"} & top, top
    assert not list(art.rglob("__pycache__"))
    assert (art / "rules" / "aws_cloudtrail_rules.yaml").is_file()
    # The dashboard function serves the page from its own package.
    assert (art / "dashboard" / "static" / "index.html").is_file()
    assert not (art / "rules" / "tests").exists(), "rule examples are not for the detectors"
    size = sum(p.stat().st_size for p in art.rglob("*") if p.is_file())
    assert size < 60 * 2**20, f"artifact is {size / 2**20:.0f} MiB"

    # Import every handler and load the bundled rules with nothing but the artifact and
    # boto3 on the path (-S: no site-packages, so nothing leaks in from the venv).
    boto = tmp_path / "runtime-provided"
    boto.mkdir()
    for path in _runtime_provided_paths():
        (boto / Path(path).name).symlink_to(path)
    modules = ", ".join(sorted({h.rpartition(".")[0] for h in HANDLERS.values()}))
    script = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        f"import {modules}\n"
        "from functions.settings import Settings\n"
        "from lanner import load_rules\n"
        "s = Settings.from_env()\n"
        "print(s.rules_dir, len(load_rules([str(s.rules_dir)]).rules), 'click' in sys.modules)\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "LANNER_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
        "LANNER_DEDUP_TABLE": "dedup",
        "LANNER_QUARANTINE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
    }
    run = subprocess.run(
        [sys.executable, "-S", "-c", script, str(art), str(boto)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rules_dir, count, click_loaded = run.stdout.split()
    assert rules_dir == str(art / "rules")
    assert int(count) > 0
    assert click_loaded == "False"


# --- the Kinesis event source -------------------------------------------------------------


def _event_source(cfn: dict[str, Any], function: str) -> dict[str, Any]:
    (esm,) = [
        r["Properties"]
        for r in _resources(cfn, "AWS::Lambda::EventSourceMapping").values()
        if r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    return esm


def test_kinesis_event_source_batches_bisects_retries_and_dead_letters(cfn: dict[str, Any]) -> None:
    esm = _event_source(cfn, "KinesisDetector")
    assert esm["EventSourceArn"] == {
        "Fn::If": ["CreateStream", {"Fn::GetAtt": ["Stream", "Arn"]}, {"Ref": "ExistingStreamArn"}]
    }
    assert esm["StartingPosition"] == "LATEST"
    assert 1 <= esm["BatchSize"] <= 1000
    assert 0 < esm["MaximumBatchingWindowInSeconds"] <= 10
    assert esm["BisectBatchOnFunctionError"] is True
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 0 <= esm["MaximumRetryAttempts"] <= 10
    # Records give up before the stream's retention ends, so the failure pointers can be replayed.
    retention_s = cfn["Resources"]["Stream"]["Properties"]["RetentionPeriodHours"] * 3600
    assert 0 < esm["MaximumRecordAgeInSeconds"] < retention_s
    destination = esm["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["KinesisFailureQueue", "Arn"]}


def test_cloudtrail_queue_reports_item_failures_and_redrives(cfn: dict[str, Any]) -> None:
    esm = _event_source(cfn, "CloudTrailDetector")
    assert esm["EventSourceArn"] == {"Fn::GetAtt": ["CloudTrailQueue", "Arn"]}
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = cfn["Resources"]["CloudTrailQueue"]["Properties"]
    timeout = cfn["Resources"]["CloudTrailDetector"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["CloudTrailDeadLetterQueue", "Arn"]
    }


def test_delivery_queues_report_item_failures_redrive_after_ten_receives_and_are_alarmed(
    cfn: dict[str, Any],
) -> None:
    res = cfn["Resources"]
    outputs = cfn["Outputs"]
    for name, (_, condition, _, _, _) in DESTINATIONS.items():
        queue, dlq = f"{name}Queue", f"{name}DeadLetterQueue"
        esm = _event_source(cfn, name)
        assert esm["EventSourceArn"] == _getatt(queue), name
        assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        assert esm["BatchSize"] == 10, name
        timeout = res[name]["Properties"]["Timeout"]
        assert timeout == 60, name
        props = res[queue]["Properties"]
        assert props["VisibilityTimeout"] == 6 * timeout, name
        assert props["RedrivePolicy"] == {
            "deadLetterTargetArn": _getatt(dlq),
            "maxReceiveCount": 10,
        }
        assert res[dlq]["Properties"]["MessageRetentionPeriod"] == 1209600, name
        # Raw alert JSON from the topic, through a filter policy; the store takes them all,
        # summaries included (no filter policy, no scope, no other attribute).
        sub = res[f"{name}Subscription"]["Properties"]
        assert sub["TopicArn"] == {"Ref": "AlertTopic"} and sub["Protocol"] == "sqs", name
        assert sub["Endpoint"] == _getatt(queue) and sub["RawMessageDelivery"] is True, name
        if name in ROUTED:
            assert "FilterPolicy" in sub, name
        else:
            assert set(sub) == {"TopicArn", "Protocol", "Endpoint", "RawMessageDelivery"}, name
        # `lanner alerts redrive --queue URL` takes the dead-letter queue's URL from the outputs.
        prefix = name.removesuffix("Delivery")
        output = outputs[f"{prefix}DeadLetterQueueUrl"]
        assert output["Value"] == {"Ref": dlq} and output.get("Condition") == condition, name
        for resource in (queue, dlq, f"{name}Subscription", f"{name}QueuePolicy", name):
            assert res[resource].get("Condition") == condition, resource


def test_eks_subscription_reads_the_clusters_log_group_and_passes_only_audit_events(
    cfn: dict[str, Any],
) -> None:
    (sub,) = _resources(cfn, "AWS::Logs::SubscriptionFilter").values()
    assert sub["Condition"] == "HasEksCluster"
    assert sub["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/eks/${EksClusterName}/cluster"}
    assert sub["Properties"]["DestinationArn"] == {"Fn::GetAtt": ["EksAuditDetector", "Arn"]}
    pattern = sub["Properties"]["FilterPattern"]
    assert '$.apiVersion = "audit.k8s.io/v1"' in pattern and '$.kind = "Event"' in pattern


def test_eventbridge_rule_sends_cloudtrail_management_events_with_retries_and_a_dlq(
    cfn: dict[str, Any],
) -> None:
    rule = cfn["Resources"]["CloudTrailEventsRule"]
    assert rule["Properties"]["EventPattern"] == {
        "detail-type": ["AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"]
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["CloudTrailDetector", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": ["CloudTrailEventsFailureQueue", "Arn"]
    }
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


# --- failures end in alarmed queues -------------------------------------------------------


def _queue_of(arn: Any) -> str:
    assert isinstance(arn, dict) and "Fn::GetAtt" in arn, arn
    name, attr = arn["Fn::GetAtt"]
    assert attr == "Arn"
    return str(name)


def test_every_failure_path_ends_in_an_alarmed_queue(cfn: dict[str, Any]) -> None:
    res = cfn["Resources"]
    destinations = {
        _queue_of(
            _event_source(cfn, "KinesisDetector")["DestinationConfig"]["OnFailure"]["Destination"]
        ),
        _queue_of(
            res["CloudTrailEventsRule"]["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]
        ),
        "QuarantineQueue",
    }
    # Every queue with a redrive policy: CloudTrail's and each alert destination's.
    redriven = {
        name: _queue_of(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for name, q in _resources(cfn, "AWS::SQS::Queue").items()
        if "RedrivePolicy" in q["Properties"]
    }
    assert set(redriven) == {"CloudTrailQueue", *(f"{d}Queue" for d in DESTINATIONS)}
    destinations |= set(redriven.values())
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in _resources(cfn, "AWS::Lambda::EventInvokeConfig").values()
    }
    for function, cfg in configs.items():
        if function == "AlertSummarizer":
            # Its input is the clock: a failed run is not retried, the next minute's run takes
            # the same windows (they stay pending in the table), and nothing is dead-lettered.
            assert cfg["MaximumRetryAttempts"] == 0 and "DestinationConfig" not in cfg
            assert cfg["MaximumEventAgeInSeconds"] == 60
            continue
        destinations.add(_queue_of(cfg["DestinationConfig"]["OnFailure"]["Destination"]))
    # Every async-invoked function (EventBridge, CloudWatch Logs) has an invoke config, and all
    # but the summarizer an on-failure destination. (The Falco intake's function URL and the
    # dashboard's API invoke synchronously: Falco, or the page, gets the error.)
    async_functions = {
        p["Properties"]["FunctionName"]["Ref"]
        for p in _resources(cfn, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] not in {"*", "apigateway.amazonaws.com"}
    }
    assert (
        async_functions
        == set(configs)
        == {
            "CloudTrailDetector",
            "EksAuditDetector",
            "AlertSummarizer",
        }
    )

    alarmed = {}
    for name, alarm in _resources(cfn, "AWS::CloudWatch::Alarm").items():
        p = alarm["Properties"]
        if p["MetricName"] == "ApproximateNumberOfMessagesVisible":
            (dim,) = p["Dimensions"]
            alarmed[dim["Value"]["Fn::GetAtt"][0]] = (name, p)
    for queue in destinations:
        assert queue in alarmed, f"nothing alarms on {queue}"
        name, p = alarmed[queue]
        assert (p["Namespace"], p["Threshold"], p["ComparisonOperator"]) == (
            "AWS/SQS",
            0,
            "GreaterThanThreshold",
        ), name
        assert p["AlarmActions"], name
        # Same condition as its queue: the alarm exists exactly when the queue does.
        assert cfn["Resources"][name].get("Condition") == res[queue].get("Condition"), name
        assert res[queue]["Properties"]["MessageRetentionPeriod"] == 1209600, queue


def test_kinesis_detector_alarms_on_iterator_age_and_every_function_on_errors(
    cfn: dict[str, Any],
) -> None:
    alarms = _resources(cfn, "AWS::CloudWatch::Alarm").values()
    by_metric: dict[str, dict[str, dict[str, Any]]] = {}
    for alarm in alarms:
        p = alarm["Properties"]
        if p["Namespace"] == "AWS/Lambda":
            (dim,) = p["Dimensions"]
            by_metric.setdefault(p["MetricName"], {})[dim["Value"]["Ref"]] = alarm
    age = by_metric["IteratorAge"]["KinesisDetector"]["Properties"]
    assert age["Statistic"] == "Maximum" and age["Threshold"] == 60000
    assert age["ComparisonOperator"] == "GreaterThanThreshold"
    functions = _resources(cfn, "AWS::Lambda::Function")
    assert set(by_metric["Errors"]) == set(functions)
    for name, alarm in by_metric["Errors"].items():
        assert alarm.get("Condition") == functions[name].get("Condition"), name


# --- IAM ----------------------------------------------------------------------------------


def _branches(node: Any) -> Iterator[Any]:
    """Both sides of every Fn::If, recursively; AWS::NoValue dropped."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        for side in node["Fn::If"][1:]:
            yield from _branches(side)
    elif node != {"Ref": "AWS::NoValue"}:
        yield node


def _statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every policy statement anywhere in a resource: roles, managed policies, resource policies."""
    if isinstance(node, dict):
        if "Statement" in node:
            for st in node["Statement"]:
                yield from _branches(st)
        for value in node.values():
            yield from _statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from _statements(value)


def _as_list(value: Any) -> list[Any]:
    return [v for b in _branches(value) for v in (b if isinstance(b, list) else [b])]


def _resource_text(resource: Any) -> str:
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return str(sub if isinstance(sub, str) else sub[0])
    return ""  # Ref / GetAtt: one named resource


def _check_statements(statements: list[dict[str, Any]], where: str) -> None:
    assert statements, f"{where}: no policy statements found"
    for st in statements:
        assert not {"NotAction", "NotResource", "NotPrincipal"} & st.keys(), (where, st)
        for action in _as_list(st["Action"]):
            assert isinstance(action, str) and "*" not in action and "?" not in action, (
                where,
                action,
            )
        assert st.get("Principal") != "*" and st.get("Principal") != {"AWS": "*"}, (where, st)
        for resource in _as_list(st.get("Resource", [])):
            text = _resource_text(resource)
            assert text != "*", (where, st)
            # A wildcard is allowed only for objects inside one named bucket.
            if "*" in text:
                assert re.match(
                    r"^(arn:(aws[a-z-]*|\$\{AWS::Partition\}):s3:::[^*/]+|\$\{[A-Za-z]+\.Arn\})/",
                    text,
                ), (where, text)


def test_no_wildcard_action_and_no_star_resource_in_any_policy(cfn: dict[str, Any]) -> None:
    for name, res in cfn["Resources"].items():
        statements = list(_statements(res.get("Properties", {})))
        if res["Type"].startswith("AWS::IAM::") or res["Type"].endswith("Policy"):
            _check_statements(statements, name)
        else:
            assert not statements, f"{name}: unexpected inline policy"


def test_sam_generated_no_role_and_attached_no_aws_managed_policy(cfn: dict[str, Any]) -> None:
    roles = _resources(cfn, "AWS::IAM::Role")
    assert set(roles) == {f"{n}Role" for n in HANDLERS}
    for name, role in roles.items():
        # The detectors share DetectorPolicy; the other functions get only their own statements.
        expected = [{"Ref": "DetectorPolicy"}] if name.removesuffix("Role") in DETECTORS else []
        assert role["Properties"].get("ManagedPolicyArns", []) == expected, name
        (st,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert st["Principal"] == {"Service": "lambda.amazonaws.com"}
    for name, fn in _resources(cfn, "AWS::Lambda::Function").items():
        assert fn["Properties"]["Role"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}


def _allowed(cfn: dict[str, Any], role: str) -> list[tuple[str, Any]]:
    """(action, resource) pairs a function role allows, its managed policy included."""
    props = cfn["Resources"][role]["Properties"]
    docs = [p["PolicyDocument"] for p in props["Policies"]]
    docs += [
        cfn["Resources"][a["Ref"]]["Properties"]["PolicyDocument"]
        for a in props.get("ManagedPolicyArns", [])
    ]
    pairs = []
    for doc in docs:
        for st in _statements(doc):
            for action in _as_list(st["Action"]):
                pairs += [(action, r) for r in _as_list(st["Resource"])]
    return pairs


def _getatt(name: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [name, "Arn"]}


def common_table_actions() -> list[str]:
    """What claiming an alert's uuid (and a window) does to the dedup table."""
    return [f"dynamodb:{a}" for a in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")]


def test_each_role_allows_what_its_function_and_event_sources_use(cfn: dict[str, Any]) -> None:
    common = [
        ("sns:Publish", {"Ref": "AlertTopic"}),
        ("dynamodb:PutItem", _getatt("DedupTable")),
        ("dynamodb:GetItem", _getatt("DedupTable")),
        ("dynamodb:UpdateItem", _getatt("DedupTable")),
        ("dynamodb:DeleteItem", _getatt("DedupTable")),
        ("sqs:SendMessage", _getatt("QuarantineQueue")),
    ]
    stream = _event_source(cfn, "KinesisDetector")["EventSourceArn"]
    needs = {
        "KinesisDetector": [
            *[
                (f"kinesis:{a}", v)
                for a in (
                    "DescribeStream",
                    "DescribeStreamSummary",
                    "GetRecords",
                    "GetShardIterator",
                    "ListShards",
                )
                for v in _as_list(stream)
            ],
            ("sqs:SendMessage", _getatt("KinesisFailureQueue")),
            ("kms:Decrypt", {"Ref": "ExistingStreamKmsKeyArn"}),
        ],
        "CloudTrailDetector": [
            *[
                (f"sqs:{a}", _getatt("CloudTrailQueue"))
                for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
            ],
            ("sqs:SendMessage", _getatt("CloudTrailEventsFailureQueue")),
            ("kms:Decrypt", {"Ref": "CloudTrailKmsKeyArn"}),
        ],
        "EksAuditDetector": [("sqs:SendMessage", _getatt("EksAuditFailureQueue"))],
    }
    for function, extra in needs.items():
        allowed = _allowed(cfn, f"{function}Role")
        for need in [*common, *extra, ("logs:PutLogEvents", _getatt(f"{function}LogGroup"))]:
            assert need in allowed, (function, need)
        log_group = cfn["Resources"][function]["Properties"]["LoggingConfig"]["LogGroup"]
        assert log_group == {"Ref": f"{function}LogGroup"}

    # The other functions: exactly what they use, nothing of DetectorPolicy they do not need.
    exact = {
        "AlertSummarizer": [
            ("dynamodb:Query", {"Fn::Sub": "${DedupTable.Arn}/index/pending-due"}),
            *[(a, _getatt("DedupTable")) for a in common_table_actions()],
            ("sns:Publish", {"Ref": "AlertTopic"}),
        ],
        "FalcoIntake": [
            ("secretsmanager:GetSecretValue", {"Ref": "IntakeTokenSecretArn"}),
            *common,
        ],
    }
    for function, (_, _, secret, _, _) in DESTINATIONS.items():
        queue, dlq = _getatt(f"{function}Queue"), _getatt(f"{function}DeadLetterQueue")
        exact[function] = [
            *[
                (f"sqs:{a}", queue)
                for a in (
                    "ReceiveMessage",
                    "DeleteMessage",
                    "ChangeMessageVisibility",
                    "GetQueueAttributes",
                    "GetQueueUrl",
                )
            ],
            ("sqs:SendMessage", dlq),
        ]
        if secret:
            exact[function].append(("secretsmanager:GetSecretValue", {"Ref": secret}))
    exact["SecurityHubDelivery"].append(
        (
            "securityhub:BatchImportFindings",
            {
                "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}"
                ":product/${AWS::AccountId}/default"
            },
        )
    )
    exact["OcsfDelivery"].append(
        ("s3:PutObject", {"Fn::Sub": "arn:${AWS::Partition}:s3:::${OcsfBucketName}/${OcsfPrefix}*"})
    )
    # The alert store: written by its delivery function, read by the dashboard, each with only
    # what test_alert_store_roles_allow_exactly_what_the_store_calls sees the code call.
    exact["StoreDelivery"] += [(a, _getatt("AlertStoreTable")) for a in STORE_WRITES]
    exact["DashboardFunction"] = [
        ("dynamodb:Query", _getatt("AlertStoreTable")),
        ("dynamodb:Query", {"Fn::Sub": "${AlertStoreTable.Arn}/index/*"}),
        *[(a, _getatt("AlertStoreTable")) for a in STORE_READS if a != "dynamodb:Query"],
    ]
    for function, pairs in exact.items():
        log_group = _getatt(f"{function}LogGroup")
        logs = [("logs:CreateLogStream", log_group), ("logs:PutLogEvents", log_group)]
        allowed = _allowed(cfn, f"{function}Role")
        assert sorted(map(repr, allowed)) == sorted(map(repr, [*logs, *pairs])), function
        assert cfn["Resources"][function]["Properties"]["LoggingConfig"]["LogGroup"] == {
            "Ref": f"{function}LogGroup"
        }
    # CloudTrail log files: GetObject under AWSLogs/ of the one bucket, created or given
    # (besides the rule overrides every detector reads).
    reads = [r for a, r in _allowed(cfn, "CloudTrailDetectorRole") if a == "s3:GetObject"]
    assert {_resource_text(r) for r in _as_list(reads)} == {
        "${CloudTrailBucket.Arn}/*AWSLogs/*",
        "arn:${AWS::Partition}:s3:::${CloudTrailBucketName}/*AWSLogs/*",
        "arn:${AWS::Partition}:s3:::${RulesBucketName}/${RulesPrefix}*",
    }


def test_rule_overrides_are_readable_only_under_their_prefix(cfn: dict[str, Any]) -> None:
    statements = {
        st["Sid"]: st for st in _statements(cfn["Resources"]["DetectorPolicy"]["Properties"])
    }
    get = statements["ReadRuleOverrides"]
    assert get["Action"] == "s3:GetObject"
    assert get["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${RulesBucketName}/${RulesPrefix}*"
    }
    listing = statements["ListRuleOverrides"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": {"Fn::Sub": "${RulesPrefix}*"}}}
    env = cfn["Resources"]["KinesisDetector"]["Properties"]["Environment"]["Variables"]
    assert env["LANNER_RULES_S3_URI"]["Fn::If"][1] == {
        "Fn::Sub": "s3://${RulesBucketName}/${RulesPrefix}"
    }


def test_only_the_intended_senders_reach_the_queues_and_functions(cfn: dict[str, Any]) -> None:
    res = cfn["Resources"]
    (s3,) = res["CloudTrailQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert s3["Principal"] == {"Service": "s3.amazonaws.com"} and s3["Action"] == "sqs:SendMessage"
    assert s3["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "aws:SourceArn" in s3["Condition"]["ArnEquals"]
    (events,) = res["CloudTrailEventsFailureQueuePolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert events["Condition"] == {"ArnEquals": {"aws:SourceArn": _getatt("CloudTrailEventsRule")}}
    public = {}
    for name, perm in _resources(cfn, "AWS::Lambda::Permission").items():
        if perm["Properties"]["Principal"] == "*":
            public[name] = perm
            continue
        assert perm["Properties"]["Principal"] in {
            "events.amazonaws.com",
            "logs.amazonaws.com",
            "apigateway.amazonaws.com",
        }, name
        if perm["Properties"]["Principal"] == "apigateway.amazonaws.com":
            # Only the dashboard's own API, and only on its routes.
            assert perm["Properties"]["FunctionName"] == {"Ref": "DashboardFunction"}, name
            text, refs = perm["Properties"]["SourceArn"]["Fn::Sub"]
            assert refs["__ApiId__"] == {"Ref": "DashboardApi"}, name
            assert text.startswith(
                "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${__ApiId__}/"
            ), name
        assert perm["Properties"].get("SourceArn"), (
            f"{name} lets any {perm['Properties']['Principal']} source invoke"
        )
    # Anyone may call the Falco intake, through its function URL only: the function checks
    # the bearer token itself (AuthType NONE).
    assert {n: p["Properties"] for n, p in public.items()} == {
        "FalcoIntakeUrlPublicPermissions": {
            "Action": "lambda:InvokeFunctionUrl",
            "FunctionName": {"Ref": "FalcoIntake"},
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
        },
        "FalcoIntakeURLInvokeAllowPublicAccess": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": "FalcoIntake"},
            "Principal": "*",
            "InvokedViaFunctionUrl": True,
        },
    }
    assert all(p["Condition"] == "HasFalcoIntake" for p in public.values())
    # Each destination's queue takes messages from the alert topic only.
    for function in DESTINATIONS:
        policy = res[f"{function}QueuePolicy"]["Properties"]
        assert policy["Queues"] == [{"Ref": f"{function}Queue"}]
        (sns,) = policy["PolicyDocument"]["Statement"]
        assert sns["Principal"] == {"Service": "sns.amazonaws.com"}, function
        assert sns["Action"] == "sqs:SendMessage" and sns["Resource"] == _getatt(f"{function}Queue")
        assert sns["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "AlertTopic"}}}


def test_data_at_rest_is_encrypted(cfn: dict[str, Any]) -> None:
    res = cfn["Resources"]
    assert res["Stream"]["Properties"]["StreamEncryption"] == {
        "EncryptionType": "KMS",
        "KeyId": "alias/aws/kinesis",
    }
    assert res["AlertTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    for name, queue in _resources(cfn, "AWS::SQS::Queue").items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, name
    bucket = res["CloudTrailBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert res["CloudTrailBucket"]["DeletionPolicy"] == "Retain"


def test_dedup_table_matches_what_the_publisher_writes(cfn: dict[str, Any]) -> None:
    table = cfn["Resources"]["DedupTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "uuid", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "uuid", "AttributeType": "S"},
        {"AttributeName": "pending", "AttributeType": "S"},
        {"AttributeName": "due", "AttributeType": "N"},
    ]
    # Sparse: only windows with copies not yet summarized have "pending" and "due".
    assert table["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "pending-due",
            "KeySchema": [
                {"AttributeName": "pending", "KeyType": "HASH"},
                {"AttributeName": "due", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


# --- the alert store and the dashboard ----------------------------------------------------


def _table_layout(table: dict[str, Any]) -> dict[str, Any]:
    """What makes two alert store tables the same: keys, attribute types, and each index's keys
    and projection (lists whose order DynamoDB ignores, sorted)."""
    return {
        "attributes": sorted(
            (a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]
        ),
        "keys": [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]],
        "indexes": {
            gsi["IndexName"]: {
                "keys": [(k["AttributeName"], k["KeyType"]) for k in gsi["KeySchema"]],
                "projection": gsi["Projection"]["ProjectionType"],
                "attributes": sorted(gsi["Projection"].get("NonKeyAttributes", [])),
            }
            for gsi in table["GlobalSecondaryIndexes"]
        },
    }


def test_alert_store_table_is_the_one_the_code_creates(
    cfn: dict[str, Any],
    aws: str,  # noqa: F811
) -> None:
    from dashboard.schema import TTL
    from dashboard.table import create_alert_store_table

    client = boto3.client("dynamodb")
    create_alert_store_table(client, "alert-store")
    created = client.describe_table(TableName="alert-store")["Table"]
    template = cfn["Resources"]["AlertStoreTable"]["Properties"]
    assert _table_layout(template) == _table_layout(created)
    assert created["BillingModeSummary"]["BillingMode"] == template["BillingMode"]
    ttl = client.describe_time_to_live(TableName="alert-store")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == TTL
    assert template["TimeToLiveSpecification"] == {"AttributeName": TTL, "Enabled": True}


def test_alert_store_table_is_on_demand_encrypted_recoverable_and_within_dynamodb_limits(
    cfn: dict[str, Any],
) -> None:
    table = cfn["Resources"]["AlertStoreTable"]
    props = table["Properties"]
    # Nothing billed by the hour: an idle store costs its storage only.
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props
    assert all("ProvisionedThroughput" not in g for g in props["GlobalSecondaryIndexes"])
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert "Condition" not in table, "the dashboard is part of every stack"
    # CreateTable refuses more than 20 projected attributes in an index and 100 over all of
    # a table's indexes (an attribute in two indexes counts twice); moto does not check.
    projected = [
        g["Projection"].get("NonKeyAttributes", []) for g in props["GlobalSecondaryIndexes"]
    ]
    assert all(len(p) <= 20 for p in projected)
    assert sum(map(len, projected)) <= 100
    # The alert JSON stays in the table: the indexes carry only the rows' attributes.
    assert not any("doc" in p for p in projected)
    assert all(
        g["Projection"]["ProjectionType"] == "INCLUDE" for g in props["GlobalSecondaryIndexes"]
    )


def test_alert_retention_parameter_reaches_the_store_and_the_code_accepts_its_range(
    cfn: dict[str, Any],
) -> None:
    from functions.destinations import DestinationConfigError, build_destination

    spec = cfn["Parameters"]["AlertRetentionDays"]
    assert (spec["Type"], spec["Default"], spec["MinValue"], spec["MaxValue"]) == (
        "Number",
        30,
        1,
        3650,
    )
    env = cfn["Resources"]["StoreDelivery"]["Properties"]["Environment"]["Variables"]
    assert env["LANNER_ALERT_RETENTION_DAYS"] == {"Ref": "AlertRetentionDays"}

    def build(days: int) -> Any:
        environ = {
            "LANNER_DESTINATION": "store",
            "LANNER_ALERT_STORE_TABLE": "alert-store",
            "LANNER_ALERT_RETENTION_DAYS": str(days),
        }
        return build_destination(environ, lambda service: lambda: None, "123456789012")

    # Whatever CloudFormation lets through, the function starts with; nothing else.
    for days in (spec["MinValue"], spec["Default"], spec["MaxValue"]):
        assert build(days).name == "store"
    for days in (spec["MinValue"] - 1, spec["MaxValue"] + 1):
        with pytest.raises(DestinationConfigError, match="LANNER_ALERT_RETENTION_DAYS"):
            build(days)


class _Calls:
    """botocore hook: the DynamoDB operations a client makes, each with the table or index
    it names (what an IAM statement's resource has to cover)."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        index = params.get("IndexName")
        self.seen.add((f"dynamodb:{model.name}", f"index/{index}" if index else "table"))


def _recording_client(calls: _Calls) -> Any:
    client = boto3.client("dynamodb")
    client.meta.events.register("before-parameter-build.dynamodb", calls)
    return client


def _covers(allowed: list[tuple[str, Any]], action: str, target: str) -> bool:
    """Whether one of a role's (action, resource) pairs allows ``action`` on the store's table
    (``target`` "table") or on one of its indexes ("index/<name>")."""
    arn = "${AlertStoreTable.Arn}" + ("" if target == "table" else "/" + target)
    for allowed_action, resource in allowed:
        if allowed_action != action:
            continue
        if resource == _getatt("AlertStoreTable") and target == "table":
            return True
        text = _resource_text(resource)
        if text and re.fullmatch(re.escape(text).replace(r"\*", "[^/]+"), arn):
            return True
    return False


def test_alert_store_roles_allow_exactly_what_the_store_calls(
    cfn: dict[str, Any],
    aws: str,  # noqa: F811
) -> None:
    """Runs the store's code on moto, the writes through the delivery function's destination
    and every kind of read the dashboard's API makes, and compares the DynamoDB calls seen
    with the two roles: every call allowed, every permission used."""
    from dashboard.schema import DIMENSIONS, INDEXES, Filters, TimeRange
    from dashboard.store import AlertStore
    from dashboard.table import create_alert_store_table
    from functions.destinations import build_destination
    from lanner import Priority
    from tests.dashboard.conftest import new_alert

    create_alert_store_table(boto3.client("dynamodb"), "alert-store")
    writes, reads = _Calls(), _Calls()
    writer, reader = _recording_client(writes), _recording_client(reads)

    env = {"LANNER_DESTINATION": "store", "LANNER_ALERT_STORE_TABLE": "alert-store"}
    destination = build_destination(env, lambda service: lambda: writer, "123456789012")
    alerts = [
        new_alert(priority="Critical", namespace="payments", account="123456789012"),
        new_alert(rule="Write below etc", priority="Error", source="aws_cloudtrail"),
        new_alert(priority="Notice", tags=["network"], hostname="node-2"),
    ]
    for alert in [*alerts, alerts[0]]:  # the last one redelivered
        assert destination.send(alert, alert.uuid).ok, alert.uuid

    store = AlertStore(lambda: reader, "alert-store")
    now = datetime.now(UTC)
    rng = TimeRange(now - timedelta(hours=1), now + timedelta(minutes=1))
    every_plan = [
        Filters(),
        Filters(rule="Write below etc"),
        Filters(hostname="node-2"),
        Filters(namespace="payments"),
        Filters(account="123456789012"),
        *[Filters(priority=p) for p in (Priority.CRITICAL, Priority.ERROR, Priority.WARNING)],
        Filters(priority=Priority.NOTICE),
        Filters(source="aws_cloudtrail"),
        Filters(tag="network", text="shell"),
    ]
    for filters in every_plan:
        page = store.search(rng, filters, limit=1)
        if page.cursor:
            store.search(rng, filters, limit=1, cursor=page.cursor)
        store.timeline(rng, filters)
        for by in DIMENSIONS:
            store.counts(rng, by, filters)
        store.export_page(rng, filters, limit=10, cursor=None)
    assert store.get(alerts[0].uuid) is not None

    for calls, role, actions in (
        (writes, "StoreDeliveryRole", STORE_WRITES),
        (reads, "DashboardFunctionRole", STORE_READS),
    ):
        allowed = [(a, r) for a, r in _allowed(cfn, role) if a.startswith("dynamodb:")]
        for action, target in sorted(calls.seen):
            assert _covers(allowed, action, target), f"{role} does not allow {action} on {target}"
        assert {action for action, _ in calls.seen} == set(actions), role
    # Every index the table keeps up to date (each costs a write per alert) is one a search
    # uses, and the counts are read from the table itself.
    queried = {target for action, target in reads.seen if action == "dynamodb:Query"}
    assert queried == {"table", *(f"index/{i.name}" for i in INDEXES)}
    assert {target for _, target in writes.seen} == {"table"}


def _routes(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The dashboard API's routes ("GET /api/{proxy+}") and their OpenAPI operations."""
    body = cfn["Resources"]["DashboardApi"]["Properties"]["Body"]
    return {
        f"{method.upper()} {path}": operation
        for path, methods in body["paths"].items()
        for method, operation in methods.items()
    }


def test_dashboard_api_serves_only_the_page_and_guards_the_api_with_the_user_pool(
    cfn: dict[str, Any],
) -> None:
    res = cfn["Resources"]
    # One HTTP API, its routes only from its OpenAPI body: no other way in.
    assert set(_resources(cfn, "AWS::ApiGatewayV2::Api")) == {"DashboardApi"}
    assert not _resources(cfn, "AWS::ApiGatewayV2::Route")
    assert not [n for n, r in res.items() if r["Type"].startswith("AWS::ApiGateway::")]
    routes = _routes(cfn)
    assert set(routes) == PUBLIC_ROUTES | PROTECTED_ROUTES
    for route, operation in routes.items():
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy" and integration["payloadFormatVersion"] == "2.0"
        assert "${DashboardFunction.Arn}" in integration["uri"]["Fn::Sub"], route
        expected: list[dict[str, list[str]]] = [
            {"NONE": []} if route in PUBLIC_ROUTES else {"CognitoJwt": []}
        ]
        assert operation["security"] == expected, route
    # The token: a JWT the user pool issued for the page's client, in the Authorization header.
    body = res["DashboardApi"]["Properties"]["Body"]
    (scheme,) = body["components"]["securitySchemes"].values()
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "jwt"
    assert authorizer["identitySource"] == "$request.header.Authorization"
    assert authorizer["jwtConfiguration"] == {
        "issuer": {
            "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${DashboardUserPool}"
        },
        "audience": [{"Ref": "DashboardUserPoolClient"}],
    }
    (stage,) = _resources(cfn, "AWS::ApiGatewayV2::Stage").values()
    throttle = stage["Properties"]["DefaultRouteSettings"]
    assert throttle["ThrottlingRateLimit"] > 0 and throttle["ThrottlingBurstLimit"] > 0
    log = stage["Properties"]["AccessLogSettings"]
    assert log["DestinationArn"] == _getatt("DashboardApiAccessLogGroup")
    # Who did what, never what they searched for (no query string) nor their token.
    fields = json.loads(log["Format"])
    assert fields["user"] == "$context.authorizer.claims.sub"
    assert not [v for v in fields.values() if "querystring" in v.lower() or "header" in v.lower()]
    # API Gateway stops waiting after 30 s: the function gives up first.
    assert res["DashboardFunction"]["Properties"]["Timeout"] < 30
    url = cfn["Outputs"]["DashboardUrl"]["Value"]
    assert url == {
        "Fn::Sub": "https://${DashboardApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"
    }


def test_dashboard_user_pool_admits_only_users_the_operator_creates(cfn: dict[str, Any]) -> None:
    pool = cfn["Resources"]["DashboardUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    invite = pool["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"]
    assert "{username}" in invite and "{####}" in invite
    assert pool["UsernameAttributes"] == ["email"]
    password = pool["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 12
    assert all(password[f"Require{k}"] for k in ("Lowercase", "Uppercase", "Numbers", "Symbols"))
    assert password["TemporaryPasswordValidityDays"] <= 7
    assert pool["MfaConfiguration"] in {"OPTIONAL", "ON"}
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    # No self-service recovery (the page has none to offer); no Lambda triggers.
    assert pool["AccountRecoverySetting"] == {
        "RecoveryMechanisms": [{"Name": "admin_only", "Priority": 1}]
    }
    assert "LambdaConfig" not in pool
    # The first user exists only when the operator names one.
    assert "DashboardAdminUser" not in _present(cfn, {})
    assert "DashboardAdminUser" in _present(cfn, {"DashboardAdminEmail": "secops@example.com"})
    user = cfn["Resources"]["DashboardAdminUser"]["Properties"]
    assert user["Username"] == {"Ref": "DashboardAdminEmail"}
    assert user["DesiredDeliveryMediums"] == ["EMAIL"]
    command = cfn["Outputs"]["DashboardAddUserCommand"]["Value"]["Fn::Sub"]
    assert "aws cognito-idp admin-create-user" in command and "${DashboardUserPool}" in command


def test_dashboard_client_has_no_secret_and_no_oauth_callback(cfn: dict[str, Any]) -> None:
    client = cfn["Resources"]["DashboardUserPoolClient"]["Properties"]
    assert client["UserPoolId"] == {"Ref": "DashboardUserPool"}
    # The page is public code: a client secret in it would be no secret.
    assert client["GenerateSecret"] is False
    # It signs in with InitiateAuth itself: no hosted UI, no redirect to a URL of ours.
    oauth = {
        "CallbackURLs",
        "LogoutURLs",
        "DefaultRedirectURI",
        "AllowedOAuthFlows",
        "AllowedOAuthScopes",
        "AllowedOAuthFlowsUserPoolClient",
    }
    assert not oauth & set(client), sorted(oauth & set(client))
    flows = set(client["ExplicitAuthFlows"])
    assert {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"} <= flows
    assert flows <= {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["EnableTokenRevocation"] is True
    outputs = cfn["Outputs"]
    assert outputs["DashboardUserPoolId"]["Value"] == {"Ref": "DashboardUserPool"}
    assert outputs["DashboardClientId"]["Value"] == {"Ref": "DashboardUserPoolClient"}


def test_dashboard_guide_covers_its_parameters_and_outputs(sam: dict[str, Any]) -> None:
    guide = (ROOT / "docs" / "dashboard.md").read_text()
    groups = {
        g["Label"]["default"]: g["Parameters"]
        for g in sam["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    }
    assert groups["Dashboard"] == ["AlertRetentionDays", "DashboardAdminEmail"]
    names = [
        *groups["Dashboard"],
        *[o for o in sam["Outputs"] if o.startswith("Dashboard") or o.startswith("AlertStore")],
        "StoreDeadLetterQueueUrl",
    ]
    for name in names:
        assert f"`{name}`" in guide, f"docs/dashboard.md does not mention {name}"
    assert (ROOT / "docs" / "dashboard.png").is_file() and "dashboard.png" in guide


# --- parameters for the parts a user already has ------------------------------------------


def _parameter_values(cfn: dict[str, Any], params: dict[str, str]) -> dict[str, str | list[str]]:
    """Parameter values as CloudFormation checks and resolves them (a CommaDelimitedList is a
    list, its AllowedPattern applies to each item)."""
    assert set(params) <= set(cfn["Parameters"]), sorted(set(params) - set(cfn["Parameters"]))
    values: dict[str, str | list[str]] = {}
    for name, spec in cfn["Parameters"].items():
        value = params.get(name, str(spec.get("Default", "")))
        items = value.split(",") if spec["Type"] == "CommaDelimitedList" else [value]
        for item in items:
            assert re.fullmatch(spec.get("AllowedPattern", ".*"), item), (name, item)
        assert value in map(str, spec.get("AllowedValues", [value])), (name, value)
        if "MaxLength" in spec:
            assert len(value) <= spec["MaxLength"], name
        values[name] = items if spec["Type"] == "CommaDelimitedList" else value
    return values


def _evaluate(
    cfn: dict[str, Any], values: dict[str, Any], conds: dict[str, bool] | None, node: Any
) -> Any:
    """The value of a node made of parameters, mappings and conditions (no resource refs)."""

    def ev(node: Any) -> Any:
        if isinstance(node, list):
            return [ev(n) for n in node]
        if not isinstance(node, dict):
            return str(node)
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return values[arg]
        if fn == "Condition":
            return conds[arg] if conds is not None else ev(cfn["Conditions"][arg])
        if fn == "Fn::Equals":
            return ev(arg[0]) == ev(arg[1])
        if fn == "Fn::Not":
            return not ev(arg[0])
        if fn == "Fn::And":
            return all(ev(a) for a in arg)
        if fn == "Fn::Or":
            return any(ev(a) for a in arg)
        if fn == "Fn::Join":
            items = ev(arg[1])
            assert all(isinstance(i, str) for i in items), items
            return str(arg[0]).join(items)
        if fn == "Fn::If":
            assert conds is not None
            return ev(arg[1] if conds[arg[0]] else arg[2])
        if fn == "Fn::FindInMap":
            mapping, first, second = (ev(a) for a in arg)
            return cfn["Mappings"][mapping][first][second]
        raise AssertionError(f"function {fn} not handled here")

    return ev(node)


def _conditions(cfn: dict[str, Any], params: dict[str, str]) -> dict[str, bool]:
    values = _parameter_values(cfn, params)
    return {
        name: bool(_evaluate(cfn, values, None, node)) for name, node in cfn["Conditions"].items()
    }


def _present(cfn: dict[str, Any], params: dict[str, str]) -> set[str]:
    conds = _conditions(cfn, params)
    return {n for n, r in cfn["Resources"].items() if conds.get(r.get("Condition", ""), True)}


def _filter_policy(cfn: dict[str, Any], resource: str, params: dict[str, str]) -> Any:
    """The filter policy SNS gets, with these parameters: the JSON text, parsed."""
    policy = cfn["Resources"][resource]["Properties"]["FilterPolicy"]
    text = _evaluate(cfn, _parameter_values(cfn, params), _conditions(cfn, params), policy)
    return json.loads(text)


def _refs(node: Any, conds: dict[str, bool]) -> Iterator[str]:
    """Logical ids a node refers to, following only the Fn::If branches taken."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            cond, yes, no = node["Fn::If"]
            yield from _refs(yes if conds[cond] else no, conds)
            return
        for key, value in node.items():
            if key == "Ref":
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".")[0]
            elif key == "Fn::Sub":
                text, local = (value, {}) if isinstance(value, str) else value
                for var in re.findall(r"\$\{([^!][^}]*)\}", text):
                    if var not in local:
                        yield var.split(".")[0]
                yield from _refs(local, conds)
            else:
                yield from _refs(value, conds)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value, conds)


SCENARIOS = {
    "nothing existing (defaults)": {},
    "everything existing": EXISTING,
    "existing stream only": {"ExistingStreamArn": EXISTING["ExistingStreamArn"]},
    "provisioned stream, EKS, no EventBridge": {
        "StreamMode": "PROVISIONED",
        "StreamShardCount": "2",
        "EksClusterName": "dev",
        "CloudTrailEventBridge": "false",
    },
    "every destination, e-mail and Falco intake": EVERY_DELIVERY,
    "everything existing, every destination": EXISTING | EVERY_DELIVERY,
    **{f"{part} only": params for part, params in ENABLE.items()},
}


@pytest.mark.parametrize("params", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_every_parameter_combination_leaves_no_dangling_reference(
    cfn: dict[str, Any], params: dict[str, str]
) -> None:
    conds = _conditions(cfn, params)
    present = {n for n, r in cfn["Resources"].items() if conds.get(r.get("Condition", ""), True)}
    known = present | set(cfn["Parameters"])
    for name in present:
        res = cfn["Resources"][name]
        deps = res.get("DependsOn", [])
        for ref in [
            *_refs(res.get("Properties", {}), conds),
            *([deps] if isinstance(deps, str) else deps),
        ]:
            assert ref.startswith("AWS::") or ref in known, f"{name} refers to {ref}, absent here"
    for name, output in cfn["Outputs"].items():
        if not conds.get(output.get("Condition", ""), True):
            continue  # not in this stack
        for ref in _refs(output, conds):
            assert ref.startswith("AWS::") or ref in known, f"output {name} refers to {ref}"


def test_parameters_choose_which_parts_the_stack_creates(cfn: dict[str, Any]) -> None:
    def present(params: dict[str, str]) -> set[str]:
        return _present(cfn, params)

    mine = {"Stream", "CloudTrailBucket", "AlarmTopic", "CloudTrailEventsRule"}
    user = {"EksAuditDetector", "EksAuditDetectorAuditLog"}
    defaults, existing = present({}), present(EXISTING)
    assert mine <= defaults and not user & defaults
    assert user <= existing and not mine & existing
    # Without a cluster name nothing of the EKS detector is left behind.
    assert not [n for n in defaults if n.startswith("EksAudit")]
    assert {
        "KinesisDetector",
        "CloudTrailDetector",
        "CloudTrailQueue",
        "AlertTopic",
        "DedupTable",
    } <= defaults & existing


# --- alert delivery: which destinations exist, and what each one gets ---------------------


def _delivery_parts(cfn: dict[str, Any], part: str) -> set[str]:
    """The resources (SAM's generated ones included) of one destination or other optional part."""
    if part == "AlertEmailSubscription":
        return {part}
    return {n for n in cfn["Resources"] if n.startswith(part)}


def test_destinations_exist_only_when_switched_on(cfn: dict[str, Any]) -> None:
    parts = {part: _delivery_parts(cfn, part) for part in ENABLE}
    for function in ROUTED:
        assert {
            function,
            f"{function}Queue",
            f"{function}DeadLetterQueue",
            f"{function}QueuePolicy",
            f"{function}Subscription",
            f"{function}Role",
            f"{function}LogGroup",
            f"{function}DeadLetterQueueAlarm",
            f"{function}ErrorsAlarm",
        } <= parts[function], function
    assert {
        "FalcoIntake",
        "FalcoIntakeUrl",
        "FalcoIntakeRole",
        "FalcoIntakeErrorsAlarm",
    } <= parts["FalcoIntake"]
    everything = set().union(*parts.values())
    # Defaults: no destination, no e-mail, no intake; the summarizer always runs.
    defaults = _present(cfn, {})
    assert not everything & defaults, sorted(everything & defaults)
    assert {"AlertSummarizer", "AlertSummarizerEveryMinute", "AlertSummarizerAsync"} <= defaults
    # Each parameter switches on its own part and nothing else.
    for part, params in ENABLE.items():
        assert _present(cfn, params) - defaults == parts[part], part
    assert _present(cfn, EVERY_DELIVERY) - defaults == everything
    assert "AlertWebhookUrl" not in cfn["Parameters"]
    # The intake's URL is an output exactly when the intake exists.
    output = cfn["Outputs"]["FalcoIntakeUrl"]
    assert output == {
        "Condition": "HasFalcoIntake",
        "Description": output["Description"],
        "Value": {"Fn::GetAtt": ["FalcoIntakeUrl", "FunctionUrl"]},
    }
    assert cfn["Resources"]["FalcoIntakeUrl"]["Properties"]["AuthType"] == "NONE"


def test_priority_mapping_is_the_priority_attribute(cfn: dict[str, Any]) -> None:
    from lanner.priority import Priority

    mapping = cfn["Mappings"]["Priority"]
    assert {k: int(v["Number"]) for k, v in mapping.items() if k != "off"} == {
        p.name.lower(): p.value for p in Priority
    }
    # "off" (Security Hub) matches nothing, were it ever looked up.
    assert int(mapping["off"]["Number"]) < min(Priority)
    for _, _, _, min_priority, _ in ROUTED.values():
        allowed = set(cfn["Parameters"][min_priority]["AllowedValues"]) - {"off"}
        assert allowed == set(mapping) - {"off"}, min_priority


def _subscriptions() -> dict[str, tuple[str, str | None]]:
    """Subscription -> (its minimum-priority parameter, the prefix of its list parameters)."""
    subs = {}
    for function, (_, _, _, min_priority, lists) in ROUTED.items():
        assert min_priority is not None, function
        subs[f"{function}Subscription"] = (min_priority, lists)
    subs["AlertEmailSubscription"] = ("EmailMinPriority", "Email")
    return subs


def test_filter_policies_render_the_priority_threshold_and_only_the_lists_set(
    cfn: dict[str, Any],
) -> None:
    defaults = {n: p.get("Default") for n, p in cfn["Parameters"].items()}
    mapping = cfn["Mappings"]["Priority"]
    for sub, (min_priority, lists) in _subscriptions().items():
        # Defaults: the priority condition alone, at the parameter's default threshold.
        default = defaults[min_priority]
        if default == "off":
            default = "debug"
        policy = _filter_policy(cfn, sub, {**EVERY_DELIVERY, min_priority: default})
        threshold = int(mapping[default]["Number"])
        assert policy == {"priority": [{"numeric": ["<=", threshold]}]}, sub
        # The threshold is a JSON number (SNS refuses a string in a numeric condition).
        assert type(policy["priority"][0]["numeric"][1]) is int, sub
        for name in ("emergency", "warning", "debug"):
            policy = _filter_policy(cfn, sub, {**EVERY_DELIVERY, min_priority: name})
            assert policy["priority"] == [{"numeric": ["<=", int(mapping[name]["Number"])]}], sub
        if lists is None:
            # Security Hub and OCSF route by priority only: they have no list parameters.
            prefix = min_priority.removesuffix("MinPriority")
            assert not {f"{prefix}{s}" for s in LIST_FILTERS} & set(cfn["Parameters"]), sub
            continue
        # Each list alone: that attribute, with every item, and nothing else.
        for suffix, attribute in LIST_FILTERS.items():
            values = ["Terminal shell in container", "Write below etc"]
            params = {**EVERY_DELIVERY, f"{lists}{suffix}": ",".join(values)}
            policy = _filter_policy(cfn, sub, params)
            assert set(policy) == {"priority", attribute}, (sub, suffix)
            assert policy[attribute] == values, (sub, suffix)
        # SNS allows 5 attribute names in a filter policy: priority and 4 of the 5 lists.
        params = {
            **EVERY_DELIVERY,
            min_priority: "error",
            f"{lists}Rules": "Terminal shell in container",
            f"{lists}Tags": "mitre_execution,T1059",
            f"{lists}Namespaces": "prod,payments",
            f"{lists}Accounts": "123456789012",
        }
        assert _filter_policy(cfn, sub, params) == {
            "priority": [{"numeric": ["<=", 3]}],
            "rule": ["Terminal shell in container"],
            "tags": ["mitre_execution", "T1059"],
            "k8s_ns": ["prod", "payments"],
            "account": ["123456789012"],
        }, sub


def test_list_filters_refuse_what_would_break_the_filter_policy_json(cfn: dict[str, Any]) -> None:
    for prefix in ("Slack", "Webhook", "PagerDuty", "Email"):
        for suffix in LIST_FILTERS:
            spec = cfn["Parameters"][f"{prefix}{suffix}"]
            assert spec["Type"] == "CommaDelimitedList" and spec["Default"] == ""
            pattern = spec["AllowedPattern"]
            for ok in ("", "Terminal shell in container", "k8s_audit", "a"):
                assert re.fullmatch(pattern, ok), (prefix, suffix, ok)
            for bad in ('say "hi"', "back\\slash", " leading", "trailing "):
                assert not re.fullmatch(pattern, bad), (prefix, suffix, bad)


def test_alert_delivery_parameters_are_grouped_and_documented(
    sam: dict[str, Any], cfn: dict[str, Any]
) -> None:
    groups = {
        g["Label"]["default"]: g["Parameters"]
        for g in sam["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    }
    grouped = [p for params in groups.values() for p in params]
    assert sorted(grouped) == sorted(cfn["Parameters"]), "every parameter in exactly one group"
    delivery = set(groups["Alert delivery"])
    expected = {
        "SlackSecretArn",
        "WebhookSecretArn",
        "PagerDutySecretArn",
        "SecurityHubMinPriority",
        "OcsfBucketName",
        "OcsfPrefix",
        "OcsfMinPriority",
        "AlertEmail",
        "IntakeTokenSecretArn",
        "DedupWindowSeconds",
        "FingerprintFields",
        *[
            f"{d}{s}"
            for d in ("Slack", "Webhook", "PagerDuty", "Email")
            for s in ("MinPriority", *LIST_FILTERS)
        ],
    }
    assert delivery == expected
    defaults = {n: cfn["Parameters"][n].get("Default") for n in delivery}
    assert defaults["SlackMinPriority"] == defaults["WebhookMinPriority"] == "warning"
    assert defaults["PagerDutyMinPriority"] == "error"
    assert defaults["EmailMinPriority"] == "critical"
    assert defaults["SecurityHubMinPriority"] == "off"
    assert defaults["OcsfMinPriority"] == "debug"
    assert defaults["OcsfPrefix"] == "ocsf/"
    assert defaults["DedupWindowSeconds"] == 300 and defaults["FingerprintFields"] == "{}"
    assert cfn["Parameters"]["DedupWindowSeconds"]["MinValue"] == 0  # 0: no windows
    readme = (ROOT / "infra" / "README.md").read_text()
    for name in delivery:
        assert f"`{name}`" in readme, f"infra/README.md does not document {name}"


def test_summarizer_runs_every_minute_on_the_pending_windows(cfn: dict[str, Any]) -> None:
    res = cfn["Resources"]
    rule = res["AlertSummarizerEveryMinute"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    (target,) = rule["Targets"]
    assert target["Arn"] == _getatt("AlertSummarizer")
    assert res["AlertSummarizer"]["Properties"]["ReservedConcurrentExecutions"] == 1
    assert "Condition" not in res["AlertSummarizer"]


# --- the sensor's IRSA role ---------------------------------------------------------------


def _manifest_service_account() -> dict[str, Any]:
    (sa,) = [
        d for d in yaml.safe_load_all(MANIFEST.read_text()) if d and d["kind"] == "ServiceAccount"
    ]
    return dict(sa)


def test_irsa_trust_admits_only_the_sensors_service_account() -> None:
    irsa = _load(IRSA)
    params = {n: p.get("Default") for n, p in irsa["Parameters"].items()}
    issuer = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    assert re.fullmatch(irsa["Parameters"]["OidcIssuer"]["AllowedPattern"], issuer)
    role = irsa["Resources"]["SensorRole"]["Properties"]
    text = role["AssumeRolePolicyDocument"]["Fn::Sub"]
    values = {
        **params,
        "OidcIssuer": issuer,
        "AWS::Partition": "aws",
        "AWS::AccountId": "123456789012",
    }
    trust = json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: str(values[m.group(1)]), text))
    (st,) = trust["Statement"]
    assert st["Effect"] == "Allow"
    assert st["Principal"] == {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"}
    assert st["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert st["Condition"] == {
        "StringEquals": {
            f"{issuer}:sub": "system:serviceaccount:lanner:lanner-sensor",
            f"{issuer}:aud": "sts.amazonaws.com",
        }
    }
    # The defaults are the manifest's ServiceAccount and the role its annotation names.
    sa = _manifest_service_account()
    assert (params["Namespace"], params["ServiceAccountName"]) == (
        sa["metadata"]["namespace"],
        sa["metadata"]["name"],
    )
    annotation = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert annotation.endswith(f":role/{params['RoleName']}")
    assert role["RoleName"] == {"Ref": "RoleName"}


def test_irsa_role_only_writes_to_the_one_stream() -> None:
    irsa = _load(IRSA)
    role = irsa["Resources"]["SensorRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    (policy,) = role["Policies"]
    statements = list(_statements(policy["PolicyDocument"]))
    _check_statements(statements, "SensorRole")
    kinesis = [st for st in statements if st["Sid"] == "PutEvents"]
    (put,) = kinesis
    assert set(put["Action"]) == {
        "kinesis:PutRecord",
        "kinesis:PutRecords",
        "kinesis:DescribeStreamSummary",
    }
    assert put["Resource"] == {"Ref": "StreamArn"}
    (kms,) = [st for st in statements if st["Sid"] == "EncryptEvents"]
    assert kms["Action"] == "kms:GenerateDataKey" and kms["Resource"] == {"Ref": "StreamKmsKeyArn"}
    assert set(kms["Condition"]["StringEquals"]) == {"kms:ViaService"}
    # The KMS statement exists only when a key is given.
    (wrapped,) = [s for s in policy["PolicyDocument"]["Statement"] if "Fn::If" in s]
    assert wrapped["Fn::If"][0] == "HasStreamKmsKey" and wrapped["Fn::If"][2] == {
        "Ref": "AWS::NoValue"
    }
    assert irsa["Conditions"]["HasStreamKmsKey"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "StreamKmsKeyArn"}, ""]}]
    }

"""The false-positive corpus (bench/fp_corpus.py) against the bundled rules.

Ordinary account and cluster activity (CI deploys through CloudFormation, console
browsing, autoscaling, EKS control-plane chatter, kube-system controllers, CI deploying
workloads, developers' kubectl) must raise nothing at Warning or above. A seeded slice
of the corpus is used here; `python bench/fp_corpus.py` measures the full one.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.fp_corpus import CLOUDTRAIL, K8S_AUDIT, ROOT, generate
from lanner import Engine, Event, builtin_sources, compile_rules, load_rules
from lanner.priority import Priority

SLICE = 30_000
SEED = 11

Source = tuple[str, dict[str, Any]]


@pytest.fixture(scope="module")
def corpus() -> list[Source]:
    return list(generate(SLICE, SEED))


@pytest.fixture(scope="module")
def bundled() -> Engine:
    return compile_rules(load_rules([str(ROOT / "rules")]), match="all")


def summary(source: str, doc: dict[str, Any]) -> str:
    """Who did what, to tell a reader which corpus event an alert came from."""
    if source == CLOUDTRAIL:
        ident = doc.get("userIdentity") or {}
        return f"{doc['eventSource']} {doc['eventName']} by {ident.get('arn') or ident.get('invokedBy')}"
    ref = doc.get("objectRef") or {}
    where = "/".join(
        str(ref[k]) for k in ("namespace", "resource", "name", "subresource") if k in ref
    )
    return f"{doc['verb']} {where} by {doc['user']['username']}"


def test_the_same_seed_gives_the_same_corpus() -> None:
    first = [json.dumps(d, sort_keys=True) for _, d in generate(3000, SEED)]
    again = [json.dumps(d, sort_keys=True) for _, d in generate(3000, SEED)]
    other = [json.dumps(d, sort_keys=True) for _, d in generate(3000, SEED + 1)]
    assert first == again
    assert first != other
    assert len(first) == 3000


def test_the_corpus_is_the_ordinary_activity_it_claims(corpus: list[Source]) -> None:
    sources = Counter(s for s, _ in corpus)
    assert sources[CLOUDTRAIL] > SLICE * 0.3 and sources[K8S_AUDIT] > SLICE * 0.3
    ct = [d for s, d in corpus if s == CLOUDTRAIL]
    k8s = [d for s, d in corpus if s == K8S_AUDIT]

    def by(d: dict[str, Any]) -> str:
        ident = d["userIdentity"]
        issuer = ident.get("sessionContext", {}).get("sessionIssuer", {}).get("userName")
        return str(issuer or ident.get("invokedBy") or ident.get("userName"))

    seen = {(d["eventName"], by(d), d["userIdentity"].get("invokedBy")) for d in ct}
    assert ("CreateRole", "cfn-exec-role", "cloudformation.amazonaws.com") in seen
    assert ("PutRolePolicy", "cfn-exec-role", "cloudformation.amazonaws.com") in seen
    assert ("UpdateFunctionCode20150331v2", "github-actions-deploy", None) in seen
    assert ("ExecuteChangeSet", "github-actions-deploy", None) in seen
    assert ("RunInstances", "AWSServiceRoleForAutoScaling", "autoscaling.amazonaws.com") in seen
    assert (
        "TerminateInstances",
        "AWSServiceRoleForAutoScaling",
        "autoscaling.amazonaws.com",
    ) in seen
    assert {"AssumeRole", "AssumeRoleWithWebIdentity", "GetObject", "Decrypt"} <= {
        n for n, _, _ in seen
    }
    console = [d for d in ct if d["userIdentity"].get("arn", "").count("AWSReservedSSO_")]
    assert len({d["eventName"] for d in console}) >= 10
    assert all(
        d["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"
        and d["eventName"].startswith(("Describe", "List", "Get", "Lookup"))
        for d in console
    )
    users = Counter(d["user"]["username"] for d in k8s)
    assert any(u.startswith("system:node:") for u in users)
    assert any(u.startswith("eks:") for u in users)
    assert {
        "system:kube-controller-manager",
        "system:kube-scheduler",
        "system:serviceaccount:kube-system:aws-node",
        "system:serviceaccount:kube-system:kube-proxy",
        "system:serviceaccount:kube-system:coredns",
        "system:serviceaccount:kube-system:cluster-autoscaler",
        "system:serviceaccount:monitoring:kube-state-metrics",
        "system:serviceaccount:kube-system:daemon-set-controller",
        "system:serviceaccount:argocd:argocd-application-controller",
        "ci-deployer",
        "alice",
    } <= set(users)
    writes = {(d["verb"], d["objectRef"]["resource"]) for d in k8s}
    assert {("patch", "deployments"), ("patch", "configmaps"), ("patch", "services")} <= writes
    assert {("update", "leases"), ("create", "events"), ("create", "pods")} <= writes


def test_the_corpus_reaches_the_rules(corpus: list[Source], bundled: Engine) -> None:
    """Not trivially quiet: most events meet at least one rule's event-type index."""
    sources = builtin_sources()
    reached = sum(1 for s, d in corpus if bundled.candidates(Event(d, sources[s])))
    assert reached >= len(corpus) * 0.5


def loud_alerts(corpus: list[Source], engine: Engine) -> list[str]:
    """Every alert at Warning or above: its rule, priority, the event and the output."""
    loud = []
    for source, doc in corpus:
        for alert in engine.evaluate(doc, source):
            if alert.priority.at_least(Priority.WARNING):
                loud.append(
                    f"{alert.rule} ({alert.priority.name}) on {summary(source, doc)}: {alert.output}"
                )
    return loud


def test_ordinary_activity_raises_nothing_at_warning_or_above(
    corpus: list[Source], bundled: Engine
) -> None:
    loud = loud_alerts(corpus, bundled)
    shown = "\n".join(loud[:40])
    assert loud == [], f"{len(loud)} alert(s) at Warning or above, the first ones:\n{shown}"
    assert bundled.stats.rule_errors == 0, bundled.stats.last_errors


def test_a_rule_firing_on_ordinary_activity_is_reported(
    corpus: list[Source], tmp_path: Path
) -> None:
    """The check above can fail: a rule that calls every CloudFormation role a threat."""
    noisy = tmp_path / "noisy.yaml"
    noisy.write_text(
        "- rule: Role Created\n  desc: any role\n"
        "  condition: ct.src = iam.amazonaws.com and ct.name = CreateRole\n"
        "  output: role %ct.user\n  priority: WARNING\n  source: aws_cloudtrail\n"
    )
    engine = compile_rules(load_rules([str(ROOT / "rules"), str(noisy)]), match="all")
    loud = loud_alerts(corpus[:5000], engine)
    assert loud
    assert loud[0].startswith(
        "Role Created (WARNING) on iam.amazonaws.com CreateRole by "
        "arn:aws:sts::111122223333:assumed-role/cfn-exec-role/AWSCloudFormation: "
    )
    assert loud[0].endswith(": Warning role cfn-exec-role")

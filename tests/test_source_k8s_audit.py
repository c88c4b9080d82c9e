"""The k8s_audit source: field registry, extraction semantics, time and info."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lanner.errors import FieldArgumentError
from lanner.event import Event
from lanner.fields import Arg, FieldType
from lanner.sources.k8s_audit import k8s_audit_source, parse_query

SRC = k8s_audit_source()
RULES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "falco" / "k8s_audit_rules.yaml"


def x(doc: Any, name: str, arg: str | None = None) -> Any:
    field = SRC.fields.get(name)
    assert field is not None, name
    return field.extractor(arg)(Event(doc, SRC))


# --------------------------------------------------------------------------
# Realistic audit events


def _event(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "4c8f1d2e-9a7b-4f62-b1c3-0d5e6f7a8b9c",
        "stage": "ResponseComplete",
        "user": {
            "username": "alice@example.com",
            "groups": ["system:authenticated", "devs"],
        },
        "sourceIPs": ["203.0.113.7", "10.0.0.12"],
        "userAgent": "kubectl/v1.29.1 (linux/amd64) kubernetes/bc401b9",
        "requestReceivedTimestamp": "2024-05-01T09:59:59.990000Z",
        "stageTimestamp": "2024-05-01T10:00:00.123456Z",
        "annotations": {
            "authorization.k8s.io/decision": "allow",
            "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "devs"',
        },
    }
    base.update(kw)
    return base


POD_CREATE = _event(
    requestURI="/api/v1/namespaces/default/pods?fieldManager=kubectl-client-side-apply",
    verb="create",
    objectRef={"resource": "pods", "namespace": "default", "name": "", "apiVersion": "v1"},
    responseStatus={"metadata": {}, "code": 201},
    requestObject={
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"generateName": "debug-", "namespace": "default"},
        "spec": {
            "hostNetwork": True,
            "hostPID": True,
            "securityContext": {
                "runAsUser": 1000,
                "fsGroup": 2000,
                "supplementalGroups": [3000, 3001],
            },
            "containers": [
                {
                    "name": "shell",
                    "image": "docker.io/library/busybox:1.36",
                    "command": ["sh", "-c", "sleep 3600"],
                    "securityContext": {
                        "privileged": True,
                        "runAsUser": 0,
                        "capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]},
                    },
                    "ports": [{"containerPort": 8080, "hostPort": 80}, {"containerPort": 9090}],
                },
                {"name": "sidecar", "image": "registry.local:5000/team/proxy@sha256:abcd"},
                {
                    "name": "web",
                    "image": "nginx",
                    "securityContext": {"privileged": False, "allowPrivilegeEscalation": False},
                },
            ],
            "initContainers": [
                {
                    "name": "setup",
                    "image": "alpine:3.19",
                    "securityContext": {"privileged": True},
                }
            ],
            "ephemeralContainers": [
                {
                    "name": "dbg",
                    "image": "nicolaka/netshoot:latest",
                    "securityContext": {"privileged": True},
                }
            ],
            "volumes": [
                {"name": "docker", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}},
                {"name": "cfg", "configMap": {"name": "app-config"}},
                {"name": "root", "hostPath": {"path": "/"}},
                {"name": "flex", "flexVolume": {"driver": "example/lvm"}},
            ],
        },
    },
    responseObject={"kind": "Pod", "metadata": {"name": "debug-x7k2p", "namespace": "default"}},
)

EXEC = _event(
    stage="ResponseStarted",
    level="Request",
    requestURI=(
        "/api/v1/namespaces/prod/pods/web-7d9f/exec?command=%2Fbin%2Fsh&command=-c"
        "&command=cat+%2Fetc%2Fshadow&container=web&stdin=true&stdout=true&tty=true"
    ),
    verb="create",
    objectRef={
        "resource": "pods",
        "namespace": "prod",
        "name": "web-7d9f",
        "apiVersion": "v1",
        "subresource": "exec",
    },
    responseStatus={"metadata": {}, "code": 101},
)

CRB_CLUSTER_ADMIN = _event(
    requestURI="/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    verb="create",
    objectRef={
        "resource": "clusterrolebindings",
        "name": "ops-admin",
        "apiGroup": "rbac.authorization.k8s.io",
        "apiVersion": "v1",
    },
    responseStatus={"metadata": {}, "code": 201},
    requestObject={
        "kind": "ClusterRoleBinding",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "ops-admin"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cluster-admin",
        },
        "subjects": [
            {"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"},
            {"kind": "Group", "name": "oncall", "apiGroup": "rbac.authorization.k8s.io"},
        ],
    },
)

CLUSTERROLE = _event(
    requestURI="/apis/rbac.authorization.k8s.io/v1/clusterroles",
    verb="create",
    objectRef={
        "resource": "clusterroles",
        "name": "exec-all",
        "apiGroup": "rbac.authorization.k8s.io",
    },
    responseStatus={"metadata": {}, "code": 201},
    requestObject={
        "kind": "ClusterRole",
        "metadata": {"name": "exec-all"},
        "rules": [
            {"apiGroups": [""], "resources": ["pods", "pods/exec"], "verbs": ["get", "create"]},
            {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
        ],
    },
)

CONFIGMAP = _event(
    requestURI="/api/v1/namespaces/default/configmaps",
    verb="create",
    objectRef={"resource": "configmaps", "namespace": "default", "name": "aws-creds"},
    responseStatus={"metadata": {}, "code": 201},
    requestObject={
        "kind": "ConfigMap",
        "metadata": {"name": "aws-creds"},
        "data": {"aws_access_key_id": "AKIAEXAMPLE", "region": "eu-west-1"},
    },
)

ANONYMOUS = _event(
    level="Metadata",
    requestURI="/api/v1/namespaces/kube-system/secrets",
    verb="list",
    user={"username": "system:anonymous", "groups": ["system:unauthenticated"]},
    objectRef={"resource": "secrets", "namespace": "kube-system", "apiVersion": "v1"},
    responseStatus={"metadata": {}, "code": 200},
    annotations={
        "authorization.k8s.io/decision": "allow",
        "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "oops"',
    },
)

FORBIDDEN = _event(
    level="Metadata",
    requestURI="/api/v1/namespaces/kube-system/secrets/token",
    verb="get",
    objectRef={"resource": "secrets", "namespace": "kube-system", "name": "token"},
    responseStatus={"metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403},
    annotations={"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""},
)

NODEPORT = _event(
    requestURI="/api/v1/namespaces/default/services",
    verb="create",
    objectRef={"resource": "services", "namespace": "default", "name": "web"},
    requestObject={
        "kind": "Service",
        "spec": {
            "type": "NodePort",
            "ports": [
                {"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"},
                {"port": 443, "protocol": "TCP"},
            ],
        },
    },
)


# --------------------------------------------------------------------------
# Registry


def test_source_identity_and_index_fields() -> None:
    assert SRC.name == "k8s_audit"
    assert SRC.index_fields == ("ka.verb", "ka.target.resource")
    for name in SRC.index_fields:
        f = SRC.fields.get(name)
        assert f is not None
        assert (f.type, f.is_list, f.arg) == (FieldType.STRING, False, Arg.NONE)
    assert SRC.hostname(POD_CREATE) is None


def test_every_field_has_a_description() -> None:
    empty = [f.name for f in SRC.fields if not f.desc.strip()]
    assert empty == []


def test_generic_and_json_fields_are_present() -> None:
    for name in ("evt.time", "evt.rawtime", "evt.plugininfo", "jevt.value", "jevt.obj"):
        assert name in SRC.fields
    for name in ("json.value", "json.obj", "json.rawtime", "jevt.rawtime"):
        assert name in SRC.fields


@pytest.mark.skipif(not RULES.exists(), reason="upstream rule files not available")
def test_every_field_of_the_upstream_rules_exists() -> None:
    text = RULES.read_text()
    used = {
        m.group(1) for m in re.finditer(r"\b((?:ka|jevt|json)\.[A-Za-z0-9_.]*[A-Za-z0-9_])", text)
    }
    assert len(used) > 30
    missing = sorted(name for name in used if name not in SRC.fields)
    assert missing == []


def test_plugin_list_fields_are_flagged_as_lists() -> None:
    for name in (
        "ka.user.groups",
        "ka.req.pod.containers.image",
        "ka.req.pod.containers.image.repository",
        "ka.req.pod.containers.privileged",
        "ka.req.pod.initContainers.privileged",
        "ka.req.pod.ephemeralContainers.image",
        "ka.req.pod.volumes.hostpath",
        "ka.req.binding.subjects",
        "ka.req.role.rules",
        "ka.req.role.rules.verbs",
        "ka.req.service.ports",
        "ka.sourceips",
    ):
        f = SRC.fields.get(name)
        assert f is not None and f.is_list, name
    for name in ("ka.verb", "ka.req.pod.host_pid", "ka.response.code", "ka.req.binding.role"):
        f = SRC.fields.get(name)
        assert f is not None and not f.is_list, name


# --------------------------------------------------------------------------
# Request metadata


def test_request_metadata_of_an_exec() -> None:
    assert x(EXEC, "ka.auditid") == "4c8f1d2e-9a7b-4f62-b1c3-0d5e6f7a8b9c"
    assert x(EXEC, "ka.stage") == "ResponseStarted"
    assert x(EXEC, "ka.verb") == "create"
    assert x(EXEC, "ka.user.name") == "alice@example.com"
    assert x(EXEC, "ka.user.groups") == ("system:authenticated", "devs")
    assert x(EXEC, "ka.target.resource") == "pods"
    assert x(EXEC, "ka.target.subresource") == "exec"
    assert x(EXEC, "ka.target.name") == "web-7d9f"
    assert x(EXEC, "ka.target.namespace") == "prod"
    assert x(EXEC, "ka.target.pod.name") == "web-7d9f"
    assert x(EXEC, "ka.response.code") == "101"
    assert x(EXEC, "ka.useragent").startswith("kubectl/v1.29.1")
    assert x(EXEC, "ka.sourceips") == ("203.0.113.7", "10.0.0.12")
    assert x(EXEC, "ka.sourceips", "1") == ("10.0.0.12",)
    assert x(EXEC, "ka.sourceips", "5") is None
    assert x(EXEC, "ka.uri").startswith("/api/v1/namespaces/prod/pods/web-7d9f/exec?command=")
    assert x(EXEC, "ka.impuser.name") is None


def test_uri_params_are_decoded_and_first_value_wins() -> None:
    assert x(EXEC, "ka.uri.param", "command") == "/bin/sh"
    assert x(EXEC, "ka.uri.param", "container") == "web"
    assert x(EXEC, "ka.uri.param", "tty") == "true"
    assert x(EXEC, "ka.uri.param", "missing") is None
    assert x(POD_CREATE, "ka.uri.param", "fieldManager") == "kubectl-client-side-apply"


def test_uri_param_plus_is_a_space() -> None:
    assert parse_query("/x?command=cat+%2Fetc%2Fshadow") == {"command": "cat /etc/shadow"}


def test_uri_param_rejects_what_go_rejects() -> None:
    bad_escape = _event(requestURI="/api/v1/pods/x/exec?command=ls&container=%zz")
    assert x(bad_escape, "ka.uri.param", "command") is None
    semicolon = _event(requestURI="/api/v1/pods/x/exec?command=ls;rm")
    assert x(semicolon, "ka.uri.param", "command") is None
    bad_path = _event(requestURI="/api/v1/pods/%G0/exec?command=ls")
    assert x(bad_path, "ka.uri.param", "command") is None
    assert parse_query("/healthz") == {}
    assert parse_query("/x?a=1#frag&b=2") == {"a": "1"}


def test_uri_query_is_parsed_once_per_event() -> None:
    doc = copy.deepcopy(EXEC)
    ev = Event(doc, SRC)
    command = SRC.fields.get("ka.uri.param")
    assert command is not None
    assert command.extractor("command")(ev) == "/bin/sh"
    doc["requestURI"] = "/api/v1/namespaces/prod/pods/web-7d9f/exec?command=id"
    # Same event: the cached parse answers; a new event parses again.
    assert command.extractor("container")(ev) == "web"
    assert command.extractor("command")(Event(doc, SRC)) == "id"


def test_uri_param_requires_a_key() -> None:
    f = SRC.fields.get("ka.uri.param")
    assert f is not None
    with pytest.raises(FieldArgumentError):
        f.extractor(None)


def test_anonymous_request() -> None:
    assert x(ANONYMOUS, "ka.user.name") == "system:anonymous"
    assert x(ANONYMOUS, "ka.user.groups") == ("system:unauthenticated",)
    assert x(ANONYMOUS, "ka.auth.decision") == "allow"
    assert x(ANONYMOUS, "ka.auth.reason") == 'RBAC: allowed by ClusterRoleBinding "oops"'
    assert x(ANONYMOUS, "ka.target.name") is None
    assert x(ANONYMOUS, "ka.target.subresource") is None
    assert x(ANONYMOUS, "ka.target.pod.name") is None


def test_failed_response() -> None:
    assert x(FORBIDDEN, "ka.response.code") == "403"
    assert x(FORBIDDEN, "ka.response.reason") == "Forbidden"
    assert x(FORBIDDEN, "ka.auth.decision") == "forbid"
    # An empty string is a value, not a missing one.
    assert x(FORBIDDEN, "ka.auth.reason") == ""
    assert x(EXEC, "ka.response.reason") is None


def test_other_annotations() -> None:
    doc = _event(
        annotations={
            "pod-security.kubernetes.io/audit-violations": 'would violate PodSecurity "restricted"',
            "validation.policy.admission.k8s.io/validation_failure": '[{"message":"no"}]',
            "authentication.openshift.io/decision": "deny",
            "authentication.openshift.io/username": "mallory",
            "cluster_name": "prod-eu",
        }
    )
    assert x(doc, "ka.security.pod.violations") == 'would violate PodSecurity "restricted"'
    assert x(doc, "ka.validations.admission.policy.failure") == '[{"message":"no"}]'
    assert x(doc, "ka.auth.openshift.decision") == "deny"
    assert x(doc, "ka.auth.openshift.username") == "mallory"
    assert x(doc, "ka.cluster.name") == "prod-eu"
    assert x(doc, "ka.auth.decision") is None
    assert x(EXEC, "ka.cluster.name") is None


def test_impersonation() -> None:
    doc = _event(impersonatedUser={"username": "system:serviceaccount:ci:deployer"})
    assert x(doc, "ka.impuser.name") == "system:serviceaccount:ci:deployer"


# --------------------------------------------------------------------------
# Pods


def test_pod_images_and_repositories() -> None:
    assert x(POD_CREATE, "ka.req.pod.containers.image") == (
        "docker.io/library/busybox:1.36",
        "registry.local:5000/team/proxy@sha256:abcd",
        "nginx",
    )
    # Falco's split: text before the first ':' then before the first '@'.
    assert x(POD_CREATE, "ka.req.pod.containers.image.repository") == (
        "docker.io/library/busybox",
        "registry.local",
        "nginx",
    )
    assert x(POD_CREATE, "ka.req.pod.containers.image", "2") == ("nginx",)
    assert x(POD_CREATE, "ka.req.pod.containers.image", "3") is None
    assert x(POD_CREATE, "ka.req.container.image") == "docker.io/library/busybox:1.36"
    assert x(POD_CREATE, "ka.req.container.image.repository") == "docker.io/library/busybox"
    assert x(POD_CREATE, "ka.req.pod.initContainers.image") == ("alpine:3.19",)
    assert x(POD_CREATE, "ka.req.pod.initContainers.image.repository") == ("alpine",)
    assert x(POD_CREATE, "ka.req.pod.ephemeralContainers.image") == ("nicolaka/netshoot:latest",)
    assert x(POD_CREATE, "ka.req.pod.containers.name") == ("shell", "sidecar", "web")


def test_digest_only_image_repository() -> None:
    doc = _event(requestObject={"spec": {"containers": [{"image": "quay.io/org/app@sha256:0123"}]}})
    assert x(doc, "ka.req.pod.containers.image.repository") == ("quay.io/org/app",)


def test_a_container_without_image_leaves_images_unavailable() -> None:
    doc = _event(requestObject={"spec": {"containers": [{"image": "nginx"}, {"name": "noimage"}]}})
    assert x(doc, "ka.req.pod.containers.image") is None
    assert x(doc, "ka.req.pod.containers.image", "0") == ("nginx",)


def test_privileged_flags_skip_containers_without_the_flag() -> None:
    # shell: true, sidecar: no securityContext (skipped), web: false.
    assert x(POD_CREATE, "ka.req.pod.containers.privileged") == ("true", "false")
    assert x(POD_CREATE, "ka.req.pod.containers.privileged", "0") == ("true",)
    assert x(POD_CREATE, "ka.req.pod.containers.privileged", "1") is None
    assert x(POD_CREATE, "ka.req.pod.initContainers.privileged") == ("true",)
    assert x(POD_CREATE, "ka.req.pod.ephemeralContainers.privileged") == ("true",)
    assert x(POD_CREATE, "ka.req.container.privileged") == "true"


def test_pod_without_security_context() -> None:
    doc = _event(requestObject={"spec": {"containers": [{"name": "a", "image": "nginx:1.25"}]}})
    assert x(doc, "ka.req.pod.containers.privileged") is None
    assert x(doc, "ka.req.container.privileged") == "false"
    assert x(doc, "ka.req.pod.initContainers.privileged") is None
    assert x(doc, "ka.req.pod.host_pid") is None
    assert x(doc, "ka.req.pod.host_network") is None
    assert x(doc, "ka.req.pod.containers.eff_run_as_user") == ("0",)
    assert x(doc, "ka.req.pod.containers.run_as_user") is None


def test_host_namespaces_are_the_spec_flags_as_text() -> None:
    assert x(POD_CREATE, "ka.req.pod.host_network") == "true"
    assert x(POD_CREATE, "ka.req.container.host_network") == "true"
    assert x(POD_CREATE, "ka.req.pod.host_pid") == "true"
    assert x(POD_CREATE, "ka.req.pod.host_ipc") is None
    doc = _event(requestObject={"spec": {"hostPID": False}})
    assert x(doc, "ka.req.pod.host_pid") == "false"


def test_security_context_values() -> None:
    assert x(POD_CREATE, "ka.req.pod.containers.allow_privilege_escalation") == ("false",)
    assert x(POD_CREATE, "ka.req.pod.containers.run_as_user") == ("0",)
    assert x(POD_CREATE, "ka.req.pod.run_as_user") == "1000"
    assert x(POD_CREATE, "ka.req.pod.run_as_group") is None
    assert x(POD_CREATE, "ka.req.pod.fs_group") == "2000"
    assert x(POD_CREATE, "ka.req.pod.supplemental_groups") == ("3000", "3001")
    # Own runAsUser, else the pod's 1000.
    assert x(POD_CREATE, "ka.req.pod.containers.eff_run_as_user") == ("0", "1000", "1000")
    assert x(POD_CREATE, "ka.req.pod.containers.eff_run_as_user", "1") == ("1000",)
    assert x(POD_CREATE, "ka.req.pod.containers.eff_run_as_group") == ("0", "0", "0")
    # One JSON array text per container that adds capabilities.
    assert x(POD_CREATE, "ka.req.pod.containers.add_capabilities") == ('["NET_ADMIN","SYS_TIME"]',)
    assert x(POD_CREATE, "ka.req.pod.containers.command") == ('["sh","-c","sleep 3600"]',)
    assert x(POD_CREATE, "ka.req.pod.containers.args") is None


def test_host_ports() -> None:
    # hostPort when set, else the containerPort.
    assert x(POD_CREATE, "ka.req.pod.containers.host_port") == ("80", "9090")
    assert x(POD_CREATE, "ka.req.pod.initContainers.host_port") is None
    assert "ka.req.pod.ephemeralContainers.host_port" not in SRC.fields


def test_volumes() -> None:
    assert x(POD_CREATE, "ka.req.pod.volumes.hostpath") == ("/var/run/docker.sock", "/")
    assert x(POD_CREATE, "ka.req.pod.volumes.hostpath", "2") == ("/",)
    assert x(POD_CREATE, "ka.req.pod.volumes.hostpath", "1") is None
    assert x(POD_CREATE, "ka.req.pod.volumes.flexvolume_driver") == ("example/lvm",)
    assert x(POD_CREATE, "ka.req.pod.volumes.volume_type") == (
        "hostPath",
        "configMap",
        "hostPath",
        "flexVolume",
    )
    assert x(POD_CREATE, "ka.req.volume.hostpath", "/var/run/docker.sock") == "true"
    assert x(POD_CREATE, "ka.req.volume.hostpath", "/var/*") == "true"
    assert x(POD_CREATE, "ka.req.volume.hostpath", "/etc") == "false"
    assert x(EXEC, "ka.req.volume.hostpath", "/etc") is None


def test_response_object_names_the_created_pod() -> None:
    assert x(POD_CREATE, "ka.resp.name") == "debug-x7k2p"
    assert x(POD_CREATE, "ka.target.pod.name") == "debug-x7k2p"
    assert x(EXEC, "ka.resp.name") is None


def test_pod_fields_on_a_non_pod_request_have_no_value() -> None:
    for name in (
        "ka.req.pod.containers.image",
        "ka.req.pod.containers.privileged",
        "ka.req.pod.volumes.hostpath",
        "ka.req.container.privileged",
        "ka.req.container.image",
        "ka.req.pod.host_network",
    ):
        assert x(EXEC, name) is None, name


# --------------------------------------------------------------------------
# RBAC, configmaps, services


def test_cluster_role_binding_to_cluster_admin() -> None:
    assert x(CRB_CLUSTER_ADMIN, "ka.req.binding.role") == "cluster-admin"
    subjects = x(CRB_CLUSTER_ADMIN, "ka.req.binding.subjects")
    assert len(subjects) == 3
    assert json.loads(subjects[1]) == {
        "kind": "ServiceAccount",
        "name": "deployer",
        "namespace": "ci",
    }
    assert x(CRB_CLUSTER_ADMIN, "ka.req.binding.subjects.user_names") == ("bob",)
    assert x(CRB_CLUSTER_ADMIN, "ka.req.binding.subjects.serviceaccount_names") == ("deployer",)
    assert x(CRB_CLUSTER_ADMIN, "ka.req.binding.subjects.serviceaccount_ns_names") == (
        "ci:deployer",
    )
    assert x(CRB_CLUSTER_ADMIN, "ka.req.binding.subjects.group_names") == ("oncall",)
    assert x(CRB_CLUSTER_ADMIN, "ka.req.binding.subject.has_name", "anyone") == "true"
    assert x(CLUSTERROLE, "ka.req.binding.subjects.user_names") is None


def test_role_rules() -> None:
    assert x(CLUSTERROLE, "ka.req.role.rules.verbs") == ("get", "create", "*", "get")
    assert x(CLUSTERROLE, "ka.req.role.rules.resources") == ("pods", "pods/exec", "*")
    assert x(CLUSTERROLE, "ka.req.role.rules.resources", "1") == ("*",)
    assert x(CLUSTERROLE, "ka.req.role.rules.apiGroups") == ("", "apps")
    assert x(CLUSTERROLE, "ka.req.role.rules.nonResourceURLs") == ("/metrics",)
    rules = x(CLUSTERROLE, "ka.req.role.rules")
    assert [json.loads(r)["verbs"] for r in rules] == [["get", "create"], ["*"], ["get"]]


def test_configmap_with_credentials() -> None:
    obj = x(CONFIGMAP, "ka.req.configmap.obj")
    assert "aws_access_key_id" in obj
    assert json.loads(obj) == {"aws_access_key_id": "AKIAEXAMPLE", "region": "eu-west-1"}
    assert x(CONFIGMAP, "ka.req.configmap.name") == "aws-creds"


def test_nodeport_service() -> None:
    assert x(NODEPORT, "ka.req.service.type") == "NodePort"
    ports = x(NODEPORT, "ka.req.service.ports")
    assert [json.loads(p)["port"] for p in ports] == [80, 443]
    assert x(NODEPORT, "ka.req.service.ports", "1") == ('{"port":443,"protocol":"TCP"}',)


# --------------------------------------------------------------------------
# jevt.* / json.*


def test_jevt_fields() -> None:
    assert x(POD_CREATE, "jevt.value", "/stage") == "ResponseComplete"
    volumes = x(POD_CREATE, "jevt.value", "/requestObject/spec/volumes")
    assert json.loads(volumes)[0]["hostPath"]["path"] == "/var/run/docker.sock"
    assert x(POD_CREATE, "jevt.value", "/requestObject/ephemeralContainers/0/image") is None
    assert x(POD_CREATE, "json.value", "/responseStatus/code") == "201"
    obj = x(FORBIDDEN, "jevt.obj")
    assert obj.startswith('{\n  "kind": "Event",')
    assert json.loads(obj) == FORBIDDEN


def test_bad_arguments_are_rejected_at_bind_time() -> None:
    for name, arg in (
        ("ka.req.pod.containers.image", "-1"),
        ("ka.req.pod.containers.image", "first"),
        ("ka.req.role.rules.verbs", "x"),
        ("jevt.value", "stage"),
        ("ka.req.volume.hostpath", ""),
        ("ka.verb", "0"),
    ):
        f = SRC.fields.get(name)
        assert f is not None
        with pytest.raises(FieldArgumentError):
            f.extractor(arg)


# --------------------------------------------------------------------------
# Missing parts and odd documents


def test_json_without_audit_id_is_not_an_audit_event() -> None:
    doc = {k: v for k, v in EXEC.items() if k != "auditID"}
    assert x(doc, "ka.verb") is None
    assert x(doc, "ka.user.name") is None
    assert x(doc, "ka.uri.param", "command") is None
    # The JSON plugin's fields do not care.
    assert x(doc, "jevt.value", "/verb") == "create"


def test_nulls_and_wrong_types_have_no_value() -> None:
    doc = _event(
        verb=None,
        user={"username": 42, "groups": "not-a-list"},
        objectRef=["pods"],
        requestObject={"spec": {"containers": {"image": "x"}, "hostPID": None}},
    )
    assert x(doc, "ka.verb") is None
    assert x(doc, "ka.user.name") == "42"  # a number reads as its JSON text
    assert x(doc, "ka.user.groups") is None
    assert x(doc, "ka.target.resource") is None
    assert x(doc, "ka.req.pod.host_pid") is None


def _all_extractors() -> list[tuple[str, Any]]:
    out = []
    for f in SRC.fields:
        args: list[str | None]
        if f.arg is Arg.KEY:
            args = ["command"] if f.name != "jevt.value" and f.name != "json.value" else ["/a/0"]
        elif f.arg is Arg.INDEX_OPTIONAL:
            args = [None, "0"]
        else:
            args = [None]
        out += [(f.name, f.extractor(a)) for a in args]
    return out


EXTRACTORS = _all_extractors()
ODD_DOCS: list[Any] = [
    None,
    [],
    "text",
    3,
    {},
    {"auditID": None},
    {"auditID": "a", "requestObject": [], "objectRef": "pods", "annotations": []},
    {"auditID": "a", "requestObject": {"spec": "x", "rules": {"verbs": 1}, "subjects": [1, None]}},
    {"auditID": "a", "requestObject": {"spec": {"containers": [None, 1, "x", [], {}]}}},
    {"auditID": "a", "requestObject": {"spec": {"containers": [{"securityContext": []}]}}},
    {"auditID": "a", "requestObject": {"spec": {"containers": [{"ports": {"hostPort": 1}}]}}},
    {"auditID": "a", "requestObject": {"spec": {"volumes": [[{"hostPath": {"path": "/"}}]]}}},
    {"auditID": "a", "requestURI": 7, "stageTimestamp": 5, "sourceIPs": None},
]


def _check_value(name: str, value: Any) -> None:
    f = SRC.fields.get(name)
    assert f is not None
    if value is None:
        return
    if f.is_list:
        assert type(value) is tuple and value, (name, value)
        assert all(type(v) is str for v in value), (name, value)
    elif f.type.is_string:
        assert type(value) is str, (name, value)
    else:
        assert type(value) in (int, bool), (name, value)


@pytest.mark.parametrize("doc", ODD_DOCS, ids=range(len(ODD_DOCS)))
def test_odd_documents_never_raise(doc: Any) -> None:
    ev = Event(doc, SRC)
    for name, extract in EXTRACTORS:
        _check_value(name, extract(ev))
    assert SRC.event_time(doc) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "spec",
                    "containers",
                    "initContainers",
                    "securityContext",
                    "privileged",
                    "image",
                    "ports",
                    "hostPort",
                    "volumes",
                    "hostPath",
                    "path",
                    "rules",
                    "verbs",
                    "subjects",
                    "kind",
                    "name",
                    "metadata",
                ]
            ),
            kids,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(request=_json, uri=st.text(max_size=20))
def test_random_documents_never_raise(request: Any, uri: str) -> None:
    doc = {"auditID": "a", "requestObject": request, "requestURI": "/x?" + uri}
    ev = Event(doc, SRC)
    for name, extract in EXTRACTORS:
        _check_value(name, extract(ev))


# --------------------------------------------------------------------------
# Time and summary


def test_event_time_is_the_stage_timestamp() -> None:
    assert SRC.event_time(EXEC) == 1714557600_123456000
    ev = Event(EXEC, SRC)
    iso = SRC.fields.get("evt.time.iso8601")
    assert iso is not None
    assert iso.extractor(None)(ev) == "2024-05-01T10:00:00.123456000Z"
    assert x(EXEC, "jevt.rawtime") == "1714557600123456000"


def test_event_time_falls_back_to_request_received() -> None:
    doc = {k: v for k, v in EXEC.items() if k != "stageTimestamp"}
    assert SRC.event_time(doc) == 1714557599_990000000
    doc["stageTimestamp"] = "yesterday"
    assert SRC.event_time(doc) == 1714557599_990000000


def test_event_time_formats() -> None:
    def t(text: str) -> int | None:
        return SRC.event_time({"stageTimestamp": text})

    assert t("2024-05-01T10:00:00Z") == 1714557600_000000000
    assert t("2024-05-01T10:00:00.123456789Z") == 1714557600_123456789
    assert t("2024-05-01T12:00:00.5+02:00") == 1714557600_500000000
    assert t("2024-05-01T10:00:00.1234567891Z") is None  # more than 9 digits
    assert t("2024-02-30T10:00:00Z") is None
    assert t("2024-05-01 10:00:00Z") is None
    assert t("") is None


def test_no_time_means_no_rawtime() -> None:
    doc = {k: v for k, v in EXEC.items() if not k.endswith("Timestamp")}
    assert SRC.event_time(doc) is None
    assert x(doc, "jevt.rawtime") is None
    assert x(doc, "evt.time") is None


def test_info_is_the_event_on_one_line() -> None:
    info = SRC.info(EXEC)
    assert info is not None and "\n" not in info
    assert json.loads(info) == EXEC
    assert x(EXEC, "evt.plugininfo") == info
    assert x(EXEC, "evt.source") == "k8s_audit"

"""The ``k8s_audit`` source: Kubernetes audit events (``audit.k8s.io/v1`` ``Event``).

The fields are those of Falco's k8saudit plugin (``ka.*``) plus the JSON
extractor plugin's ``json.*``/``jevt.*``, which Falco's own k8s audit rules
use for whatever the plugin does not name.

Value conventions, as in the plugin:

- Every ``ka.*`` field is a string. A JSON string is returned as is; a
  number, boolean, object or array is its JSON text, so ``hostPID: true``
  reads ``"true"`` and ``responseStatus.code`` reads ``"200"``. A missing key
  or a JSON ``null`` is no value.
- A document without an ``auditID`` key is not an audit event: every ``ka.*``
  field has no value on it (the plugin rejects such JSON the same way).
- List fields return a tuple; an absent or empty list is no value. Per-
  container flags skip containers that do not set them: a container without
  ``securityContext.privileged`` adds nothing to
  ``ka.req.pod.containers.privileged`` (it does not add ``false``).
- ``[N]`` on a list field keeps the N-th container (rule, volume, port...).

Where the plugin's source reads a path that a Kubernetes object cannot have
(``eff_run_as_user`` looking for ``runAsUser`` directly under the pod spec,
``ka.sourceips`` under the request's RBAC rules), lanner reads the path the
field's description names instead. See ``k8s_audit_source`` for the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from lanner.errors import FieldArgumentError
from lanner.event import Event
from lanner.fields import (
    Arg,
    Extractor,
    FieldDef,
    FieldRegistry,
    FieldType,
    Source,
    simple,
    with_arg,
)
from lanner.sources.generic import generic_fields
from lanner.sources.json_source import (
    compact_json,
    json_plugin_fields,
    parse_rfc3339,
)
from lanner.sources.jsonptr import as_text, lookup, string_at, top_string

_S = FieldType.STRING
_QUERY_KEY = "_k8s_audit.query"  # ev.cache slot of the parsed requestURI query

# --------------------------------------------------------------------------
# Reading the document


def _audit(ev: Event) -> dict[str, Any] | None:
    d = ev.doc
    if type(d) is dict and "auditID" in d:
        return d
    return None


def _collect(node: Any, keys: tuple[str, ...], index: int | None) -> list[Any] | None:
    """Every value at ``keys`` below ``node``, fanning out over arrays met on
    the way (or taking their ``index``-th element); None when the path
    breaks outside any array. Inside a fan-out, an element where the path
    breaks contributes a None, so callers can tell "unset" from "absent".
    An empty key stands for the node itself.
    """
    for i, k in enumerate(keys):
        if type(node) is list:
            if index is None:
                out: list[Any] = []
                rest = keys[i:]
                for item in node:
                    found = _collect(item, rest, None)
                    if found is None:
                        out.append(None)
                    else:
                        out += found
                return out
            if index >= len(node):
                return None
            node = node[index]
        if k:
            if type(node) is not dict:
                return None
            node = node.get(k)
            if node is None:
                return None
    return [node]


def _index(arg: str | None) -> int | None:
    if arg is None:
        return None
    i = int(arg)  # FieldDef.extractor has already checked it is an integer
    if i < 0:
        raise FieldArgumentError(f"a list index cannot be negative: [{arg}]")
    return i


def _texts(values: list[Any]) -> tuple[str, ...] | None:
    """Rendered values, unset ones skipped; None when nothing is left."""
    out = [t for t in map(as_text, values) if t is not None]
    return tuple(out) if out else None


# --------------------------------------------------------------------------
# Extractor builders


def _at(*keys: str) -> Extractor:
    """A single value at a fixed path of an audit event."""
    return string_at(keys, guard="auditID")


def _list_at(*keys: str) -> Extractor:
    """A JSON array at a fixed path, each element as a string."""

    def extract(ev: Event) -> tuple[str, ...] | None:
        v = lookup(_audit(ev), keys)
        return _texts(v) if type(v) is list else None

    return extract


def _bind_list_at(*keys: str) -> Callable[[str | None], Extractor]:
    """Like ``_list_at``, with an optional ``[N]`` keeping the N-th element."""

    def bind(arg: str | None) -> Extractor:
        index = _index(arg)

        def extract(ev: Event) -> tuple[str, ...] | None:
            v = lookup(_audit(ev), keys)
            if type(v) is not list:
                return None
            if index is None:
                return _texts(v)
            return _texts(v[index : index + 1])

        return extract

    return bind


def _bind_each(
    keys: tuple[str, ...], *, all_or_none: bool = False, post: Callable[[str], str] | None = None
) -> Callable[[str | None], Extractor]:
    """One value per element of the arrays on the path (``_collect``).

    ``all_or_none``: an element without the value makes the whole field
    unavailable (the plugin's container images) instead of being skipped.
    """

    def bind(arg: str | None) -> Extractor:
        index = _index(arg)

        def extract(ev: Event) -> tuple[str, ...] | None:
            d = _audit(ev)
            if d is None:
                return None
            found = _collect(d, keys, index)
            if not found:
                return None
            if all_or_none and None in found:
                return None
            out = _texts(found)
            if out is None or post is None:
                return out
            return tuple(map(post, out))

        return extract

    return bind


def _repository(image: str) -> str:
    # The plugin's split, kept as is: the text before the first ':' and
    # then before the first '@'; so a registry port ("reg:5000/app") leaves
    # only "reg".
    return image.split(":", 1)[0].split("@", 1)[0]


def _bind_host_ports(kind: str) -> Callable[[str | None], Extractor]:
    keys = ("requestObject", "spec", kind, "ports")

    def bind(arg: str | None) -> Extractor:
        index = _index(arg)

        def extract(ev: Event) -> tuple[str, ...] | None:
            d = _audit(ev)
            found = None if d is None else _collect(d, keys, index)
            if not found:
                return None
            out: list[str] = []
            for ports in found:
                if ports is None:
                    continue
                if type(ports) is not list:
                    return None
                for port in ports:
                    if type(port) is not dict:
                        continue
                    # With hostNetwork, a port without hostPort is bound on the
                    # host as its containerPort.
                    v = port.get("hostPort")
                    if v is None:
                        v = port.get("containerPort")
                    t = as_text(v)
                    if t is not None:
                        out.append(t)
            return tuple(out) if out else None

        return extract

    return bind


def _bind_effective(kind: str, key: str) -> Callable[[str | None], Extractor]:
    """The id a container starts with: its own securityContext's, else the
    pod's, else 0 (root)."""
    keys = ("requestObject", "spec", kind, "")  # each container itself
    own_keys = ("securityContext", key)
    pod_keys = ("requestObject", "spec", "securityContext", key)

    def bind(arg: str | None) -> Extractor:
        index = _index(arg)

        def extract(ev: Event) -> tuple[str, ...] | None:
            d = _audit(ev)
            found = None if d is None else _collect(d, keys, index)
            if not found:
                return None
            default = as_text(lookup(d, pod_keys)) or "0"
            return tuple(as_text(lookup(c, own_keys)) or default for c in found)

        return extract

    return bind


def _bind_rules(key: str) -> Callable[[str | None], Extractor]:
    """The strings of ``key`` in every RBAC rule of the request, flattened."""
    keys = ("requestObject", "rules", key)

    def bind(arg: str | None) -> Extractor:
        index = _index(arg)

        def extract(ev: Event) -> tuple[str, ...] | None:
            d = _audit(ev)
            found = None if d is None else _collect(d, keys, index)
            if not found:
                return None
            out: list[str] = []
            for v in found:
                if type(v) is list:
                    out += [t for t in map(as_text, v) if t is not None]
            return tuple(out) if out else None

        return extract

    return bind


def _bind_volume_types(arg: str | None) -> Extractor:
    index = _index(arg)
    keys = ("requestObject", "spec", "volumes", "")

    def extract(ev: Event) -> tuple[str, ...] | None:
        d = _audit(ev)
        found = None if d is None else _collect(d, keys, index)
        if not found:
            return None
        # A volume is {"name": ..., "<type>": {...}}: its keys but "name".
        out = [k for v in found if type(v) is dict for k in v if k != "name"]
        return tuple(out) if out else None

    return extract


def _bind_volume_hostpath(arg: str | None) -> Extractor:
    if not arg:
        raise FieldArgumentError(
            "ka.req.volume.hostpath needs a host path, e.g. [/etc] or [/var/*]"
        )
    # "/var/*" matches by prefix; the exact text still matches too.
    prefix = arg[:-1] if arg.endswith("*") else None
    keys = ("requestObject", "spec", "volumes", "hostPath", "path")

    def extract(ev: Event) -> str | None:
        d = _audit(ev)
        found = None if d is None else _collect(d, keys, None)
        if found is None:
            return None
        for v in found:
            if type(v) is str and (v == arg or (prefix is not None and v.startswith(prefix))):
                return "true"
        return "false"

    return extract


def _any_privileged(ev: Event) -> str | None:
    d = _audit(ev)
    found = (
        None
        if d is None
        else _collect(
            d, ("requestObject", "spec", "containers", "securityContext", "privileged"), None
        )
    )
    if found is None:
        return None
    return "true" if any(v is True for v in found) else "false"


def _first(bind: Callable[[str | None], Extractor]) -> Extractor:
    """The first container's value of a per-container list field."""
    inner = bind("0")

    def extract(ev: Event) -> str | None:
        values = inner(ev)
        return values[0] if values else None

    return extract


def _subject_names(kind: str, with_namespace: bool = False) -> Extractor:
    def extract(ev: Event) -> tuple[str, ...] | None:
        subjects = lookup(_audit(ev), ("requestObject", "subjects"))
        if type(subjects) is not list:
            return None
        out: list[str] = []
        for s in subjects:
            if type(s) is not dict or s.get("kind") != kind:
                continue
            name = s.get("name")
            if type(name) is not str:
                continue
            if with_namespace:
                ns = s.get("namespace")
                if type(ns) is not str:
                    continue
                name = f"{ns}:{name}"
            out.append(name)
        return tuple(out) if out else None

    return extract


def _target_pod_name(ev: Event) -> str | None:
    d = _audit(ev)
    ref = d.get("objectRef") if d is not None else None
    if type(ref) is not dict or ref.get("resource") != "pods":
        return None
    name = ref.get("name")
    if type(name) is str and name:
        return name
    # A pod created from generateName only gets its name in the response.
    return as_text(lookup(d, ("responseObject", "metadata", "name")))


def _has_name(arg: str | None) -> Extractor:
    def extract(ev: Event) -> str | None:
        return None if _audit(ev) is None else "true"

    return extract


# --------------------------------------------------------------------------
# The request URI's query


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_query(uri: str) -> dict[str, str] | None:
    """The query parameters of a request URI, first value of each name,
    URL-decoded (``+`` is a space). None when the URI does not parse the way
    Go's ``url.Parse``/``url.ParseQuery`` would reject it: a control
    character, a bad ``%`` escape, a ``;`` separator. Then no parameter has a
    value, as in the plugin."""
    if _CONTROL.search(uri):
        return None
    path, sep, raw = uri.split("#", 1)[0].partition("?")
    if _BAD_ESCAPE.search(path):
        return None
    params: dict[str, str] = {}
    if not sep:
        return params
    for part in raw.split("&"):
        if not part:
            continue
        if ";" in part or _BAD_ESCAPE.search(part):
            return None
        key, _, value = part.partition("=")
        params.setdefault(unquote_plus(key), unquote_plus(value))
    return params


def _query(ev: Event) -> dict[str, str] | None:
    cache = ev.cache
    if _QUERY_KEY in cache:
        q: dict[str, str] | None = cache[_QUERY_KEY]
        return q
    d = _audit(ev)
    uri = as_text(d.get("requestURI")) if d is not None else None
    q = None if uri is None else parse_query(uri)
    cache[_QUERY_KEY] = q
    return q


def _bind_uri_param(arg: str | None) -> Extractor:
    name = arg or ""

    def extract(ev: Event) -> str | None:
        q = _query(ev)
        return None if q is None else q.get(name)

    return extract


# --------------------------------------------------------------------------
# Event time and summary


def event_time(doc: Any) -> int | None:
    """``stageTimestamp`` (else ``requestReceivedTimestamp``) in ns since the
    epoch; None when neither is a valid RFC 3339 time."""
    if type(doc) is not dict:
        return None
    text = doc.get("stageTimestamp")
    ns = parse_rfc3339(text) if type(text) is str else None
    if ns is None:
        text = doc.get("requestReceivedTimestamp")
        ns = parse_rfc3339(text) if type(text) is str else None
    return ns


# --------------------------------------------------------------------------
# The registry


_CONTAINER_KINDS = (
    ("containers", "container"),
    ("initContainers", "init container"),
    ("ephemeralContainers", "ephemeral container"),
)


def _container_fields(kind: str, what: str) -> list[FieldDef]:
    """The per-container rows of one container list of a pod spec."""
    p = f"ka.req.pod.{kind}"
    each = f"each {what} of the requested pod"
    base = ("requestObject", "spec", kind)

    def sc(key: str) -> tuple[str, ...]:
        return (*base, "securityContext", key)

    def row(suffix: str, desc: str, bind: Callable[[str | None], Extractor]) -> FieldDef:
        return with_arg(
            f"{p}.{suffix}",
            _S,
            f"{desc} Optional [N] keeps the N-th {what} only.",
            bind,
            Arg.INDEX_OPTIONAL,
            is_list=True,
        )

    rows = [
        row("name", f"Name of {each}.", _bind_each((*base, "name"))),
        row(
            "image",
            f"Image of {each}; no value if one of them has no image.",
            _bind_each((*base, "image"), all_or_none=True),
        ),
        row(
            "image.repository",
            f"Image of {each} without its tag or digest (text before the first ':' "
            "then before the first '@'), e.g. docker.io/library/nginx.",
            _bind_each((*base, "image"), all_or_none=True, post=_repository),
        ),
        row(
            "command",
            f"Command of {each}, one JSON array text per {what} that sets one.",
            _bind_each((*base, "command")),
        ),
        row(
            "args",
            f"Arguments of {each}, one JSON array text per {what} that sets them.",
            _bind_each((*base, "args")),
        ),
        row(
            "privileged",
            f"securityContext.privileged of {each} that sets it (true/false); {what}s "
            "without the flag add nothing.",
            _bind_each(sc("privileged")),
        ),
        row(
            "allow_privilege_escalation",
            f"securityContext.allowPrivilegeEscalation of {each} that sets it.",
            _bind_each(sc("allowPrivilegeEscalation")),
        ),
        row(
            "read_only_fs",
            f"securityContext.readOnlyRootFilesystem of {each} that sets it.",
            _bind_each(sc("readOnlyRootFilesystem")),
        ),
        row(
            "run_as_user",
            f"securityContext.runAsUser of {each} that sets it.",
            _bind_each(sc("runAsUser")),
        ),
        row(
            "eff_run_as_user",
            f"User id {each} starts as: its runAsUser, else the pod's, else 0.",
            _bind_effective(kind, "runAsUser"),
        ),
        row(
            "run_as_group",
            f"securityContext.runAsGroup of {each} that sets it.",
            _bind_each(sc("runAsGroup")),
        ),
        row(
            "eff_run_as_group",
            f"Group id {each} starts as: its runAsGroup, else the pod's, else 0.",
            _bind_effective(kind, "runAsGroup"),
        ),
        row(
            "proc_mount",
            f"securityContext.procMount of {each} that sets it.",
            _bind_each(sc("procMount")),
        ),
        row(
            "add_capabilities",
            f"Capabilities added by {each}, one JSON array text per {what} "
            '(e.g. ["NET_ADMIN"]); match it with contains.',
            _bind_each((*base, "securityContext", "capabilities", "add")),
        ),
    ]
    if kind != "ephemeralContainers":  # ephemeral containers cannot declare ports
        rows.append(
            row(
                "host_port",
                f"Host ports of {each}: every hostPort, or the containerPort of a port "
                "without one.",
                _bind_host_ports(kind),
            )
        )
    return rows


def _ka_fields() -> list[FieldDef]:
    req = ("requestObject",)
    spec = ("requestObject", "spec")
    pod_sc = ("requestObject", "spec", "securityContext")
    ann = "annotations"
    containers = _container_fields("containers", "container")

    def lst(name: str, desc: str, fn: Extractor) -> FieldDef:
        return simple(name, _S, desc, fn, is_list=True)

    def lst_index(name: str, desc: str, bind: Callable[[str | None], Extractor]) -> FieldDef:
        return with_arg(
            name,
            _S,
            f"{desc} Optional [N] keeps the N-th one only.",
            bind,
            Arg.INDEX_OPTIONAL,
            is_list=True,
        )

    rows = [
        simple("ka.auditid", _S, "Unique id of the audit event (auditID).", _at("auditID")),
        simple(
            "ka.stage",
            _S,
            "Stage the request was in when the event was logged: RequestReceived, "
            "ResponseStarted, ResponseComplete or Panic.",
            _at("stage"),
        ),
        simple(
            "ka.auth.decision",
            _S,
            "Authorization decision (allow/forbid), from the "
            "authorization.k8s.io/decision annotation.",
            _at(ann, "authorization.k8s.io/decision"),
        ),
        simple(
            "ka.auth.reason",
            _S,
            "Why the request was authorized or not, from the authorization.k8s.io/reason "
            "annotation.",
            _at(ann, "authorization.k8s.io/reason"),
        ),
        simple(
            "ka.auth.openshift.decision",
            _S,
            "OpenShift OAuth server login decision (allow/deny/error), from the "
            "authentication.openshift.io/decision annotation.",
            _at(ann, "authentication.openshift.io/decision"),
        ),
        simple(
            "ka.auth.openshift.username",
            _S,
            "User name an OpenShift OAuth server login was for, from the "
            "authentication.openshift.io/username annotation.",
            _at(ann, "authentication.openshift.io/username"),
        ),
        simple(
            "ka.validations.admission.policy.failure",
            _S,
            "Failures reported by a ValidatingAdmissionPolicy, from the "
            "validation.policy.admission.k8s.io/validation_failure annotation.",
            _at(ann, "validation.policy.admission.k8s.io/validation_failure"),
        ),
        simple(
            "ka.security.pod.violations",
            _S,
            "Pod Security admission violations, from the "
            "pod-security.kubernetes.io/audit-violations annotation.",
            _at(ann, "pod-security.kubernetes.io/audit-violations"),
        ),
        simple(
            "ka.user.name",
            _S,
            "User that made the request (user.username).",
            _at("user", "username"),
        ),
        lst(
            "ka.user.groups",
            "Groups of the requesting user (user.groups).",
            _list_at("user", "groups"),
        ),
        simple(
            "ka.impuser.name",
            _S,
            "User the request impersonates (impersonatedUser.username).",
            _at("impersonatedUser", "username"),
        ),
        simple(
            "ka.verb",
            _S,
            "Kubernetes verb of the request: get, list, watch, create, update, patch, "
            "delete... (the lower-case HTTP method for non-resource URLs).",
            _at("verb"),
        ),
        simple(
            "ka.uri", _S, "Request URI as the client sent it, query included.", _at("requestURI")
        ),
        with_arg(
            "ka.uri.param",
            _S,
            "URL-decoded value of a query parameter of the request URI, the first one "
            "when repeated: ka.uri.param[command] on /api/v1/.../exec?command=sh is sh.",
            _bind_uri_param,
            Arg.KEY,
        ),
        simple(
            "ka.target.name",
            _S,
            "Name of the target object (objectRef.name).",
            _at("objectRef", "name"),
        ),
        simple(
            "ka.target.namespace",
            _S,
            "Namespace of the target object (objectRef.namespace).",
            _at("objectRef", "namespace"),
        ),
        simple(
            "ka.target.resource",
            _S,
            "Resource type of the target object, e.g. pods, secrets (objectRef.resource).",
            _at("objectRef", "resource"),
        ),
        simple(
            "ka.target.subresource",
            _S,
            "Subresource acted on, e.g. exec, attach, log, status (objectRef.subresource); "
            "no value for the object itself.",
            _at("objectRef", "subresource"),
        ),
        simple(
            "ka.target.pod.name",
            _S,
            "Name of the pod a pods request targets: objectRef.name, else the response "
            "object's name (pods made from generateName); no value for other resources.",
            _target_pod_name,
        ),
        simple(
            "ka.cluster.name",
            _S,
            "Name of the cluster, when the event carries it as a cluster_name annotation "
            "(as GKE-converted events do); plain API server events do not.",
            _at(ann, "cluster_name"),
        ),
        lst(
            "ka.req.binding.subjects",
            "Subjects of the requested (Cluster)RoleBinding, each as its JSON object text.",
            _list_at(*req, "subjects"),
        ),
        lst(
            "ka.req.binding.subjects.user_names",
            "Names of the User subjects of the requested (Cluster)RoleBinding.",
            _subject_names("User"),
        ),
        lst(
            "ka.req.binding.subjects.serviceaccount_names",
            "Names of the ServiceAccount subjects of the requested (Cluster)RoleBinding.",
            _subject_names("ServiceAccount"),
        ),
        lst(
            "ka.req.binding.subjects.serviceaccount_ns_names",
            "ServiceAccount subjects of the requested (Cluster)RoleBinding as namespace:name.",
            _subject_names("ServiceAccount", with_namespace=True),
        ),
        lst(
            "ka.req.binding.subjects.group_names",
            "Names of the Group subjects of the requested (Cluster)RoleBinding.",
            _subject_names("Group"),
        ),
        simple(
            "ka.req.binding.role",
            _S,
            "Role or ClusterRole the requested binding grants (roleRef.name).",
            _at(*req, "roleRef", "name"),
        ),
        with_arg(
            "ka.req.binding.subject.has_name",
            _S,
            "Deprecated: true on every audit event whatever the name, as in Falco.",
            _has_name,
            Arg.KEY,
        ),
        simple(
            "ka.req.configmap.name",
            _S,
            "Name of the target object (objectRef.name), meant for configmap requests.",
            _at("objectRef", "name"),
        ),
        simple(
            "ka.req.configmap.obj",
            _S,
            "The data of the requested object (requestObject.data) as JSON text, meant "
            "for configmap requests.",
            _at(*req, "data"),
        ),
        *containers,
        simple(
            "ka.req.container.image",
            _S,
            "Deprecated: image of the first container of the requested pod.",
            _first(_bind_each((*spec, "containers", "image"), all_or_none=True)),
        ),
        simple(
            "ka.req.container.image.repository",
            _S,
            "Deprecated: image repository of the first container of the requested pod.",
            _first(_bind_each((*spec, "containers", "image"), all_or_none=True, post=_repository)),
        ),
        simple(
            "ka.req.container.privileged",
            _S,
            "Deprecated: true if a container of the requested pod is privileged, else "
            "false (containers without the flag count as not privileged).",
            _any_privileged,
        ),
        simple(
            "ka.req.pod.host_ipc",
            _S,
            "hostIPC of the requested pod spec (true/false); no value when unset.",
            _at(*spec, "hostIPC"),
        ),
        simple(
            "ka.req.pod.host_network",
            _S,
            "hostNetwork of the requested pod spec (true/false); no value when unset.",
            _at(*spec, "hostNetwork"),
        ),
        simple(
            "ka.req.container.host_network",
            _S,
            "Deprecated name of ka.req.pod.host_network.",
            _at(*spec, "hostNetwork"),
        ),
        simple(
            "ka.req.pod.host_pid",
            _S,
            "hostPID of the requested pod spec (true/false); no value when unset.",
            _at(*spec, "hostPID"),
        ),
        simple(
            "ka.req.pod.run_as_user",
            _S,
            "runAsUser of the requested pod's own securityContext.",
            _at(*pod_sc, "runAsUser"),
        ),
        simple(
            "ka.req.pod.run_as_group",
            _S,
            "runAsGroup of the requested pod's own securityContext.",
            _at(*pod_sc, "runAsGroup"),
        ),
        simple(
            "ka.req.pod.fs_group",
            _S,
            "fsGroup of the requested pod's securityContext.",
            _at(*pod_sc, "fsGroup"),
        ),
        lst(
            "ka.req.pod.supplemental_groups",
            "supplementalGroups of the requested pod's securityContext.",
            _list_at(*pod_sc, "supplementalGroups"),
        ),
        lst(
            "ka.req.role.rules",
            "Rules of the requested Role/ClusterRole, each as its JSON object text.",
            _list_at(*req, "rules"),
        ),
        lst_index(
            "ka.req.role.rules.apiGroups",
            "API groups named by the rules of the requested Role/ClusterRole.",
            _bind_rules("apiGroups"),
        ),
        lst_index(
            "ka.req.role.rules.nonResourceURLs",
            "Non-resource URLs named by the rules of the requested Role/ClusterRole.",
            _bind_rules("nonResourceURLs"),
        ),
        lst_index(
            "ka.req.role.rules.verbs",
            "Verbs granted by the rules of the requested Role/ClusterRole.",
            _bind_rules("verbs"),
        ),
        lst_index(
            "ka.req.role.rules.resources",
            "Resources named by the rules of the requested Role/ClusterRole, e.g. pods/exec.",
            _bind_rules("resources"),
        ),
        simple(
            "ka.req.service.type",
            _S,
            "Type of the requested service: ClusterIP, NodePort, LoadBalancer...",
            _at(*spec, "type"),
        ),
        lst_index(
            "ka.req.service.ports",
            "Ports of the requested service, each as its JSON object text.",
            _bind_list_at(*spec, "ports"),
        ),
        lst_index(
            "ka.req.pod.volumes.hostpath",
            "Host paths mounted by the requested pod's hostPath volumes.",
            _bind_each((*spec, "volumes", "hostPath", "path")),
        ),
        with_arg(
            "ka.req.volume.hostpath",
            _S,
            "Deprecated: true if a hostPath volume of the requested pod uses the given "
            "path (a trailing * matches by prefix: [/var/*]), else false.",
            _bind_volume_hostpath,
            Arg.KEY,
        ),
        lst_index(
            "ka.req.pod.volumes.flexvolume_driver",
            "Drivers of the requested pod's flexVolume volumes.",
            _bind_each((*spec, "volumes", "flexVolume", "driver")),
        ),
        lst_index(
            "ka.req.pod.volumes.volume_type",
            "Type of each volume of the requested pod (its keys but name): hostPath, "
            "secret, emptyDir...",
            _bind_volume_types,
        ),
        simple(
            "ka.resp.name",
            _S,
            "Name of the object in the response (responseObject.metadata.name), e.g. a "
            "created pod's final name.",
            _at("responseObject", "metadata", "name"),
        ),
        simple(
            "ka.response.code",
            _S,
            "HTTP status code of the response, as text (responseStatus.code), e.g. 201.",
            _at("responseStatus", "code"),
        ),
        simple(
            "ka.response.reason",
            _S,
            "Machine-readable reason of a failed response (responseStatus.reason), e.g. Forbidden.",
            _at("responseStatus", "reason"),
        ),
        simple("ka.useragent", _S, "User agent of the client (userAgent).", _at("userAgent")),
        lst_index(
            "ka.sourceips",
            "Client IP addresses of the request, then of any proxies (sourceIPs).",
            _bind_list_at("sourceIPs"),
        ),
    ]
    for kind, what in _CONTAINER_KINDS[1:]:
        rows += _container_fields(kind, what)
    return rows


def k8s_audit_source() -> Source:
    """The ``k8s_audit`` source: Falco's k8saudit plugin fields over decoded
    Kubernetes audit events, rules pre-selected by verb and resource.

    Decisions where the plugin is unclear or unusable as is:

    - ``evt.plugininfo`` is the event as one-line JSON (the plugin prints
      the raw event).
    - ``jevt.rawtime`` has no value when neither timestamp parses; Falco
      drops such events before any rule sees them.
    - ``ka.req.pod.*.eff_run_as_user``/``eff_run_as_group`` read
      ``securityContext`` (the plugin's path skips it, so it always says 0).
    - ``ka.sourceips`` reads the top-level ``sourceIPs``.
    - ``ka.req.service.ports`` has one JSON object text per port.
    - ``ka.req.volume.hostpath[...]`` looks at every volume.
    - ``ka.target.pod.name``, ``ka.cluster.name``, ``*.command``/``*.args``:
      see their descriptions.
    """
    generic = generic_fields()
    rows = [
        *generic,
        *_ka_fields(),
        *json_plugin_fields("audit event"),
    ]
    return Source(
        name="k8s_audit",
        fields=FieldRegistry(rows),
        index_fields=("ka.verb", "ka.target.resource"),
        event_time=event_time,
        info=compact_json,
        event_id=top_string("auditID"),
        description="Kubernetes audit events (audit.k8s.io/v1 Event objects).",
    )

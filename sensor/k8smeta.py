"""Kubernetes pod and image metadata for containers, and the kubelet's ``/pods`` as a source.

A container's cgroup gives its id (``sensor.container``) but not its image, name or pod.
A pod object knows all of them: :func:`pod_containers` reads one pod into each started
container's :class:`ContainerMeta` (name, image, pod name, namespace, uid and labels from
the pod, and ``privileged`` from the container's ``securityContext`` in the pod spec). The
two sources of pod objects both use it:

- ``sensor.podwatch.PodWatch`` lists and watches this node's pods from the API server
  (RBAC ``list``/``watch`` on ``pods``, field selector ``spec.nodeName``): the default.
- :class:`KubeletMetadata` here polls the kubelet's own ``/pods`` API
  (``https://$NODE_IP:10250/pods``), for clusters whose kubelet has the fine-grained
  ``nodes/pods`` authorization (KubeletFineGrainedAuthz): that is ``get nodes/pods``, a
  read of this node's pod list. ``nodes/proxy``, which older guides name for the same
  request, also lets its holder exec into any container through the kubelet, and is not
  what this needs.

Both always verify TLS against the cluster CA: the request carries the service account's
token, which an unverified endpoint would receive.

:class:`KubeletMetadata` caches the list. An id it does not know makes it fetch again,
but never more often than ``min_interval_s``: a busy node starts many short-lived
containers the kubelet may not report yet (or ever), and each of them must not cost a
request. The list is also refreshed every ``refresh_s`` so pods that went away drop out.
A failed fetch (refused, timeout, 401/403, bad JSON, a body over ``max_bytes``) is counted
in ``errors``, logged once per distinct message, and leaves what is known as it was:
nothing is guessed and nothing is raised into the event path.
"""

from __future__ import annotations

import logging
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deliver.inert import inert
from lanner.boundedjson import loads as bounded_json

log = logging.getLogger(__name__)

# Each status list with the spec list that holds the same containers' specs.
_STATUS_TO_SPEC = (
    ("containerStatuses", "containers"),
    ("initContainerStatuses", "initContainers"),
    ("ephemeralContainerStatuses", "ephemeralContainers"),
)
MAX_LIST_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class ContainerMeta:
    """What a pod says about one of its containers (None where it says nothing)."""

    name: str | None
    image: str | None
    image_repository: str | None
    image_tag: str | None
    image_digest: str | None
    image_id: str | None
    pod_name: str | None
    pod_namespace: str | None
    pod_uid: str | None
    pod_labels: dict[str, str] = field(default_factory=dict)
    # securityContext.privileged of the container's spec: False when the spec leaves it out
    # (Kubernetes' default), None when the pod has no spec for the container.
    privileged: bool | None = None


class Problems:
    """Failures of a metadata source: each counted, each distinct message logged once.

    A source that fails the same way on every retry would otherwise fill the log; what it
    says can come from a server, so it is made inert before it reaches a terminal.
    """

    _REMEMBERED = 256  # distinct messages kept before the memory starts over

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._seen: set[str] = set()
        self.count = 0

    def __call__(self, message: str) -> None:
        self.count += 1
        if message in self._seen:
            return
        if len(self._seen) >= self._REMEMBERED:
            self._seen.clear()
        self._seen.add(message)
        self._log.warning("%s", inert(message))


def split_image(ref: str) -> tuple[str | None, str | None, str | None]:
    """(repository, tag, digest) of an image reference; None for a part it lacks.

    ``registry:5000/a/b:tag@sha256:...`` gives ``registry:5000/a/b``, ``tag`` and
    ``sha256:...``. A colon inside the registry (a port) is not a tag separator: only a
    colon in the last path component is.
    """
    if not ref:
        return None, None, None
    name, at, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag: str | None = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name or None, tag or None, (digest or None) if at else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strip_runtime(container_id: str) -> str:
    """``containerd://<id>`` (or cri-o://, docker://) to ``<id>``."""
    return container_id.split("://", 1)[1] if "://" in container_id else container_id


def _privileged(spec: dict[str, Any]) -> bool:
    return _dict(spec.get("securityContext")).get("privileged") is True


def pod_containers(pod: Any) -> dict[str, ContainerMeta]:
    """Full container id to its metadata, for every started container of one pod object.

    The pod is read as far as it goes: a container not started yet has no id and is left
    out; a part that is missing or of the wrong type gives None (or no labels).
    """
    item = _dict(pod)
    meta, spec, status = (_dict(item.get(k)) for k in ("metadata", "spec", "status"))
    labels = {str(k): str(v) for k, v in _dict(meta.get("labels")).items()}
    out: dict[str, ContainerMeta] = {}
    for status_key, spec_key in _STATUS_TO_SPEC:
        specs = {
            name: _privileged(c)
            for c in _list(spec.get(spec_key))
            if isinstance(c, dict) and (name := _str(c.get("name"))) is not None
        }
        for cs in _list(status.get(status_key)):
            if not isinstance(cs, dict):
                continue
            cid = _str(cs.get("containerID"))
            if cid is None:
                continue
            name = _str(cs.get("name"))
            image = _str(cs.get("image"))
            repo, tag, digest = split_image(image) if image else (None, None, None)
            out[_strip_runtime(cid)] = ContainerMeta(
                name=name,
                image=image,
                image_repository=repo,
                image_tag=tag,
                image_digest=digest,
                image_id=_str(cs.get("imageID")),
                pod_name=_str(meta.get("name")),
                pod_namespace=_str(meta.get("namespace")),
                pod_uid=_str(meta.get("uid")),
                pod_labels=labels,
                privileged=specs.get(name) if name is not None else None,
            )
    return out


def parse_podlist(doc: Any) -> dict[str, ContainerMeta]:
    """Full container id to its metadata, for every started container in a PodList.

    Raises ValueError when ``doc`` is not a PodList at all; items are read as
    :func:`pod_containers` reads them.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ValueError("not a PodList: no items list")
    out: dict[str, ContainerMeta] = {}
    for item in doc["items"]:
        out.update(pod_containers(item))
    return out


def read_bounded(resp: Any, max_bytes: int, what: str) -> bytes:
    """A response body of at most ``max_bytes``; ValueError naming ``what`` beyond it."""
    data: bytes = resp.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{what} is larger than {max_bytes} bytes")
    return data


class KubeletMetadata:
    """Container metadata from the kubelet, cached and refreshed without hammering it.

    ``fetch`` replaces the HTTP request (it returns the response body); by default the
    body (at most ``max_bytes``) is read from ``url`` with ``Authorization: Bearer <token>``
    (the token file is read on every fetch, as projected tokens rotate) and TLS verified
    against ``ca_path`` (the system's CAs when None). There is no way to turn verification
    off: the token would go to whoever answers.
    """

    def __init__(
        self,
        url: str,
        token_path: str | None,
        ca_path: str | None,
        *,
        refresh_s: float = 30.0,
        min_interval_s: float = 2.0,
        timeout_s: float = 2.0,
        max_bytes: int = MAX_LIST_BYTES,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[], bytes] | None = None,
    ) -> None:
        self.url = url
        self.token_path = token_path
        self.ca_path = ca_path
        self.refresh_s = refresh_s
        self.min_interval_s = min_interval_s
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self._clock = clock
        self._fetch = fetch if fetch is not None else self._http_get
        self._by_id: dict[str, ContainerMeta] = {}
        self._last_attempt: float | None = None
        self._last_success: float | None = None
        self._problems = Problems(log)
        self.fetches = 0

    @property
    def errors(self) -> int:
        """Failed fetches and lookups so far."""
        return self._problems.count

    def lookup(self, full_container_id: str) -> ContainerMeta | None:
        """The container's metadata, or None when the kubelet does not (yet) report it."""
        try:
            now = self._clock()
            stale = self._last_success is None or now - self._last_success >= self.refresh_s
            known = full_container_id in self._by_id
            may_retry = (
                self._last_attempt is None or now - self._last_attempt >= self.min_interval_s
            )
            if may_retry and (stale or not known):
                self._refresh(now)
            return self._by_id.get(full_container_id)
        except Exception as exc:  # never into the event path
            self._problems(f"kubelet metadata lookup failed: {exc!r}")
            return None

    def _refresh(self, now: float) -> None:
        self._last_attempt = now
        self.fetches += 1
        try:
            body = self._fetch()
            by_id = parse_podlist(bounded_json(body))
        except Exception as exc:
            self._problems(f"kubelet pod list from {self.url} failed: {exc}")
            return
        self._by_id = by_id
        self._last_success = now

    def _http_get(self) -> bytes:
        req = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        if self.token_path:
            with open(self.token_path, encoding="utf-8") as f:
                req.add_header("Authorization", f"Bearer {f.read().strip()}")
        ctx = (
            ssl.create_default_context(cafile=self.ca_path)
            if self.url.startswith("https:")
            else None
        )
        with urllib.request.urlopen(req, timeout=self.timeout_s, context=ctx) as resp:
            return read_bounded(resp, self.max_bytes, "the kubelet's pod list")

"""Kubernetes pod and image metadata for containers, read from the kubelet's ``/pods`` API.

A container's cgroup gives its id (``sensor.container``) but not its image, name or pod.
On a Kubernetes node the kubelet knows all of them: its authenticated API
(``https://$NODE_IP:10250/pods``, the service account's bearer token, RBAC ``nodes/proxy``
get) returns a ``PodList`` of the pods on this node with each container's status.

:class:`KubeletMetadata` caches that list. An id it does not know makes it fetch again,
but never more often than ``min_interval_s``: a busy node starts many short-lived
containers the kubelet may not report yet (or ever), and each of them must not cost a
request. The list is also refreshed every ``refresh_s`` so pods that went away drop out.
A failed fetch (refused, timeout, 401/403, bad JSON) is counted in ``errors``, logged once
per distinct message, and leaves what is known as it was: nothing is guessed and nothing
is raised into the event path.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

_STATUS_LISTS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")


@dataclass(frozen=True, slots=True)
class ContainerMeta:
    """What the kubelet says about one container (None where it says nothing)."""

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


def _strip_runtime(container_id: str) -> str:
    """``containerd://<id>`` (or cri-o://, docker://) to ``<id>``."""
    return container_id.split("://", 1)[1] if "://" in container_id else container_id


def parse_podlist(doc: Any) -> dict[str, ContainerMeta]:
    """Full container id to its metadata, for every started container in a PodList.

    Raises ValueError when ``doc`` is not a PodList at all; items that lack parts are read
    as far as they go (a container not started yet has no id and is left out).
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ValueError("not a PodList: no items list")
    out: dict[str, ContainerMeta] = {}
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        meta, status = _dict(item.get("metadata")), _dict(item.get("status"))
        raw_labels = _dict(meta.get("labels"))
        labels = {str(k): str(v) for k, v in raw_labels.items()}
        for key in _STATUS_LISTS:
            statuses = status.get(key)
            if not isinstance(statuses, list):
                continue
            for cs in statuses:
                if not isinstance(cs, dict):
                    continue
                cid = _str(cs.get("containerID"))
                if cid is None:
                    continue
                image = _str(cs.get("image"))
                repo, tag, digest = split_image(image) if image else (None, None, None)
                out[_strip_runtime(cid)] = ContainerMeta(
                    name=_str(cs.get("name")),
                    image=image,
                    image_repository=repo,
                    image_tag=tag,
                    image_digest=digest,
                    image_id=_str(cs.get("imageID")),
                    pod_name=_str(meta.get("name")),
                    pod_namespace=_str(meta.get("namespace")),
                    pod_uid=_str(meta.get("uid")),
                    pod_labels=labels,
                )
    return out


class KubeletMetadata:
    """Container metadata from the kubelet, cached and refreshed without hammering it.

    ``fetch`` replaces the HTTP request (it returns the response body); by default the
    body is read from ``url`` with ``Authorization: Bearer <token>`` (the token file is
    read on every fetch, as projected tokens rotate) and TLS verified against ``ca_path``
    (the system's CAs when None) unless ``insecure``.
    """

    def __init__(
        self,
        url: str,
        token_path: str | None,
        ca_path: str | None,
        *,
        insecure: bool = False,
        refresh_s: float = 30.0,
        min_interval_s: float = 2.0,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[], bytes] | None = None,
    ) -> None:
        self.url = url
        self.token_path = token_path
        self.ca_path = ca_path
        self.insecure = insecure
        self.refresh_s = refresh_s
        self.min_interval_s = min_interval_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._fetch = fetch if fetch is not None else self._http_get
        self._by_id: dict[str, ContainerMeta] = {}
        self._last_attempt: float | None = None
        self._last_success: float | None = None
        self._logged: set[str] = set()
        self.errors = 0
        self.fetches = 0

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
            self._fail(f"kubelet metadata lookup failed: {exc!r}")
            return None

    def _refresh(self, now: float) -> None:
        self._last_attempt = now
        self.fetches += 1
        try:
            body = self._fetch()
            by_id = parse_podlist(json.loads(body))
        except Exception as exc:
            self._fail(f"kubelet pod list from {self.url} failed: {exc}")
            return
        self._by_id = by_id
        self._last_success = now

    def _fail(self, message: str) -> None:
        self.errors += 1
        if message not in self._logged:
            self._logged.add(message)
            log.warning("%s", message)

    def _http_get(self) -> bytes:
        req = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        if self.token_path:
            with open(self.token_path, encoding="utf-8") as f:
                req.add_header("Authorization", f"Bearer {f.read().strip()}")
        ctx: ssl.SSLContext | None = None
        if self.url.startswith("https:"):
            if self.insecure:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            else:
                ctx = ssl.create_default_context(cafile=self.ca_path)
        with urllib.request.urlopen(req, timeout=self.timeout_s, context=ctx) as resp:
            data: bytes = resp.read()
        return data

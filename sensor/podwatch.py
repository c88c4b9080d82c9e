"""This node's pods from the Kubernetes API server, listed once and then watched.

:class:`PodWatch` keeps container id -> :class:`sensor.k8smeta.ContainerMeta` for the pods
the API server schedules on this node, with no more permission than ``list`` and ``watch``
on ``pods`` (nothing through the kubelet). A background thread runs the API's list+watch
protocol:

1. ``GET /api/v1/pods?fieldSelector=spec.nodeName=<node>`` (in pages of ``page_size``)
   gives the pods and the ``resourceVersion`` the list was read at;
2. ``GET`` the same with ``watch=1&resourceVersion=<rv>&allowWatchBookmarks=true`` streams
   one JSON event per line: ``ADDED``/``MODIFIED`` replace a pod's containers,
   ``DELETED`` drops them, ``BOOKMARK`` only moves the resourceVersion on;
3. the server ends a watch after ``timeoutSeconds`` and it is opened again from the last
   resourceVersion; ``410 Gone`` (the version is too old: as an ``ERROR`` event or as the
   HTTP status) makes it list again; any other failure (refused, TLS, 401/403, a dropped
   connection) is counted, logged once per distinct message, and retried after a backoff
   that doubles up to ``backoff_max_s`` and starts over once the server answers.

Every request reads the token file again (projected service-account tokens rotate) and
verifies TLS against ``ca_path`` (the system's CAs when None); the URL must be https.
What is read is bounded: a list page at ``max_list_bytes``, a watch event (one line) at
``max_event_bytes``; a larger or malformed event is counted and skipped, never raised.

:meth:`PodWatch.lookup` answers from memory and never blocks on the network: an id the
watch has not seen yet is None (unknown, not guessed), and shows up once its pod's status
carries it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from lanner.boundedjson import loads as bounded_json
from sensor.k8smeta import (
    MAX_LIST_BYTES,
    ContainerMeta,
    Problems,
    pod_containers,
    read_bounded,
)

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 8 << 20


class _Gone(Exception):
    """The resourceVersion is too old for the server (410): list again."""


class _Failed(Exception):
    """A request the server refused or answered with what is not the API's."""


def bounded_lines(read1: Callable[[int], bytes], max_bytes: int) -> Iterator[bytes | None]:
    """The lines of a stream (without their newline) until ``read1`` returns b"", None in
    place of each line longer than ``max_bytes``, whose bytes are never held."""
    buf = bytearray()
    skipping = False  # inside a line already found too long
    while data := read1(1 << 16):
        start = 0
        while (nl := data.find(b"\n", start)) >= 0:
            if not skipping:
                too_long = len(buf) + nl - start > max_bytes
                yield None if too_long else bytes(buf + data[start:nl])
            skipping = False
            buf.clear()
            start = nl + 1
        if not skipping:
            if len(buf) + len(data) - start > max_bytes:
                skipping = True
                buf.clear()
                yield None
            else:
                buf += data[start:]
    if buf:
        yield bytes(buf)


def _pod_key(pod: Any) -> str | None:
    meta = pod.get("metadata") if isinstance(pod, dict) else None
    if not isinstance(meta, dict):
        return None
    uid = meta.get("uid")
    if isinstance(uid, str) and uid:
        return uid
    ns, name = meta.get("namespace"), meta.get("name")
    return f"{ns}/{name}" if isinstance(name, str) and name else None


def _resource_version(obj: Any) -> str | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    rv = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return rv if isinstance(rv, str) and rv else None


class PodWatch:
    """Container metadata of this node's pods, kept current by an API server watch.

    ``api_url`` is the API server (``https://kubernetes.default.svc``), ``node_name`` this
    node's name as the API knows it. ``start()`` runs the watch in a daemon thread,
    ``close()`` stops it; ``stats()`` counts what it did.
    """

    def __init__(
        self,
        api_url: str,
        node_name: str,
        *,
        token_path: str | None,
        ca_path: str | None,
        timeout_s: float = 10.0,
        watch_timeout_s: int = 300,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        page_size: int = 500,
        max_list_bytes: int = MAX_LIST_BYTES,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        url = urllib.parse.urlsplit(api_url)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(
                f"the API server URL must be https://HOST[:PORT] (got {api_url!r}): "
                "the request carries the service account's token"
            )
        if not node_name:
            raise ValueError("the node name is empty: set --node-name or $NODE_NAME")
        self.api_url = api_url
        self.node_name = node_name
        self.token_path = token_path
        self.ca_path = ca_path
        self.timeout_s = timeout_s
        self.watch_timeout_s = watch_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.page_size = page_size
        self.max_list_bytes = max_list_bytes
        self.max_event_bytes = max_event_bytes
        self._host = url.hostname
        self._port = url.port or 443
        self._path = url.path.rstrip("/") + "/api/v1/pods"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn_lock = threading.Lock()
        self._conn: http.client.HTTPSConnection | None = None
        # pod key -> its containers; only the watch thread touches it
        self._pods: dict[str, dict[str, ContainerMeta]] = {}
        # what lookup reads: replaced whole, never changed in place, so readers need no lock
        self._by_id: dict[str, ContainerMeta] = {}
        self._problems = Problems(log)
        self._counts = dict.fromkeys(
            ("lists", "relists", "watches", "reconnects", "events", "bookmarks"), 0
        )

    # --- the public surface -------------------------------------------------------------

    def start(self) -> None:
        """List, then watch, in a daemon thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="lanner-podwatch", daemon=True)
        self._thread.start()

    def lookup(self, container_full_id: str) -> ContainerMeta | None:
        """The container's metadata from memory; None while the watch has not seen it."""
        return self._by_id.get(container_full_id)

    def stats(self) -> dict[str, int]:
        """``pods`` and ``containers`` known now; ``lists`` done (``relists``: after the
        first), ``watches`` opened (``reconnects``: after the first), ``events`` and
        ``bookmarks`` applied, and ``errors`` (failed requests, skipped events)."""
        return {
            "pods": len(self._pods),
            "containers": len(self._by_id),
            **self._counts,
            "errors": self._problems.count,
        }

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the watch: a request under way is cut, the thread is joined."""
        self._stop.set()
        with self._conn_lock:
            sock = self._conn.sock if self._conn is not None else None
        if sock is not None:
            # the plain socket's shutdown (not SSLSocket's): it wakes a read blocked in the
            # watch thread without pulling the TLS state from under it
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout_s)

    # --- the loop ----------------------------------------------------------------------

    def _run(self) -> None:
        rv: str | None = None
        failures = 0
        while not self._stop.is_set():
            progressed = False
            try:
                if rv is None:
                    rv = self._list()
                rv, progressed = self._watch(rv)
                failures = 0 if progressed else failures + 1
            except _Gone:
                rv, failures = None, failures + 1
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._problems(f"pod watch of {self.api_url} failed: {self._describe(exc)}")
                failures += 1
            if failures and not progressed:
                # the exponent capped: hours of failures must not overflow a float
                growth = 2 ** min(failures - 1, 32)
                delay = min(self.backoff_max_s, self.backoff_initial_s * growth)
                self._stop.wait(delay)

    def _list(self) -> str:
        """Every pod of this node, swapped in whole; the resourceVersion to watch from."""
        pods: dict[str, dict[str, ContainerMeta]] = {}
        cont: str | None = None
        while True:
            query = {"limit": str(self.page_size), **({"continue": cont} if cont else {})}
            with self._request(query, self.timeout_s) as resp:
                body = read_bounded(resp, self.max_list_bytes, "a page of the pod list")
            doc = bounded_json(body)
            items = doc.get("items") if isinstance(doc, dict) else None
            if not isinstance(items, list):
                raise _Failed("the pod list is not a PodList (no items list)")
            for pod in items:
                key = _pod_key(pod)
                if key is None:
                    self._problems("a pod in the pod list has no metadata.uid or name")
                    continue
                pods[key] = pod_containers(pod)
            list_meta = doc.get("metadata")
            list_meta = list_meta if isinstance(list_meta, dict) else {}
            cont = list_meta.get("continue") or None
            if cont is None:
                rv = list_meta.get("resourceVersion")
                if not isinstance(rv, str) or not rv:
                    raise _Failed("the pod list has no metadata.resourceVersion")
                break
        self._pods = pods
        self._publish()
        self._counts["relists"] += 1 if self._counts["lists"] else 0
        self._counts["lists"] += 1
        return rv

    def _watch(self, rv: str) -> tuple[str, bool]:
        """Apply the watch's events from ``rv`` until the server ends it; the last
        resourceVersion, and whether any event arrived."""
        query = {
            "watch": "1",
            "resourceVersion": rv,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self.watch_timeout_s),
        }
        self._counts["reconnects"] += 1 if self._counts["watches"] else 0
        self._counts["watches"] += 1
        progressed = False
        with self._request(query, self.watch_timeout_s + self.timeout_s) as resp:
            # read1, not readline: http.client's readline takes a chunked stream cut short
            # for its end, and a cut connection must not pass for the server's timeout
            for line in bounded_lines(resp.read1, self.max_event_bytes):
                progressed = True
                if line is None:
                    self._problems(
                        f"a pod watch event is larger than {self.max_event_bytes} bytes: skipped"
                    )
                elif line.strip():
                    rv = self._apply(line, rv)
                if self._stop.is_set():
                    break
        return rv, progressed

    def _apply(self, line: bytes, rv: str) -> str:
        """One watch event applied; the resourceVersion after it."""
        try:
            event = bounded_json(line)
        except ValueError as exc:
            self._problems(f"a pod watch event is not JSON: {exc}")
            return rv
        kind = event.get("type") if isinstance(event, dict) else None
        obj = event.get("object") if isinstance(event, dict) else None
        if kind == "ERROR":
            status = obj if isinstance(obj, dict) else {}
            if status.get("code") == 410:
                raise _Gone
            raise _Failed(f"the watch ended with an error: {status.get('message', status)}")
        if not isinstance(obj, dict):
            self._problems(f"a pod watch event has no object (type {kind!r})")
            return rv
        new_rv = _resource_version(obj) or rv
        if kind == "BOOKMARK":
            self._counts["bookmarks"] += 1
            return new_rv
        key = _pod_key(obj)
        if kind not in ("ADDED", "MODIFIED", "DELETED") or key is None:
            self._problems(f"a pod watch event of type {kind!r} could not be applied")
            return rv
        if kind == "DELETED":
            self._pods.pop(key, None)
        else:
            self._pods[key] = pod_containers(obj)
        self._publish()
        self._counts["events"] += 1
        return new_rv

    def _publish(self) -> None:
        self._by_id = {cid: m for pod in self._pods.values() for cid, m in pod.items()}

    # --- HTTP --------------------------------------------------------------------------

    def _request(self, query: dict[str, str], timeout_s: float) -> _Response:
        """A GET of the pods collection for this node; the response once it is 200."""
        params = {"fieldSelector": f"spec.nodeName={self.node_name}", **query}
        headers = {"Accept": "application/json", "User-Agent": "lanner-sensor"}
        if self.token_path:
            with open(self.token_path, encoding="utf-8") as f:
                headers["Authorization"] = f"Bearer {f.read().strip()}"
        ctx = ssl.create_default_context(cafile=self.ca_path)
        conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout_s, context=ctx)
        try:
            conn.connect()  # the TLS handshake verifies the server (bounded by timeout_s)
            # Known to close() only once it has a socket to cut; a close() that came
            # earlier has set the stop flag first, so one of the two always sees the other.
            with self._conn_lock:
                self._conn = conn
            if self._stop.is_set():
                raise _Failed("stopped")
            conn.request("GET", f"{self._path}?{urllib.parse.urlencode(params)}", headers=headers)
            resp = conn.getresponse()
            if resp.status == 410:
                raise _Gone
            if resp.status != 200:
                text = resp.read(512).decode("utf-8", "replace")
                raise _Failed(f"HTTP {resp.status} {resp.reason}: {_status_message(text)}")
        except BaseException:
            self._drop(conn)
            raise
        return _Response(self, conn, resp)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, _Failed):
            return str(exc)
        if isinstance(exc, ssl.SSLCertVerificationError):
            against = self.ca_path or "the system's CAs"
            return f"TLS certificate verify failed against {against}: {exc.verify_message}"
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    def _drop(self, conn: http.client.HTTPSConnection) -> None:
        with self._conn_lock:
            if self._conn is conn:
                self._conn = None
        conn.close()


class _Response:
    """A response whose connection is closed (and forgotten by close()) on exit."""

    def __init__(
        self, watch: PodWatch, conn: http.client.HTTPSConnection, resp: http.client.HTTPResponse
    ) -> None:
        self._watch, self._conn, self._resp = watch, conn, resp

    def __enter__(self) -> http.client.HTTPResponse:
        return self._resp

    def __exit__(self, *exc: object) -> None:
        self._watch._drop(self._conn)


def _status_message(text: str) -> str:
    """The ``message`` of a Kubernetes Status body, else the start of the body."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:200]
    message = doc.get("message") if isinstance(doc, dict) else None
    return message if isinstance(message, str) else text[:200]

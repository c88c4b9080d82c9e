"""Stand-ins for the cluster's HTTPS endpoints: a throwaway CA and a fake API server.

:func:`make_pki` writes a CA, a server certificate it signed for 127.0.0.1, and a second,
unrelated CA (the wrong one). :class:`FakeApi` is the pods collection of a Kubernetes API
server (``/api/v1/pods``) on 127.0.0.1 over real TLS, speaking the list+watch protocol as
the API server does: a field selector on ``spec.nodeName``, ``limit``/``continue`` pages, a
``resourceVersion`` that moves on with every change, watches that replay what came after
the version they start from as chunked JSON lines (``ADDED``, ``MODIFIED``, ``DELETED``,
``BOOKMARK``), and ``410 Gone`` for a version older than what it still remembers. The test
drives it: change pods, send a bookmark, end or cut open watches, forget history, fail.
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# --- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: str  # the CA that signed the server's certificate
    cert: str
    key: str
    other_ca: str  # a CA that signed nothing here


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(folder: Path) -> Pki:
    ca_key, ca_cert = _ca("lanner test cluster CA")
    _, other = _ca("lanner test cluster CA")  # same name, other key: still refused
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kube-apiserver"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {n: folder / f"{n}.pem" for n in ("ca", "cert", "key", "other_ca")}
    paths["ca"].write_bytes(_pem(ca_cert))
    paths["other_ca"].write_bytes(_pem(other))
    paths["cert"].write_bytes(_pem(cert))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pki(**{n: str(p) for n, p in paths.items()})


def serve_tls(handler: type[BaseHTTPRequestHandler], pki: Pki) -> ThreadingHTTPServer:
    """A started HTTPS server on 127.0.0.1 (any free port); shut it down when done."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.cert, pki.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


# --- the API server -----------------------------------------------------------------------


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class _Watches:
    """Counters open watches compare with what they saw when they started."""

    ended: int = 0  # end cleanly (the server's timeoutSeconds)
    cut: int = 0  # close the connection mid-stream
    gone: int = 0  # send ERROR 410 and end


@dataclass
class FakeApi:
    url: str = ""
    rv: int = 1000
    oldest: int = 1000  # watches from an older version get 410
    gone_as_http: bool = False  # 410 as the response's status instead of an ERROR event
    fail: tuple[int, str] | None = None  # every request answered with this Status
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> pod
    requests: list[Request] = field(default_factory=list)
    # (rv, the node it is for or None for all, the watch line)
    history: list[tuple[int, str | None, bytes]] = field(default_factory=list)
    watches: _Watches = field(default_factory=_Watches)
    closed: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)

    # --- what the test does ---

    def put(self, pod: dict[str, Any]) -> None:
        """Create or update a pod (ADDED or MODIFIED to watchers of its node)."""
        with self.cond:
            uid = pod["metadata"]["uid"]
            kind = "MODIFIED" if uid in self.pods else "ADDED"
            self.pods[uid] = self._stamp(pod)
            self._emit(kind, self.pods[uid])

    def delete(self, uid: str) -> None:
        with self.cond:
            pod = self.pods.pop(uid)
            self._emit("DELETED", self._stamp(pod))

    def bookmark(self) -> int:
        """A BOOKMARK at a new version (other objects changed); that version."""
        with self.cond:
            self.rv += 1
            obj = {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(self.rv)}}
            self._line(json.dumps({"type": "BOOKMARK", "object": obj}).encode())
            return self.rv

    def raw(self, line: bytes) -> None:
        """A line as it is, to every watcher (what a broken server might send)."""
        with self.cond:
            self.rv += 1
            self._line(line)

    def forget(self, *, put: tuple[dict[str, Any], ...] = (), delete: tuple[str, ...] = ()) -> None:
        """Change pods without telling watchers and forget the history: open watches get
        410 (or are ended, when ``gone_as_http``), and only a new list sees the changes."""
        with self.cond:
            for uid in delete:
                del self.pods[uid]
            for pod in put:
                self.pods[pod["metadata"]["uid"]] = self._stamp(pod)
            self.rv += 1
            self.oldest = self.rv
            self.history.clear()
            if self.gone_as_http:
                self.watches.ended += 1
            else:
                self.watches.gone += 1
            self.cond.notify_all()

    def end_watches(self) -> None:
        with self.cond:
            self.watches.ended += 1
            self.cond.notify_all()

    def cut_watches(self) -> None:
        with self.cond:
            self.watches.cut += 1
            self.cond.notify_all()

    def seen(self, pred: Callable[[Request], bool]) -> list[Request]:
        with self.cond:
            return [r for r in self.requests if pred(r)]

    # --- inside ---

    def _stamp(self, pod: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        pod = copy.deepcopy(pod)
        pod["metadata"]["resourceVersion"] = str(self.rv)
        return pod

    def _emit(self, kind: str, pod: dict[str, Any]) -> None:
        line = json.dumps({"type": kind, "object": pod}).encode()
        self._line(line, pod["spec"].get("nodeName"))

    def _line(self, line: bytes, node: str | None = None) -> None:
        self.history.append((self.rv, node, line))
        self.cond.notify_all()

    def lines_after(self, rv: int, node: str) -> list[tuple[int, bytes]]:
        """What a watch of ``node`` from ``rv`` has yet to send (lines for no node go to
        every watch)."""
        return [(at, line) for at, n, line in self.history if at > rv and n in (None, node)]


def status(code: int, message: str) -> bytes:
    reason = {401: "Unauthorized", 403: "Forbidden", 410: "Expired"}.get(code, "InternalError")
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
    ).encode()


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query))
            with api.cond:
                api.requests.append(Request(url.path, query, dict(self.headers.items())))
                fail = api.fail
                # what the test does to open watches from now on applies to this one
                watches = copy.copy(api.watches)
            if url.path != "/api/v1/pods":
                return self._send(404, status(404, "the server could not find the resource"))
            if fail is not None:
                return self._send(fail[0], status(*fail))
            selector = query.get("fieldSelector", "")
            if not selector.startswith("spec.nodeName="):
                return self._send(400, status(400, "this fake needs a spec.nodeName selector"))
            node = selector.partition("=")[2]
            if query.get("watch") in ("1", "true"):
                return self._watch(node, int(query["resourceVersion"]), watches)
            return self._list(node, int(query.get("limit", "0")), query.get("continue"))

        def _send(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _list(self, node: str, limit: int, cont: str | None) -> None:
            with api.cond:
                start = 0
                if cont:
                    at, _, index = cont.partition(":")
                    if int(at) < api.oldest:
                        return self._send(410, status(410, "the continue token has expired"))
                    start = int(index)
                pods = [p for _, p in sorted(api.pods.items()) if p["spec"].get("nodeName") == node]
                end = start + limit if limit else len(pods)
                meta: dict[str, Any] = {"resourceVersion": str(api.rv)}
                if end < len(pods):
                    meta["continue"] = f"{api.rv}:{end}"
                items = pods[start:end]
                doc = {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items}
            self._send(200, json.dumps(doc).encode())

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        def _watch(self, node: str, rv: int, start: _Watches) -> None:
            with api.cond:
                too_old = rv < api.oldest
            if too_old and api.gone_as_http:
                return self._send(410, status(410, f"too old resource version: {rv}"))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            gone = json.dumps({"type": "ERROR", "object": json.loads(status(410, "too old"))})
            if too_old:
                self._chunk(gone.encode() + b"\n")
                self._chunk(b"")
                return
            while True:

                def ready(pos: int = rv) -> bool:
                    return api.closed or api.watches != start or bool(api.lines_after(pos, node))

                with api.cond:
                    api.cond.wait_for(ready, timeout=1.0)
                    lines = api.lines_after(rv, node)
                    now = copy.copy(api.watches)
                    closed = api.closed
                for at, line in lines:
                    self._chunk(line + b"\n")
                    rv = at
                if now.cut != start.cut or closed:
                    self.close_connection = True  # no last chunk: the stream is cut
                    return
                if now.gone != start.gone:
                    self._chunk(gone.encode() + b"\n")
                if now != start:
                    self._chunk(b"")
                    return

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return H


def start_api(pki: Pki) -> tuple[FakeApi, Callable[[], None]]:
    """A running fake API server, and what stops it."""
    api = FakeApi()
    server = serve_tls(_handler(api), pki)
    api.url = f"https://127.0.0.1:{server.server_address[1]}"

    def stop() -> None:
        with api.cond:
            api.closed = True
            api.cond.notify_all()
        server.shutdown()
        server.server_close()

    return api, stop

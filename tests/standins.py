"""What the delivery tests share: a Falco alert to send, its summary, the retry policy
around one destination, and one HTTP stand-in on 127.0.0.1 for whatever receives them.

The stand-in is ``cli.endpoints.Recorder`` (record each request, answer with the
next scripted ``Reply``, then ``default``) with what a test of the network side needs on
top: any method, a scripted ``DROP`` or ``HANG``, ``answer()`` for an answer that depends
on the request (PagerDuty's checks, a function URL calling its handler), and each header
as sent (``Seen.values``: a repeated header shows).
"""

from __future__ import annotations

import copy
import http.server
import json
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cli.endpoints import Recorder, Reply, Request
from deliver.alert import DeliveryAlert, parse_alert
from deliver.dedup import Window
from deliver.destination import Destination
from deliver.retry import Outcome, RetryPolicy, send_with_retries

# --- alerts -------------------------------------------------------------------------------

# A shell in a container, as Falco writes it: the alert most delivery tests send.
SHELL: dict[str, Any] = {
    "output": "12:34:56.123456789: Critical Shell spawned in a container (user=root container=web pod=web-7d9f8b6c4d-x2x9q ns=prod cmd=bash -i)",
    "priority": "Critical",
    "rule": "Terminal shell in container",
    "time": "2026-01-02T12:34:56.123456789Z",
    "source": "syscall",
    "hostname": "ip-10-0-1-23",
    "tags": ["container", "shell", "mitre_execution", "T1059", "T1059.004"],
    "output_fields": {
        "container.id": "3ad7b26ded6d",
        "container.name": "web",
        "evt.time": 1767357296123456789,
        "k8s.ns.name": "prod",
        "k8s.pod.name": "web-7d9f8b6c4d-x2x9q",
        "proc.cmdline": "bash -i",
        "proc.pid": 4242,
        "user.name": "root",
        "user.loginuid": None,  # Falco's <NA>
    },
}
SHELL_UUID = "8a1c6f3e-0d7b-4a57-9a3e-2f4c1b9e7d21"

# A CloudTrail alert: an account and a region, no node.
TRAIL: dict[str, Any] = {
    "output": "10:05:00.000000000: Warning Bucket policy changed (user=mallory bucket=b region=eu-west-1)",
    "priority": "Warning",
    "rule": "Bucket policy changed",
    "time": "2026-11-28T10:05:00.000000000Z",
    "source": "aws_cloudtrail",
    "hostname": "lanner-cloudtrail-detector",
    "tags": ["aws", "s3", "mitre_exfiltration", "mitre_impact", "T1530", "T1485"],
    "output_fields": {
        "ct.user": "mallory",
        "ct.region": "eu-west-1",
        "ct.recipientaccountid": "123456789012",
    },
}


def falco_doc(
    base: Mapping[str, Any] = SHELL, *, fields: Mapping[str, Any] | None = None, **changes: Any
) -> dict[str, Any]:
    """A copy of ``base`` (nothing shared with it) with ``changes``: ``output_fields=``
    replaces the output fields, ``fields=`` changes some of them."""
    doc = copy.deepcopy(dict(base))
    doc.update(copy.deepcopy(changes))
    if fields:
        doc["output_fields"] = {**doc.get("output_fields", {}), **fields}
    return doc


def falco_alert(
    base: Mapping[str, Any] = SHELL, *, fields: Mapping[str, Any] | None = None, **changes: Any
) -> DeliveryAlert:
    """``falco_doc(...)`` as the delivery side reads it."""
    return parse_alert(falco_doc(base, fields=fields, **changes))


def summary_of(
    first: DeliveryAlert,
    count: int,
    hosts: Iterable[str],
    first_seen: str,
    last_seen: str,
    key: str = "fp",
    start: float = 1000.0,
) -> DeliveryAlert:
    """The summary of a five-minute window that ``first`` opened and ``count`` copies on
    ``hosts`` fell into."""
    return Window(
        key=key,
        start=start,
        end=start + 300.0,
        first_uuid=first.uuid,
        sample=first.to_json(),
        count=count,
        hosts=frozenset(hosts),
        first_seen=first_seen,
        last_seen=last_seen,
    ).summary()


def with_retries(
    dest: Destination, alert: DeliveryAlert, attempts: int = 5
) -> tuple[Outcome, list[float]]:
    """``alert`` sent through the shared retry policy; the outcome and the waits it asked
    for (nothing sleeps)."""
    waits: list[float] = []
    outcome = send_with_retries(
        lambda: dest.send(alert, "fp"), RetryPolicy(attempts=attempts), sleep=waits.append
    )
    return outcome, waits


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --- the HTTP stand-in --------------------------------------------------------------------

DROP = Reply(0, "the request is read, and the connection closed without an answer")
HANG = Reply(0, "no answer until the stand-in stops")


@dataclass(frozen=True)
class Seen(Request):
    """A request as received: ``headers`` by lower-case name (the last value of each),
    ``header_list`` every header in order, as sent."""

    method: str = "POST"
    client: str = ""
    header_list: tuple[tuple[str, str], ...] = ()

    def values(self, name: str) -> list[str]:
        """Each value of header ``name``: one per time it was sent."""
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


class StandIn(Recorder):
    """A ``Recorder`` that answers any method, plays a scripted ``DROP`` or ``HANG``, and
    asks ``answer(request)`` when nothing is scripted (``default``, unless a subclass
    says otherwise). ``with StandIn(path=...) as s: ... s.url, s.requests``."""

    requests: list[Seen]  # type: ignore[assignment]

    def __init__(self, default: Reply | None = None, path: str = "/hook") -> None:
        super().__init__(default, path)
        self.release = threading.Event()  # set when the stand-in stops: HANG ends
        # Recorder's server, with this handler; a short poll so that stopping is quick.
        self._server.RequestHandlerClass = _handler(self)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def answer(self, request: Seen) -> Reply:
        """The answer to ``request`` when none is scripted."""
        return self.default

    def receive(self, request: Seen) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self.replies:
                return self.replies.popleft()
        return self.answer(request)

    def __enter__(self) -> StandIn:
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        super().__exit__(*exc)
        self._thread.join(5)


def _handler(stand_in: StandIn) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Seen(
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(min(length, 8 << 20)),
                method=self.command,
                client=self.client_address[0],
                header_list=tuple(self.headers.items()),
            )
            reply = stand_in.receive(request)
            if reply is HANG:
                stand_in.release.wait(10)
                return
            if reply is DROP:
                self.close_connection = True
                return
            data = reply.body.encode()
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_PUT = serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a request line can hold a token

    return Handler

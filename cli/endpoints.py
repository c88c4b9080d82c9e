"""HTTP endpoints on 127.0.0.1 that record what they are sent: the stand-ins for Slack,
a webhook receiver and PagerDuty in ``lanner demo`` (and in the tests)."""

from __future__ import annotations

import http.server
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


class Recorder:
    """Answers each POST with the next scripted ``Reply`` (then ``default``), keeping the
    requests in order. ``with Recorder() as r: ... r.url``."""

    def __init__(self, default: Reply | None = None, path: str = "/hook") -> None:
        self.requests: list[Request] = []
        self.replies: deque[Reply] = deque()
        self.default = default or Reply()
        self.path = path
        self._lock = threading.Lock()
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 8 << 20))
                with recorder._lock:
                    recorder.requests.append(
                        Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    reply = recorder.replies.popleft() if recorder.replies else recorder.default
                data = reply.body.encode()
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.path}"

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

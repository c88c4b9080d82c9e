"""The signed webhook against a real HTTP receiver on 127.0.0.1 that checks every request
with the Standard Webhooks reference library, as a user's endpoint would."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from standins import (
    SHELL,
    Seen,
    StandIn,
    falco_alert,
    falco_doc,
    summary_of,
    unused_port,
    with_retries,
)

from cli.endpoints import Reply
from deliver.alert import DeliveryAlert, parse_alert
from deliver.webhook import WebhookDestination, load_secret_file

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()

# Non-ASCII text in it: the body is UTF-8.
ALERT = falco_doc(
    output=SHELL["output"].replace("cmd=bash -i)", "cmd=bash -i ✓)"),
    fields={"proc.cmdline": "bash -i ✓"},
)


@dataclass
class Received:
    headers: dict[str, str]  # as sent
    content_types: list[str]  # each Content-Type header sent
    body: bytes
    verified: Any  # the verified JSON, or the verification error


class Receiver(StandIn):
    """A user's endpoint: checks each request as it arrives, on its own, with the reference
    library and ``secret``; answers what is scripted, then 200."""

    def __init__(self) -> None:
        super().__init__(path="/hooks/lanner?token=t0k3n")
        self.secret = SECRET
        self.received: list[Received] = []

    def receive(self, request: Seen) -> Reply:
        try:
            verified: Any = Webhook(self.secret).verify(request.body, request.headers)
        except WebhookVerificationError as exc:
            verified = exc
        headers = dict(request.header_list)
        self.received.append(
            Received(headers, request.values("Content-Type"), request.body, verified)
        )
        return super().receive(request)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rec:
        yield rec


def _alert(**changes: Any) -> DeliveryAlert:
    return falco_alert(ALERT, **changes)


def _header(r: Received, name: str) -> str:
    return {k.lower(): v for k, v in r.headers.items()}[name]


def test_body_is_the_falco_alert_signed_per_standard_webhooks(receiver: Receiver) -> None:
    alert = _alert()
    dest = WebhookDestination(receiver.url, SECRET)
    before = int(time.time())
    answer = dest.send(alert, "f" * 32)
    assert answer.ok, answer.describe()
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert not isinstance(got.verified, Exception), got.verified
    assert got.body == alert.to_json().encode("utf-8")
    assert json.loads(got.body) == alert.doc
    assert got.verified == alert.doc
    assert json.loads(got.body)["output_fields"]["proc.cmdline"] == "bash -i ✓"
    assert "repeat" not in json.loads(got.body)  # Falco's schema, no envelope
    assert got.content_types == ["application/json"]
    assert _header(got, "webhook-id") == alert.uuid
    assert before <= int(_header(got, "webhook-timestamp")) <= int(time.time())
    assert _header(got, "webhook-signature").startswith("v1,")


def test_tampered_body_and_wrong_secret_fail_verification(receiver: Receiver) -> None:
    dest = WebhookDestination(receiver.url, SECRET)
    assert dest.send(_alert(), "fp").ok
    got = receiver.received[0]
    Webhook(SECRET).verify(got.body, got.headers)  # as sent: fine
    tampered = got.body.replace(b'"Critical"', b'"Warning"', 1)
    assert tampered != got.body
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(got.body, got.headers)
    other_id = {k.lower(): v for k, v in got.headers.items()} | {"webhook-id": "someone-else"}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(got.body, other_id)


def test_receiver_with_the_wrong_secret_refuses(receiver: Receiver) -> None:
    receiver.secret = OTHER_SECRET
    assert WebhookDestination(receiver.url, SECRET).send(_alert(), "fp").ok
    assert isinstance(receiver.received[0].verified, WebhookVerificationError)


def test_unpadded_secret_signs_the_same(receiver: Receiver) -> None:
    unpadded = "whsec_" + base64.b64encode(bytes(range(25))).decode().rstrip("=")
    receiver.secret = unpadded
    assert WebhookDestination(receiver.url, unpadded).send(_alert(), "fp").ok
    assert receiver.received[0].verified == _alert().doc


def test_summary_has_its_own_id_and_the_repeat_block(receiver: Receiver) -> None:
    first = _alert()
    hosts = {"ip-10-0-1-23", "ip-10-0-2-7"}
    summary = summary_of(first, 7, hosts, "2026-01-02T12:34:56Z", "2026-01-02T12:38:01Z")
    assert WebhookDestination(receiver.url, SECRET).send(summary, "fp").ok
    got = receiver.received[0]
    assert not isinstance(got.verified, Exception)
    assert _header(got, "webhook-id") == summary.uuid != first.uuid
    doc = json.loads(got.body)
    assert doc == summary.doc
    assert doc["repeat"]["count"] == 7 and doc["repeat"]["hosts"] == 2


def test_extra_headers_arrive(receiver: Receiver) -> None:
    dest = WebhookDestination(
        receiver.url, SECRET, headers={"Authorization": "Bearer abc", "X-Team": "secops"}
    )
    assert dest.send(_alert(), "fp").ok
    got = receiver.received[0]
    assert _header(got, "authorization") == "Bearer abc"
    assert _header(got, "x-team") == "secops"
    assert not isinstance(got.verified, Exception)


@pytest.mark.parametrize(
    "name",
    [
        "webhook-signature",
        "Webhook-Id",
        "WEBHOOK-TIMESTAMP",
        "webhook-anything",
        "Content-Type",
        "content-length",
        "Host",
        "Transfer-Encoding",
    ],
)
def test_extra_headers_cannot_override_ours(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        WebhookDestination("https://example.com/h", SECRET, headers={name: "v1,forged"})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "line\r\nInjected: yes"},
        {"X-A": "Injected ünicode"},
        {"X A": "v"},
        {"": "v"},
        {"X-Ok": "v", "x-ok": "w"},
    ],
)
def test_bad_extra_headers_are_refused_without_their_values(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError) as err:
        WebhookDestination("https://example.com/h", SECRET, headers=headers)
    assert "Injected" not in str(err.value)


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "   ",
        base64.b64encode(bytes(32)).decode(),  # no prefix
        "whsec_",
        "whsec_not base64 at all!",
        "whsec_" + base64.b64encode(b"short").decode(),  # 5 bytes
        "whsec_" + base64.b64encode(bytes(23)).decode(),  # one short of the spec's 24
        "whsec_abcde",  # impossible base64 length
    ],
)
def test_secret_must_be_whsec_base64_and_is_never_echoed(secret: str) -> None:
    with pytest.raises(ValueError) as err:
        WebhookDestination("https://example.com/h", secret)
    message = str(err.value)
    assert "whsec_" in message or "bytes" in message or "base64" in message
    body = secret.removeprefix("whsec_").strip()
    if body:
        assert body not in message


def test_bad_url_is_refused_without_echoing_it() -> None:
    for url in (
        "ftp://user:s3cr3t@example.com/x",
        "file:///etc/passwd",
        "s3cr3t",
        "",
        "https://example.com/s3cr3t\r\nX: 1",
        "https://example.com/s3cr3t ü",
    ):
        with pytest.raises(ValueError) as err:
            WebhookDestination(url, SECRET)
        assert "s3cr3t" not in str(err.value) and "passwd" not in str(err.value)


def test_repr_hides_secret_and_url() -> None:
    text = repr(WebhookDestination("https://hooks.example.com/T0K3N?k=s3cr3t", SECRET))
    assert "hooks.example.com" in text
    assert "T0K3N" not in text and "s3cr3t" not in text and SECRET[6:20] not in text


def test_timestamp_is_the_clock_of_the_attempt(receiver: Receiver) -> None:
    now = int(time.time()) - 30
    dest = WebhookDestination(receiver.url, SECRET, clock=lambda: now + 0.9)
    assert dest.send(_alert(), "fp").ok
    got = receiver.received[0]
    assert _header(got, "webhook-timestamp") == str(now)
    assert not isinstance(got.verified, Exception)


def test_stale_timestamp_is_refused_by_the_receiver(receiver: Receiver) -> None:
    dest = WebhookDestination(receiver.url, SECRET, clock=lambda: time.time() - 3600)
    assert dest.send(_alert(), "fp").ok  # the receiver answers 200, but:
    assert isinstance(receiver.received[0].verified, WebhookVerificationError)


def test_lone_surrogate_is_sent_as_ascii_escapes(receiver: Receiver) -> None:
    alert = parse_alert('{"rule": "r", "priority": "Warning", "output": "bad \\ud800 text"}')
    assert WebhookDestination(receiver.url, SECRET).send(alert, "fp").ok
    got = receiver.received[0]
    assert not isinstance(got.verified, Exception)
    assert json.loads(got.body) == alert.doc
    assert b"\\ud800" in got.body


def test_uuid_no_header_can_carry_gets_a_stable_derived_id(receiver: Receiver) -> None:
    alert = _alert(uuid="x\r\nInjected: 1 ✓")
    dest = WebhookDestination(receiver.url, SECRET)
    assert dest.send(alert, "fp").ok and dest.send(alert, "fp").ok
    first, second = receiver.received
    assert "Injected" not in "".join(first.headers)
    assert _header(first, "webhook-id") == _header(second, "webhook-id") != alert.uuid
    assert not isinstance(first.verified, Exception)
    assert json.loads(first.body)["uuid"] == alert.uuid


def test_unreachable_receiver_is_a_transient_network_answer() -> None:
    url = f"http://127.0.0.1:{unused_port()}/"
    answer = WebhookDestination(url, SECRET, timeout=2).send(_alert(), "")
    assert answer.status is None and answer.transient
    assert answer.describe().startswith("network:")


# --- through the shared retry policy --------------------------------------------------------


def test_429_waits_what_retry_after_says(receiver: Receiver) -> None:
    receiver.script(Reply(429, "slow down", {"Retry-After": "7"}))
    outcome, waits = with_retries(WebhookDestination(receiver.url, SECRET), _alert())
    assert outcome.delivered and outcome.attempts == 2
    assert waits == [7.0]
    ids = {_header(r, "webhook-id") for r in receiver.received}
    assert ids == {_alert().uuid}  # the same message id on every attempt
    assert all(not isinstance(r.verified, Exception) for r in receiver.received)


def test_500_then_200_backs_off_and_delivers(receiver: Receiver) -> None:
    receiver.script(Reply(500, "oops"), Reply(503, "busy"))
    outcome, waits = with_retries(WebhookDestination(receiver.url, SECRET), _alert())
    assert outcome.delivered and outcome.attempts == 3
    assert len(waits) == 2
    assert 0 <= waits[0] <= 1.0 and 0 <= waits[1] <= 2.0  # full jitter, base 0.5
    assert len(receiver.received) == 3
    assert all(not isinstance(r.verified, Exception) for r in receiver.received)


def test_410_is_permanent(receiver: Receiver) -> None:
    receiver.script(Reply(410, "this hook is gone"))
    outcome, waits = with_retries(WebhookDestination(receiver.url, SECRET), _alert())
    assert not outcome.delivered and outcome.permanent and outcome.attempts == 1
    assert waits == []
    assert outcome.answer.describe() == "HTTP 410: this hook is gone"


# --- the secret file ------------------------------------------------------------------------


def test_load_secret_file(tmp_path: Path) -> None:
    f = tmp_path / "secret"
    f.write_text(f"  {SECRET}\n")
    assert load_secret_file(f) == SECRET
    assert load_secret_file(str(f)) == SECRET


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "no such file"),
        (b"", "empty"),
        (b" \n", "empty"),
        (b"not-a-secret\n", "whsec_"),
        (b"whsec_" + base64.b64encode(b"tiny") + b"\n", "bytes"),
        (b"\xff\xfe\x00binary", "not a whsec_"),
        (b"whsec_" + b"A" * 5000, "larger than"),
    ],
)
def test_load_secret_file_says_what_is_wrong(
    tmp_path: Path, content: bytes | None, why: str
) -> None:
    f = tmp_path / "secret"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(ValueError, match=why) as err:
        load_secret_file(f)
    assert str(f) in str(err.value)
    if content:
        assert "tiny" not in str(err.value) and "not-a-secret" not in str(err.value)


def test_load_secret_file_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="directory"):
        load_secret_file(tmp_path)

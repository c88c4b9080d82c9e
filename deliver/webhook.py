"""A signed webhook: the Falco alert as JSON, signed per the Standard Webhooks spec.

The body is the alert document exactly as ``DeliveryAlert.to_json()`` writes it (Falco's
JSON alert schema, a summary's ``repeat`` block included), UTF-8, ``application/json``.
Three headers let the receiver check it with any Standard Webhooks library
(``standardwebhooks.Webhook(secret).verify(body, headers)``):

- ``webhook-id``: the alert's uuid (a summary has its own). It is the same on every
  attempt, so a receiver can drop redeliveries.
- ``webhook-timestamp``: unix seconds of this attempt (receivers refuse old ones).
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.

The secret is the spec's ``whsec_<base64>`` form, checked when the destination is made.
Errors name what is wrong, never the secret or the URL (it may carry a token).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import urllib.parse
import uuid as uuidlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks import Webhook

from deliver.alert import DeliveryAlert
from deliver.http import DEFAULT_TIMEOUT, check_url, post
from deliver.retry import Answer
from deliver.secretfile import read_secret_file

SECRET_PREFIX = "whsec_"
# The spec asks for 24 to 64 random bytes; fewer is refused (a guessable key signs
# anything), more is accepted.
MIN_SECRET_BYTES = 24
MAX_SECRET_FILE_BYTES = 4096
# Headers the destination sets itself, or that would break the request's framing.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "transfer-encoding", "host", "connection"}
)
RESERVED_PREFIX = "webhook-"
# RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VALUE = re.compile(r"^[\x20-\x7e\t]*$")  # printable ASCII: what every HTTP stack sends
_URL_CHARS = re.compile(r"^[\x21-\x7e]+$")
_MESSAGE_ID = re.compile(r"^[\x21-\x7e]{1,256}$")


def checked_url(url: str, what: str) -> str:
    """An http(s) URL that urllib can send to (printable ASCII, no spaces); ValueError, without
    the URL, otherwise."""
    text = url.strip() if isinstance(url, str) else ""
    if not _URL_CHARS.match(text):
        raise ValueError(f"{what} URL must be printable ASCII without spaces (percent-encode)")
    try:
        return check_url(text)
    except ValueError as exc:
        raise ValueError(f"{what} URL: {exc}") from None


def decode_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret; ValueError (without the secret) if it
    is not one."""
    if not isinstance(secret, str):
        raise ValueError("webhook secret must be text of the form whsec_<base64>")
    text = secret.strip()
    if not text.startswith(SECRET_PREFIX):
        raise ValueError("webhook secret must start with 'whsec_' (Standard Webhooks form)")
    encoded = text[len(SECRET_PREFIX) :]
    # Unpadded base64 is common in the wild; the spec's libraries accept it.
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret: the part after 'whsec_' is not base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"webhook secret is {len(key)} bytes; at least {MIN_SECRET_BYTES} random bytes "
            "are needed (e.g. 'whsec_' + base64 of 32 random bytes)"
        )
    return key


def load_secret_file(path: str | Path) -> str:
    """A ``whsec_...`` secret from a file (surrounding whitespace ignored); ValueError says
    what is wrong with the file, never what is in it."""
    return read_secret_file(
        path,
        "webhook secret",
        MAX_SECRET_FILE_BYTES,
        form="a whsec_<base64> secret",
        check=decode_secret,
    )


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Extra headers, checked: valid names and values, none the destination sets itself.
    The ValueError names the header, never its value (it may be a token)."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ValueError(f"webhook header name {name!r} is not a valid HTTP header name")
        low = name.lower()
        if low in RESERVED_HEADERS or low.startswith(RESERVED_PREFIX):
            raise ValueError(f"webhook header {name!r} is set by lanner and cannot be overridden")
        if low in seen:
            raise ValueError(f"webhook header {name!r} is given twice")
        if not isinstance(value, str) or not _VALUE.match(value):
            raise ValueError(
                f"webhook header {name!r}: value must be printable ASCII without line breaks"
            )
        seen.add(low)
        out[name] = value
    return out


def message_id(alert: DeliveryAlert) -> str:
    """``webhook-id``: the alert's uuid; for a uuid no header can carry (line breaks, non-ASCII,
    longer than 256: an intake's input), a stable id derived from it."""
    if _MESSAGE_ID.match(alert.uuid):
        return alert.uuid
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, f"lanner-webhook-id:{alert.uuid}"))


def body_of(alert: DeliveryAlert) -> bytes:
    """The alert's JSON as UTF-8. A document with a lone surrogate (``"\\ud800"`` decodes
    to one) cannot be UTF-8: it is sent with ASCII escapes, the same JSON value."""
    try:
        return alert.to_json().encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(alert.doc, separators=(",", ":"), ensure_ascii=True, default=str).encode()


class WebhookDestination:
    """POSTs the Falco alert JSON, signed (Standard Webhooks), to one URL."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = checked_url(url, "webhook")
        self._signer = Webhook(decode_secret(secret))
        self._headers = check_headers(headers)
        self.timeout = timeout
        self.clock = clock

    def __repr__(self) -> str:  # the URL and secret stay out of logs and tracebacks
        host = urllib.parse.urlsplit(self._url).hostname
        return f"WebhookDestination(host={host!r})"

    def request(self, alert: DeliveryAlert) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one attempt (the timestamp is this attempt's)."""
        body = body_of(alert)
        stamp = int(self.clock())
        ident = message_id(alert)
        signature = self._signer.sign(ident, datetime.fromtimestamp(stamp, UTC), body)
        headers = dict(self._headers)
        headers.update(
            {
                "Content-Type": "application/json",
                "webhook-id": ident,
                "webhook-timestamp": str(stamp),
                "webhook-signature": signature,
            }
        )
        return body, headers

    def send(self, alert: DeliveryAlert, fingerprint: str) -> Answer:
        """One attempt. ``fingerprint`` is not sent: the receiver gets the alert as Falco
        wrote it, and ``webhook-id`` for idempotency."""
        body, headers = self.request(alert)
        return post(self._url, body, headers, timeout=self.timeout)

"""The Falco intake: a Lambda function URL where an existing Falco fleet sends its alerts.

Takes what Falco's ``http_output`` POSTs (one alert per request in Falco's
``json_output`` schema: output, priority, rule, time, output_fields, source, tags,
hostname) and what Falcosidekick's webhook output POSTs (the same fields, and a
``uuid``); also a JSON array or JSON lines of such alerts, at most 1,000 per request
and 1 MiB in all. Every alert is checked at the trust boundary
(``deliver.alert.parse_alert``) and published to the alert topic as it came, with
the sender's hostname. Once only: the publisher's dedup table skips an alert already
published, and an alert without a uuid (Falco's) gets one from its content, so the
same alert sent again is the same alert.

The sender proves itself with a token kept in Secrets Manager
(``LANNER_INTAKE_TOKEN_SECRET``, the secret's ARN; its value is the token or JSON
``{"token": "..."}``, cached for 5 minutes), as ``Authorization: Bearer <token>`` or as
``?token=<token>`` (Falco's http_output cannot set headers). The token is never logged;
keep POWERTOOLS_LOGGER_LOG_EVENT off for this function, since the event holds it.

Answers, all JSON:
    200 {"accepted": n, "rejected": m, "errors": [...]}: good alerts published, bad ones
        quarantined with the reason (so a bad alert is never sent again and again)
    400 nothing in the body is an alert (empty, not JSON, Falco's text output): quarantined
    401 {"error": "unauthorized"}: no token or a wrong one (metric IntakeRejected)
    405 not a POST
    413 more than 1 MiB, or more than 1,000 alerts
    503 the topic, the dedup table or the quarantine queue failed: the sender's retry
        publishes what is missing, and nothing twice

Metrics (dimension source=intake): IntakeAlerts (accepted), IntakeRejected (bad token),
BadRecords (quarantined), AlertsOut and AlertsDuplicate (the publisher's).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import urllib.parse
from typing import Any

from aws_lambda_powertools.utilities import parameters

from deliver.alert import AlertError, DeliveryAlert, parse_alert
from functions.publish import PublishError, node_uuid
from functions.quarantine import QuarantineError
from functions.runtime import detector_handler, get_runtime, logger
from functions.settings import SettingsError

SOURCE = "intake"
TOKEN_SECRET_ENV = "LANNER_INTAKE_TOKEN_SECRET"
TOKEN_MAX_AGE = 300  # seconds a token read from Secrets Manager is kept
MAX_BODY_BYTES = 1024 * 1024
MAX_ALERTS = 1000
# An answer lists this many errors at most (each cut to MAX_ERROR_CHARS); "rejected" counts all.
MAX_ERRORS = 20
MAX_ERROR_CHARS = 300


class TooLarge(ValueError):
    """A request over the intake's bounds (413)."""


class NoAlerts(ValueError):
    """A body with nothing in it that could be an alert (400)."""


@detector_handler(SOURCE)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = get_runtime()
    http = event.get("requestContext", {}).get("http", {})
    if http.get("method") != "POST":
        return answer(405, {"error": "send alerts with POST"}, {"Allow": "POST"})
    try:
        token_ok = authorized(event)
    except parameters.GetParameterError as exc:
        logger.error(f"intake: cannot read the token secret: {exc}")
        return answer(503, {"error": "cannot check the token now; try again"})
    if not token_ok:
        rt.count("IntakeRejected", 1)
        logger.warning("intake: request without a valid token", extra={"sender": sender(http)})
        return answer(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})
    origin = f"{SOURCE}:{sender(http)}"
    body: bytes | str = event.get("body") or ""
    try:
        body = body_of(event)
        texts = split_alerts(body, event.get("headers") or {})
        good, bad = check(texts)
        for i, reason, text in bad:
            rt.quarantine.put(SOURCE, reason, text, origin=f"{origin}:{i}")
        # Under the sender's own uuids (a namespace per sending host): a token holder can
        # never take the dedup slot of a detector's alert, or of another host's.
        rt.publisher.publish(
            [{**a.doc, "uuid": node_uuid(f"intake:{a.hostname}", "alert", a.uuid)} for a in good]
        )
    except TooLarge as exc:
        return answer(413, {"error": str(exc)})
    except NoAlerts as exc:
        return not_alerts(body, str(exc), origin)
    except (PublishError, QuarantineError) as exc:
        logger.warning(f"intake: alerts from {origin} not delivered, the sender may retry: {exc}")
        return answer(503, {"error": "alerts not delivered; try again"})
    rt.count("IntakeAlerts", len(good))
    errors = [reason[:MAX_ERROR_CHARS] for _, reason, _ in bad[:MAX_ERRORS]]
    return answer(200, {"accepted": len(good), "rejected": len(bad), "errors": errors})


def not_alerts(body: bytes | str, reason: str, origin: str) -> dict[str, Any]:
    """400 for a body that holds no alert; the body is quarantined (503 if that fails)."""
    try:
        get_runtime().quarantine.put(SOURCE, reason, body, origin=f"{origin}:body")
    except QuarantineError as exc:
        logger.warning(f"intake: {exc}")
        return answer(503, {"error": "alerts not delivered; try again"})
    return answer(400, {"error": reason})


# --- the token ---


def authorized(event: dict[str, Any]) -> bool:
    """True when the request carries the intake's token (header or query string)."""
    expected = intake_token().encode("utf-8")
    if not expected:
        logger.error(f"intake: the secret in {TOKEN_SECRET_ENV} holds no token")
        return False
    return any(hmac.compare_digest(expected, t.encode("utf-8")) for t in offered_tokens(event))


def offered_tokens(event: dict[str, Any]) -> list[str]:
    """The tokens a request offers: ``Authorization: Bearer <t>`` and ``?token=<t>``."""
    found: list[str] = []
    headers = event.get("headers") or {}
    scheme, _, value = str(headers.get("authorization", "")).strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        found.append(value.strip())
    query = urllib.parse.parse_qs(str(event.get("rawQueryString") or ""))
    found.extend(query.get("token", [])[:1])
    return found


def intake_token() -> str:
    """The token in the secret named by LANNER_INTAKE_TOKEN_SECRET (cached 5 minutes)."""
    arn = os.environ.get(TOKEN_SECRET_ENV, "").strip()
    if not arn:
        raise SettingsError(f"bad intake environment: {TOKEN_SECRET_ENV}: required, not set")
    value = parameters.get_secret(arn, max_age=TOKEN_MAX_AGE)
    text = (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)).strip()
    if not text.startswith("{"):
        return text
    try:
        doc = json.loads(text)
    except ValueError:
        return text  # a token that happens to start with "{"
    token = doc.get("token") if isinstance(doc, dict) else None
    return token.strip() if isinstance(token, str) else ""


# --- the body ---


def body_of(event: dict[str, Any]) -> bytes:
    """The request body as bytes (function URLs base64-encode non-text bodies);
    TooLarge over 1 MiB, NoAlerts when the base64 is broken."""
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        if len(raw) > (MAX_BODY_BYTES + 2) // 3 * 4 + 4:
            raise TooLarge(f"body is more than {MAX_BODY_BYTES} bytes")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise NoAlerts(f"body is not valid base64: {exc}") from None
    else:
        if len(raw) > MAX_BODY_BYTES:  # characters: never more than the bytes
            raise TooLarge(f"body is more than {MAX_BODY_BYTES} bytes")
        data = raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise TooLarge(f"body is {len(data)} bytes, more than {MAX_BODY_BYTES}")
    return data


def split_alerts(body: bytes, headers: dict[str, str]) -> list[str]:
    """The alerts of a body as JSON texts: one JSON object, a JSON array of objects, or
    JSON lines. NoAlerts when the body is none of these; TooLarge over 1,000 alerts."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NoAlerts(f"body is not UTF-8 text: {exc}") from None
    if not text.strip():
        raise NoAlerts("empty body: expected a Falco alert in JSON")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise NoAlerts("body nests too deep to be an alert") from None
    except ValueError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1 and any(_is_object(line) for line in lines):
            return _bounded(lines)
        hint = ""
        if "text/plain" in str(headers.get("content-type", "")):
            hint = " (Falco sends text when json_output is false: set json_output: true)"
        raise NoAlerts(f"body is not JSON: {exc}{hint}") from None
    if isinstance(doc, dict):
        return [text]
    if isinstance(doc, list) and doc:
        # Each alert as its own text: parse_alert bounds its size like any other alert's.
        return _bounded([json.dumps(d, ensure_ascii=False) for d in _bounded(doc)])
    what = "an empty array" if isinstance(doc, list) else f"JSON {type(doc).__name__}"
    raise NoAlerts(f"body is {what}, not a Falco alert or an array of them")


def _bounded(items: list[Any]) -> list[Any]:
    if len(items) > MAX_ALERTS:
        raise TooLarge(f"{len(items)} alerts in one request, more than {MAX_ALERTS}")
    return items


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def check(texts: list[str]) -> tuple[list[DeliveryAlert], list[tuple[int, str, str]]]:
    """The alerts that parse, and (index, reason, text) of those that do not."""
    good: list[DeliveryAlert] = []
    bad: list[tuple[int, str, str]] = []
    for i, text in enumerate(texts):
        try:
            good.append(parse_alert(text))
        except AlertError as exc:
            # pydantic's "Value error, " says nothing to the sender.
            bad.append((i, f"alert {i}: {str(exc).replace('Value error, ', '')}", text))
    return good, bad


def sender(http: dict[str, Any]) -> str:
    return str(http.get("sourceIp") or "unknown")


def answer(
    status: int, doc: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A function URL response (payload format 2.0) with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(doc, ensure_ascii=False),
        "isBase64Encoded": False,
    }

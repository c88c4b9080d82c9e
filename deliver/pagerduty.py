"""PagerDuty Events API v2: an alert as a ``trigger`` event, one JSON POST.

The ``pagerduty`` package on PyPI is deliberately not used: its client retries 429
without limit and ignores ``Retry-After``, which would hold a Lambda until its timeout
and bypass our retry policy and dead-letter queue. Events v2 is one JSON POST, sent
through ``deliver.http.post``; ``deliver.retry`` decides about trying again (PagerDuty
answers 202 when it took the event, 400 for an invalid one: permanent, 429 when
throttled, 5xx when in trouble: transient).

The event's ``dedup_key`` is the incident fingerprint, so the copies of one incident
(and the summary of their repeats) update one PagerDuty incident rather than open many.
The event is bounded: the summary to PagerDuty's 1024 characters, the output and each
output field to a few KB, the whole event to well under PagerDuty's 512 KB; what was cut
says so where it was cut, and ``custom_details.truncated`` lists it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deliver.alert import DeliveryAlert, Repeat
from deliver.http import DEFAULT_TIMEOUT, check_url, post
from deliver.retry import MAX_ANSWER_CHARS, Answer
from deliver.secretfile import read_secret_file
from deliver.severity import severity
from deliver.times import parse_time

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_EVENT_BYTES = 512 * 1024  # PagerDuty refuses larger events
EVENT_BUDGET = 256 * 1024  # what we allow ourselves: half of that, whatever the input
MAX_SUMMARY_CHARS = 1024  # PagerDuty's limit on payload.summary
MAX_DEDUP_KEY_CHARS = 255  # PagerDuty's limit on dedup_key
MAX_SHORT_CHARS = 255  # source, component, group, class, hostname, tags, host names
MAX_OUTPUT_BYTES = 32 * 1024
MAX_FIELD_BYTES = 8 * 1024  # one output field's value, as JSON
MAX_FIELDS = 200
MAX_TAGS = 64
MAX_KEY_FILE_BYTES = 4096
TRUNCATED_ROOM = 16 * 1024  # for custom_details.truncated
CUT = "…[cut]"
_ROUTING_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
_URL_CHARS = re.compile(r"^[\x21-\x7e]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


def check_routing_key(key: str) -> str:
    """The routing (integration) key, stripped; ValueError, without the key, if it cannot
    be one."""
    text = key.strip() if isinstance(key, str) else ""
    if not text:
        raise ValueError("PagerDuty routing key is empty")
    if not _ROUTING_KEY.match(text):
        raise ValueError(
            "PagerDuty routing key must be 1-128 printable ASCII characters without spaces "
            "(the 32-character Integration Key of an Events API v2 integration)"
        )
    return text


def load_routing_key_file(path: str | Path) -> str:
    """A routing key from a file (surrounding whitespace ignored); ValueError says what is
    wrong with the file, never what is in it."""
    return read_secret_file(
        path,
        "PagerDuty key",
        MAX_KEY_FILE_BYTES,
        form="an ASCII routing key",
        check=check_routing_key,
    )


# --- rendering ---------------------------------------------------------------------------


def _jsize(value: Any) -> int:
    """Bytes of ``value`` as the event's JSON writes it."""
    return len(json.dumps(value, ensure_ascii=True, default=str))


def _short(text: str, limit: int = MAX_SHORT_CHARS) -> str:
    """One line of at most ``limit`` characters, cut with a visible marker."""
    line = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    if len(line) <= limit:
        return line
    return line[: limit - len(CUT)] + CUT


def cut_to_bytes(text: str, limit: int) -> tuple[str, bool]:
    """``text``, or its longest prefix plus a marker, whose JSON string is at most ``limit``
    bytes; and whether it was cut."""
    if _jsize(text) <= limit:
        return text, False
    marker = f"…[cut, {len(text)} chars in all]"
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits with the marker
        mid = (lo + hi + 1) // 2
        if _jsize(text[:mid] + marker) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + marker, True


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as text: JSON has no such numbers (Python's JSON
    reader accepts them, PagerDuty's would refuse the event)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def bound_fields(fields: Mapping[str, Any], budget: int) -> tuple[dict[str, Any], list[str]]:
    """Output fields whose JSON fits ``budget`` bytes: at most ``MAX_FIELDS`` of them, each
    value at most ``MAX_FIELD_BYTES`` (longer ones cut, non-text ones as cut JSON text), then
    the largest values dropped until the whole fits. Also the names of what was changed."""
    changed: list[str] = []
    out: dict[str, Any] = {}
    for i, (raw_key, raw_value) in enumerate(fields.items()):
        if i >= MAX_FIELDS:
            changed.append(f"output_fields ({len(fields) - MAX_FIELDS} more fields left out)")
            break
        key = _short(str(raw_key))
        if key in out:
            key = _short(f"{key} #{i}")
        value = _finite(raw_value)
        if _jsize(value) > MAX_FIELD_BYTES:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            value, _ = cut_to_bytes(text, MAX_FIELD_BYTES)
            changed.append(key)
        out[key] = value
    total = _jsize(out)
    if total > budget:
        for key in sorted(out, key=lambda k: _jsize(out[k]), reverse=True):
            size = _jsize(out[key])
            marker = f"[dropped to fit PagerDuty's event size: {size} bytes]"
            if size <= _jsize(marker):
                break
            out[key] = marker
            total -= size - _jsize(marker)
            if key not in changed:
                changed.append(key)
            if total <= budget:
                break
    if _jsize(out) > budget:  # many long names: none of it fits
        changed.append(f"output_fields (all {len(out)} left out)")
        out = {}
    return out, changed


def event_time(text: str) -> str | None:
    """``text`` as an ISO 8601 UTC timestamp, or None when it is not one."""
    when = parse_time(text)
    return None if when is None else when.isoformat(timespec="microseconds")


def place(alert: DeliveryAlert) -> str:
    """Where, as a line: node, namespace, pod... or the hostname; never empty. A summary of
    copies on several hosts names no single node."""
    # The summary line says "on N hosts" already; Where has no node for those.
    parts = [(k, v) for k, v in alert.where.parts() if k != "on"]
    several = alert.where.hosts > 1
    if parts:
        return " / ".join(f"{k} {v}" for k, v in parts)
    if alert.hostname and not several:
        return alert.hostname
    return "several hosts" if several else "unknown"


def repeat_text(repeat: Repeat) -> str:
    """``repeated 12 times on 3 hosts between T1 and T2``."""
    n = repeat.count
    text = f"repeated {n} time{'s' if n != 1 else ''}"
    if repeat.hosts:
        text += f" on {repeat.hosts} host{'s' if repeat.hosts != 1 else ''}"
    first, last = repeat.first_seen, repeat.last_seen
    if first and last and first != last:
        text += f" between {first} and {last}"
    elif first or last:
        text += f" at {first or last}"
    return text


def summary_text(alert: DeliveryAlert) -> str:
    """``[Critical] <rule> — <where>: <message>``; for a summary ``[Critical] <rule> —
    repeated N times on M hosts between T1 and T2 — <where>: <message>``. At most 1024
    characters, one line."""
    head = f"[{alert.priority}] {alert.rule}"
    if alert.repeat is not None:
        head += f" — {repeat_text(alert.repeat)}"
    head += f" — {place(alert)}"
    message = alert.message.strip()
    return _short(f"{head}: {message}" if message else head, MAX_SUMMARY_CHARS)


def _repeat_details(repeat: Repeat) -> dict[str, Any]:
    return {
        "count": repeat.count,
        "hosts": repeat.hosts,
        "host_names": [_short(h) for h in repeat.host_names[:100]],
        "first_seen": _short(repeat.first_seen, 64),
        "last_seen": _short(repeat.last_seen, 64),
        "window_seconds": repeat.window_seconds,
    }


def render(alert: DeliveryAlert, fingerprint: str, routing_key: str) -> dict[str, Any]:
    """The Events API v2 ``trigger`` event for ``alert``; its JSON is at most EVENT_BUDGET
    bytes."""
    truncated: list[str] = []
    output, cut = cut_to_bytes(alert.output, MAX_OUTPUT_BYTES)
    if cut:
        truncated.append("output")
    tags = [_short(t) for t in alert.tags[:MAX_TAGS]]
    if len(alert.tags) > MAX_TAGS:
        truncated.append(f"tags ({len(alert.tags) - MAX_TAGS} more left out)")
    details: dict[str, Any] = {
        "output": output,
        "priority": str(alert.priority),
        "rule": alert.rule,
        "tags": tags,
        "uuid": _short(alert.uuid, 128),
        "hostname": _short(alert.hostname),
        "where": {k: _short(v) for k, v in alert.where.parts()},
    }
    if alert.repeat is not None:
        details["repeat"] = _repeat_details(alert.repeat)
    payload: dict[str, Any] = {
        "summary": summary_text(alert),
        "source": _short(place(alert)),
        "severity": severity(alert.priority).pagerduty,
    }
    when = event_time(alert.time)
    if when is not None:
        payload["timestamp"] = when
    if alert.source:
        payload["component"] = _short(alert.source)
    group = alert.where.namespace or alert.where.account
    if group:
        payload["group"] = _short(group)
    payload["class"] = _short(alert.rule)
    payload["custom_details"] = details
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": (fingerprint or alert.uuid)[:MAX_DEDUP_KEY_CHARS],
        "client": "lanner",
        "payload": payload,
    }
    # The output fields get what the rest leaves, less room for the list of what was cut.
    details["output_fields"] = {}
    room = EVENT_BUDGET - _jsize(event) - TRUNCATED_ROOM
    fields, changed = bound_fields(alert.fields, max(0, room))
    details["output_fields"] = fields
    truncated += [k if k.startswith("output_fields (") else f"output_fields.{k}" for k in changed]
    if truncated:
        details["truncated"] = truncated
        if _jsize(event) > EVENT_BUDGET:  # a long list of long names: count them instead
            details["truncated"] = [f"{len(truncated)} values cut or left out (marked)"]
    return event


def answer_of_pagerduty(answer: Answer) -> Answer:
    """PagerDuty's error answer as a person reads it: ``Event object is invalid: <errors>``
    instead of its JSON. Status and Retry-After are kept."""
    if answer.ok or not answer.body:
        return answer
    try:
        doc = json.loads(answer.body)
    except ValueError:
        return answer
    if not isinstance(doc, dict):
        return answer
    message = str(doc.get("message") or doc.get("status") or "").strip()
    errors = doc.get("errors")
    if isinstance(errors, list) and errors:
        listed = "; ".join(str(e) for e in errors)
        message = f"{message}: {listed}" if message else listed
    if not message:
        return answer
    return Answer(answer.status, message[:MAX_ANSWER_CHARS], answer.retry_after, answer.error)


class PagerDutyDestination:
    """Triggers a PagerDuty incident per alert, one incident per fingerprint."""

    name = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        url: str = EVENTS_URL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._routing_key = check_routing_key(routing_key)
        text = url.strip() if isinstance(url, str) else ""
        if not _URL_CHARS.match(text):
            raise ValueError("PagerDuty URL must be printable ASCII without spaces")
        self._url = check_url(text)
        self.timeout = timeout

    def __repr__(self) -> str:  # the routing key stays out of logs and tracebacks
        return "PagerDutyDestination(routing_key=<hidden>)"

    def event(self, alert: DeliveryAlert, fingerprint: str) -> dict[str, Any]:
        return render(alert, fingerprint, self._routing_key)

    def send(self, alert: DeliveryAlert, fingerprint: str) -> Answer:
        """One attempt."""
        body = json.dumps(
            self.event(alert, fingerprint), ensure_ascii=True, separators=(",", ":"), default=str
        ).encode("ascii")
        return answer_of_pagerduty(post(self._url, body, timeout=self.timeout))

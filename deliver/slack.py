"""Slack incoming webhooks: an alert as a Block Kit message, one POST.

The message is built with Slack's own ``slack_sdk`` Block Kit models and sent with its
``WebhookClient``, once: its retry handlers are off, because ``deliver.retry`` decides
about trying again (Slack answers 200 ``ok``; 429 with ``Retry-After`` when throttled;
400/403/404/410 with ``invalid_payload``, ``invalid_token``, ``no_service``,
``channel_is_archived``: permanent; 5xx: transient).

Everything in an alert may come from an attacker: the output and its fields echo command
lines, file names and pod names, and rules and tags can come from users' files. So every
string taken from an event goes through one escaping step before Slack sees it:

* ``&``, ``<`` and ``>`` become entities (Slack's rule), so ``<!channel>``, ``<@U1>``,
  ``<#C1>`` and ``<https://x|y>`` are shown as text: they cannot ping, mention or hide
  a link behind other words.
* Control characters, bidi overrides and isolates, zero-width and other invisible format
  characters are shown as ``\\uXXXX`` text, so what an engineer reads is what happened.
* mrkdwn has no escape for ``*``, ``_``, ``~``, ``>`` or ``:emoji:``, so event text is
  never left to it: every value is shown in code (inline code for short values, a code
  block for the alert's message), where Slack applies no formatting, no emoji and no
  autolinking, and the text objects are ``verbatim`` (no link or mention guessing).
  Code has no escape either, so a backtick in a value is shown as ``ˋ`` (U+02CB), and in
  inline code a newline as ``↵``. A command line therefore reads as it ran, bar those two.
  (Inserting zero-width characters around ``*_~``, the other usual trick, would corrupt
  what an engineer copies out of the message, and hide characters we otherwise reveal.)
* The header is ``plain_text`` (no entities, no mentions); ``<`` and ``>`` are still
  shown as ``‹`` and ``›`` there, so no ``<!`` ever reaches Slack, whatever it parses.

Slack's limits are kept: header 150 characters, section text 3000, a section field 2000,
10 fields a section, 50 blocks, the fallback text 3000. Lengths are counted in UTF-16 code
units (never fewer than characters), after escaping, and a value is only ever cut between
two source characters, so an escape is never split; where something was cut, the message
says so (``…[cut 1234 chars]``, counting the source characters left out).

The webhook URL is a secret (it is the only credential): it appears in no error, no
``repr`` and no log line; the SDK's own logging (which writes the URL at DEBUG) is off.
"""

from __future__ import annotations

import http.client
import json
import logging
import unicodedata
import urllib.error
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.errors import SlackRequestError
from slack_sdk.models.attachments import BlockAttachment
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.webhook import WebhookClient

from deliver.alert import DeliveryAlert, Repeat
from deliver.http import DEFAULT_TIMEOUT, answer_of, check_url
from deliver.retry import MAX_ANSWER_CHARS, Answer
from deliver.severity import severity
from deliver.where import NA, WHERE_FIELDS

# Slack's limits (Block Kit reference; chat.postMessage for the text).
MAX_HEADER = 150
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
MAX_FALLBACK = 3000
MAX_CONTEXT_ELEMENTS = 10

# Our own, for a message an engineer can read at a glance; all well within Slack's.
MESSAGE_LINES = 30  # the alert's message (a code block)
FIELD_VALUE = 600  # Source, Where, Time
KEY_FIELDS = 10  # output fields shown
KEY_NAME = 60
KEY_LINE = 290  # one `name`: `value` line; ten of them fit a section
TAG = 80
TAGS_TEXT = 600
HOSTS_SHOWN = 5
HOST = 100
SKIP_FIELDS = frozenset(n for names in WHERE_FIELDS.values() for n in names)  # in Where

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Per context: what a character becomes (the rest: itself, or \uXXXX if invisible).
MRKDWN = dict(_ENTITIES)
LINE = {**_ENTITIES, "\n": "↵"}  # fallback text: one line
CODE = {**_ENTITIES, "`": "ˋ"}  # inside a ``` block
INLINE = {**CODE, "\n": "↵"}  # inside `inline code`
PLAIN = {"<": "‹", ">": "›", "\n": "↵"}  # plain_text (header)
# Unicode categories never shown raw: controls (C0 but \n \t, DEL, C1), format characters
# (bidi embeddings/overrides/isolates, zero-width space/joiners, marks, BOM, soft hyphen,
# tag characters), lone surrogates, and line/paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

# The SDK logs the request URL at DEBUG and every network error at ERROR. This logger is
# outside logging's tree and disabled: nothing it is given reaches a handler. What went
# wrong is in the Answer, without the URL.
_SDK_LOG = logging.Logger("deliver.slack.sdk", logging.CRITICAL)
_SDK_LOG.disabled = True
_URL_HIDDEN = "<webhook URL>"


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _escape_char(ch: str, table: dict[str, str]) -> str:
    got = table.get(ch)
    if got is not None:
        return got
    if " " <= ch < "\x7f" or ch in "\n\t":
        return ch
    if ch < " " or unicodedata.category(ch) in _HIDDEN:
        return _visible(ch)
    return ch


def mrkdwn_escape(text: str) -> str:
    """``text`` safe in mrkdwn: ``&<>`` as entities, invisible characters as ``\\uXXXX``.

    Formatting characters (``*_~`` and backticks) are left alone: put the result in code
    (``_code``) to keep mrkdwn away from it, as everything here does with event text."""
    return "".join(_escape_char(ch, MRKDWN) for ch in str(text))


def units(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (an emoji counts two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _marker(count: int) -> str:
    return f"…[cut {count} chars]"


def _take(text: str, budget: int, table: dict[str, str], max_lines: int | None) -> tuple[str, int]:
    """The escaped prefix of ``text`` within ``budget`` units (whole escapes only, at most
    ``max_lines`` lines), and how many source characters did not fit."""
    out: list[str] = []
    used = 0
    lines = 1
    for i, ch in enumerate(text):
        piece = _escape_char(ch, table)
        size = units(piece)
        if ch == "\n" and max_lines is not None:
            lines += 1
            if lines > max_lines:
                return "".join(out), len(text) - i
        if used + size > budget:
            return "".join(out), len(text) - i
        out.append(piece)
        used += size
    return "".join(out), 0


def fit(
    text: str,
    budget: int,
    table: dict[str, str] = MRKDWN,
    *,
    before: str = "",
    after: str = "",
    max_lines: int | None = None,
) -> str:
    """``before + escaped text + after`` within ``budget`` units; if the text had to be cut,
    ``…[cut N chars]`` follows (outside ``before``/``after``, so outside any code)."""
    text = str(text)
    room = budget - units(before) - units(after)
    body, left = _take(text, room, table, max_lines)
    if not left:
        return before + body + after
    body, left = _take(text, room - units(_marker(len(text))), table, max_lines)
    if not body:
        return _marker(left)
    return before + body + after + _marker(left)


def _code(value: str, budget: int) -> str:
    """A value as inline code, escaped and cut to ``budget`` units."""
    if value == "":
        return "(empty)"
    return fit(value, budget, INLINE, before="`", after="`")


def _code_list(items: Sequence[str], budget: int, each: int, total: int | None = None) -> str:
    """``item``, ``item``, ... within ``budget``; ``and N more`` when not all fit (``total``:
    how many there are, when ``items`` are only the first of them)."""
    count = len(items) if total is None else max(total, len(items))
    parts: list[str] = []
    used = 0
    for i, item in enumerate(items):
        piece = _code(item, each)
        more = f" and {count - i - 1} more" if i < count - 1 else ""
        room = budget - used - units(", " if parts else "") - units(more)
        if units(piece) > room:
            break
        used += units(", " if parts else "") + units(piece)
        parts.append(piece)
    rest = count - len(parts)
    text = ", ".join(parts)
    if rest:
        text += f" and {rest} more" if parts else f"{rest} not shown"
    return text


def _json_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _tags(alert: DeliveryAlert) -> list[str]:
    """ATT&CK technique ids first, then the other tags, each once."""
    seen: dict[str, None] = {}
    for tag in (*alert.attack_ids, *alert.tags):
        seen.setdefault(tag, None)
    return list(seen)


def _key_fields(alert: DeliveryAlert) -> list[tuple[str, str]]:
    """Output fields worth a line: not the event time, not what Where already shows,
    not Falco's ``<NA>``."""
    found: list[tuple[str, str]] = []
    for name, value in alert.fields.items():
        name = str(name)
        if name.startswith("evt.time") or name in SKIP_FIELDS:
            continue
        if value is None or value == NA or value == "":
            continue
        found.append((name, _json_value(value)))
    return found


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _repeat_text(repeat: Repeat) -> str:
    first = _code(repeat.first_seen or "unknown", 80)
    last = _code(repeat.last_seen or "unknown", 80)
    line = (
        f":repeat: *Repeated {_plural(repeat.count, 'time')} on {_plural(repeat.hosts, 'host')}"
        f"* between {first} and {last}"
    )
    if repeat.host_names:
        shown = repeat.host_names[:HOSTS_SHOWN]
        hosts = _code_list(shown, 1500, HOST, total=max(repeat.hosts, len(repeat.host_names)))
        line += f"\nHosts: {hosts}"
    return line


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def _field(label: str, value: str) -> MarkdownTextObject:
    return _md(f"*{label}*\n{value}")


def _fallback(alert: DeliveryAlert) -> str:
    """The top-level ``text``: what notifications and clients without blocks show."""
    head = f"{alert.priority}: {fit(alert.rule, 300, LINE)}"
    if alert.repeat is not None:
        r = alert.repeat
        head += f" (repeated {_plural(r.count, 'time')} on {_plural(r.hosts, 'host')})"
    head += f" · {fit(alert.where.text(), 300, LINE)}"
    message = alert.message
    if not message:
        return head
    return head + " · " + fit(message, MAX_FALLBACK - units(head) - 3, LINE)


def render_blocks(alert: DeliveryAlert) -> tuple[list[Block], list[Block]]:
    """The Block Kit blocks of one alert: the top (the header, and for a summary how often
    it repeated) and the body (in an attachment, for the priority's colour bar).

    With blocks at the top level, the ``text`` is only the fallback (notifications, screen
    readers); with attachments alone, Slack would show it above them as the message."""
    top: list[Block] = []
    prefix = f"{alert.priority}: "
    header = prefix + fit(alert.rule, MAX_HEADER - units(prefix), PLAIN)
    top.append(HeaderBlock(text=PlainTextObject(text=header, emoji=False)))
    if alert.repeat is not None:
        top.append(SectionBlock(text=_md(_repeat_text(alert.repeat))))

    body: list[Block] = []
    message = alert.message
    if message.strip():
        text = fit(
            message, MAX_SECTION_TEXT, CODE, before="```", after="```", max_lines=MESSAGE_LINES
        )
        body.append(SectionBlock(text=_md(text)))

    tags = _tags(alert)
    fields = [
        _field("Priority", mrkdwn_escape(str(alert.priority))),
        _field("Source", _code(alert.source or "unknown", FIELD_VALUE)),
        _field("Where", _code(alert.where.text(), FIELD_VALUE)),
        _field("Time", _code(alert.time or "unknown", FIELD_VALUE)),
        _field("Tags", _code_list(tags, TAGS_TEXT, TAG) if tags else "none"),
    ]
    body.append(SectionBlock(fields=fields[:MAX_FIELDS]))

    key = _key_fields(alert)
    shown = key[:KEY_FIELDS]
    if shown:
        lines = []
        for name, value in shown:
            label = _code(name, KEY_NAME)
            # "• " + label + ": " + value: at most KEY_LINE units; ten lines fit a section.
            lines.append(f"• {label}: " + _code(value, KEY_LINE - units(label) - 4))
        body.append(SectionBlock(text=_md("\n".join(lines))))

    context = f"lanner · alert {_code(alert.uuid, 100)}"
    if len(key) > len(shown):
        context += f" · {len(key) - len(shown)} more output fields in the alert JSON"
    body.append(ContextBlock(elements=[_md(context)]))
    return top[:MAX_BLOCKS], body[:MAX_BLOCKS]


def message(alert: DeliveryAlert) -> dict[str, Any]:
    """The incoming-webhook payload for one alert."""
    fallback = _fallback(alert)
    top, body = render_blocks(alert)
    attachment = BlockAttachment(
        blocks=body, color=severity(alert.priority).slack_color, fallback=fallback
    )
    # to_dict() also checks the SDK's own limits (header 150, section 3000, 10 fields...).
    return {
        "text": fallback,
        "blocks": [block.to_dict() for block in top],
        "attachments": [attachment.to_dict()],
        # Event text may hold URLs: Slack must not fetch them (an attacker's canary).
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _no_space(url: str) -> bool:
    return all(" " < ch < "\x7f" for ch in url)


class SlackDestination:
    """A Slack incoming webhook (``https://hooks.slack.com/services/...``)."""

    name = "slack"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        try:
            check_url(url)
        except (ValueError, TypeError):
            raise ValueError("Slack webhook URL: not an http(s) URL with a host") from None
        if not _no_space(url):
            raise ValueError("Slack webhook URL: has spaces, controls or non-ASCII characters")
        self._url = url
        self.timeout = timeout
        # WebhookClient's annotation says int; urllib takes any number of seconds.
        self._client = WebhookClient(
            url,
            timeout=timeout,  # type: ignore[arg-type]
            retry_handlers=[],
            logger=_SDK_LOG,
        )

    def __repr__(self) -> str:
        return f"SlackDestination(url={_URL_HIDDEN}, timeout={self.timeout})"

    def message(self, alert: DeliveryAlert) -> dict[str, Any]:
        return message(alert)

    def send(self, alert: DeliveryAlert, fingerprint: str) -> Answer:
        """One POST. Never raises for HTTP or network trouble: it answers."""
        payload = self.message(alert)
        try:
            resp = self._client.send_dict(payload)
        except urllib.error.URLError as exc:
            return Answer(None, error=self._hide(_reason(exc)))
        except (OSError, http.client.HTTPException, ValueError, LookupError) as exc:
            context = exc.__context__
            if isinstance(context, urllib.error.HTTPError):
                # The SDK could not decode an error answer's body: the status still counts.
                return Answer(context.code, error=self._hide(f"undecodable body: {exc}"))
            return Answer(None, error=self._hide(_reason(exc)))
        except SlackRequestError as exc:
            return Answer(None, error=self._hide(str(exc)))
        headers = {str(k): str(v) for k, v in _items(resp.headers)}
        return answer_of(resp.status_code, resp.body or "", headers)

    def _hide(self, text: str) -> str:
        """``text`` without the webhook URL or its path (the secret part)."""
        parts = urllib.parse.urlsplit(self._url)
        secrets = [self._url, parts.path + ("?" + parts.query if parts.query else ""), parts.path]
        for secret in secrets:
            if len(secret) > 1:
                text = text.replace(secret, _URL_HIDDEN)
        return text[:MAX_ANSWER_CHARS]


def _items(headers: Any) -> Iterable[tuple[Any, Any]]:
    if headers is None:
        return ()
    items = getattr(headers, "items", None)
    return items() if callable(items) else ()


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) if isinstance(exc, urllib.error.URLError) else None
    text = str(reason if reason is not None else exc)
    return text or type(exc).__name__


__all__ = [
    "SlackDestination",
    "fit",
    "message",
    "mrkdwn_escape",
    "render_blocks",
    "units",
]

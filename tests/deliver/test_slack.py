"""Slack delivery against a real HTTP server on 127.0.0.1 standing in for Slack.

What is checked is what Slack receives: the JSON body of the POST, as the server read it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from standins import DROP, HANG, StandIn, falco_alert, summary_of, unused_port, with_retries

from cli.endpoints import Reply
from deliver.alert import DeliveryAlert
from deliver.destination import Destination
from deliver.retry import Answer
from deliver.severity import SEVERITIES
from deliver.slack import SlackDestination, mrkdwn_escape
from lanner.priority import Priority

SECRET = "T0SECRET/B0SECRET/XySecretToken123"
MARKER = re.compile(r"…\[cut (\d+) chars\]")


# --- the stand-in for Slack -------------------------------------------------------------


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with StandIn(path=f"/services/{SECRET}") as stand_in:
        yield stand_in
    # Every request was one JSON document, whether or not the test looked at it.
    assert all(isinstance(r.json(), dict) for r in stand_in.requests)


def closed_port_url() -> str:
    return f"http://127.0.0.1:{unused_port()}/services/{SECRET}"


# --- alerts -----------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "rule": "Terminal shell in container",
    "priority": "Critical",
    "time": "2024-05-01T10:00:00.123456789Z",
    "output": "10:00:00.123456789: Critical A shell was spawned in a container with an "
    "attached terminal (user=root shell=bash parent=runc cmdline=bash -i)",
    "source": "syscall",
    "hostname": "node-1",
    "tags": ["container", "shell", "T1059", "mitre_execution", "T1611"],
    "output_fields": {
        "evt.time": 1714557600123456789,
        "evt.time.iso8601": "2024-05-01T10:00:00.123456789Z",
        "proc.cmdline": "bash -i",
        "proc.name": "bash",
        "user.name": "root",
        "container.id": "3ad7b26ded6d",
        "container.name": "web",
        "k8s.ns.name": "prod",
        "k8s.pod.name": "web-7d4b9c-x2x1z",
        "proc.pid": 4242,
        "fd.name": None,
        "proc.pname": "<NA>",
    },
}


def make(**changes: Any) -> DeliveryAlert:
    return falco_alert(BASE, **changes)


def all_blocks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = list(payload.get("blocks", []))
    for attachment in payload.get("attachments", []):
        blocks.extend(attachment.get("blocks", []))
    return blocks


def header_text(payload: dict[str, Any]) -> str:
    (header,) = [b for b in all_blocks(payload) if b["type"] == "header"]
    assert header["text"]["type"] == "plain_text"
    return header["text"]["text"]


def field_texts(payload: dict[str, Any]) -> dict[str, str]:
    """``{"Priority": "Critical", ...}`` from the fields of the sections."""
    found = {}
    for block in all_blocks(payload):
        for f in block.get("fields", []):
            label, _, value = f["text"].partition("\n")
            found[label.strip("*")] = value
    return found


def section_texts(payload: dict[str, Any]) -> list[str]:
    return [
        b["text"]["text"] for b in all_blocks(payload) if b["type"] == "section" and "text" in b
    ]


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def assert_within_limits(payload: dict[str, Any]) -> None:
    assert units(payload["text"]) <= 3000
    assert len(payload["blocks"]) <= 50
    for attachment in payload["attachments"]:
        assert len(attachment["blocks"]) <= 50
        assert units(attachment.get("fallback", "")) <= 3000
    for block in all_blocks(payload):
        if block["type"] == "header":
            assert units(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            if "text" in block:
                assert units(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            for f in fields:
                assert units(f["text"]) <= 2000
        elif block["type"] == "context":
            assert len(block["elements"]) <= 10
            for e in block["elements"]:
                assert units(e["text"]) <= 3000
        else:
            raise AssertionError(f"unexpected block {block['type']}")


def invisible(ch: str) -> bool:
    if ch in "\n\t":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")


# --- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://hooks.slack.com/services/{SECRET}",
        f"hooks.slack.com/services/{SECRET}",
        f"https:///services/{SECRET}",
        f"file:///services/{SECRET}",
        f"https://hooks.slack.com/services/{SECRET} x",
        f"https://hooks.slack.com/services/{SECRET}\n",
        f"https://[::1/services/{SECRET}",
    ],
)
def test_bad_url_refused_without_saying_it(url: str) -> None:
    with pytest.raises(ValueError) as info:
        SlackDestination(url)
    assert "Secret" not in str(info.value)
    # No chained exception (which a traceback would print) carries it either.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_repr_hides_the_url() -> None:
    dest: Destination = SlackDestination(f"https://hooks.slack.com/services/{SECRET}")
    assert "Secret" not in repr(dest)
    assert "hooks.slack.com" not in repr(dest)
    assert dest.name == "slack"


# --- what an engineer reads --------------------------------------------------------------


def test_delivered_message_reads_like_the_alert(slack: StandIn) -> None:
    answer = SlackDestination(slack.url).send(make(), "fp-1")
    assert answer.ok and answer.status == 200 and answer.body == "ok"
    assert [r.path for r in slack.requests] == [f"/services/{SECRET}"]
    assert slack.requests[0].headers["content-type"].startswith("application/json")
    payload = slack.requests[0].json()

    assert header_text(payload) == "Critical: Terminal shell in container"
    assert payload["attachments"][0]["color"] == SEVERITIES[Priority.CRITICAL].slack_color
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False

    # The output, without Falco's "10:00:00.123456789: Critical" prefix, in a code block.
    message = section_texts(payload)[0]
    assert message.startswith("```A shell was spawned in a container")
    assert message.endswith("cmdline=bash -i)```")
    assert "10:00:00.123456789" not in message

    fields = field_texts(payload)
    assert list(fields) == ["Priority", "Source", "Where", "Time", "Tags"]
    assert fields["Priority"] == "Critical"
    assert fields["Source"] == "`syscall`"
    assert (
        fields["Where"] == "`node node-1 / namespace prod / pod web-7d4b9c-x2x1z / container web`"
    )
    assert fields["Time"] == "`2024-05-01T10:00:00.123456789Z`"
    # ATT&CK technique ids first, then the other tags in their order.
    assert fields["Tags"] == "`T1059`, `T1611`, `container`, `shell`, `mitre_execution`"

    key = section_texts(payload)[1].split("\n")
    assert "• `proc.cmdline`: `bash -i`" in key
    assert "• `user.name`: `root`" in key
    assert "• `proc.pid`: `4242`" in key
    joined = "\n".join(key)
    assert "evt.time" not in joined  # the Time field says it
    assert "k8s.pod.name" not in joined  # Where says it
    assert "fd.name" not in joined and "proc.pname" not in joined  # null and <NA>

    # The fallback a notification shows.
    assert payload["text"].startswith("Critical: Terminal shell in container · node node-1")
    assert "A shell was spawned" in payload["text"]
    assert_within_limits(payload)


@pytest.mark.parametrize("priority", list(Priority))
def test_colour_follows_the_severity_table(priority: Priority) -> None:
    payload = SlackDestination("https://hooks.slack.com/x").message(make(priority=str(priority)))
    assert payload["attachments"][0]["color"] == SEVERITIES[priority].slack_color
    assert header_text(payload) == f"{priority}: Terminal shell in container"
    assert field_texts(payload)["Priority"] == str(priority)


def test_at_most_ten_output_fields_and_the_rest_counted() -> None:
    many = {f"custom.f{i:02d}": f"v{i}" for i in range(25)}
    payload = SlackDestination("https://hooks.slack.com/x").message(make(fields=many))
    key_lines = section_texts(payload)[1].split("\n")
    assert len(key_lines) == 10
    context = next(b for b in all_blocks(payload) if b["type"] == "context")
    total = len(_key_names(make(fields=many)))
    assert f"{total - 10} more output fields" in context["elements"][0]["text"]


def _key_names(alert: DeliveryAlert) -> list[str]:
    skip = {"k8s.ns.name", "k8s.pod.name", "container.name"}
    return [
        k
        for k, v in alert.fields.items()
        if not k.startswith("evt.time") and k not in skip and v not in (None, "<NA>", "")
    ]


def summary_alert(hosts: list[str], count: int = 12) -> DeliveryAlert:
    return summary_of(
        make(),
        count,
        hosts,
        "2024-05-01T10:00:00.123Z",
        "2024-05-01T10:04:59.900Z",
        key="fp-1",
        start=1714557600.0,
    )


def test_summary_says_how_often_where_and_when(slack: StandIn) -> None:
    alert = summary_alert(["node-a", "node-b", "node-c"])
    assert SlackDestination(slack.url).send(alert, "fp-1").ok
    payload = slack.requests[0].json()
    # Right under the header, at the top level: not folded into the attachment.
    assert payload["blocks"][0]["type"] == "header"
    line = payload["blocks"][1]["text"]["text"]
    plain = line.replace("`", "").replace("*", "")
    assert (
        "Repeated 12 times on 3 hosts between 2024-05-01T10:00:00.123Z and 2024-05-01T10:04:59.900Z"
        in plain
    )
    assert "Hosts: `node-a`, `node-b`, `node-c`" in line
    assert "(repeated 12 times on 3 hosts)" in payload["text"]
    assert_within_limits(payload)


def test_summary_names_a_few_hosts_and_counts_the_rest() -> None:
    hosts = [f"ip-10-0-0-{i}.ec2.internal" for i in range(40)]
    payload = SlackDestination("https://hooks.slack.com/x").message(summary_alert(hosts, 300))
    line = payload["blocks"][1]["text"]["text"]
    assert "Repeated 300 times on 40 hosts" in line.replace("*", "")
    assert line.count("ip-10-0-0-") == 5
    assert line.endswith(" and 35 more")


def test_single_repeat_is_singular() -> None:
    payload = SlackDestination("https://hooks.slack.com/x").message(summary_alert(["n"], 1))
    assert "Repeated 1 time on 1 host" in payload["blocks"][1]["text"]["text"].replace("*", "")


# --- hostile input ------------------------------------------------------------------------

PINGS = "<!channel> <!here> <!everyone> <@U024BE7LH> <#C024BE7LR> <!subteam^S0614TZR7>"
LINK = "<https://evil.example|click me> <http://evil.example>"
CONTROLS = "\x00\x07\x08\x1b[31m\x7f\x85\x9b\r"
INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u200e\u200f\ufeff\u2028\u2029\U000e0041"
FORMAT = "*bold* _it_ ~strike~ `tick` ```fence``` > quote :skull: &amp; &lt;"
HOSTILE = f"{PINGS} {LINK} & < > {CONTROLS} {INVISIBLE} {FORMAT}"
LONG = "A" * 10_000
ANGLES = "<" * 10_000


def hostile_alert() -> DeliveryAlert:
    fields: dict[str, Any] = {
        "proc.cmdline": HOSTILE,
        "proc.name": LONG,
        "fd.name": ANGLES,
        "proc.args": "\n" * 5000 + "<!channel>",
        "k8s.pod.name": HOSTILE,
        "k8s.ns.name": LONG,
        HOSTILE: "field name",
        "x" * 5000: "long field name",
        "list.value": [HOSTILE, 1, None],
    }
    return make(
        rule=f"Shell {HOSTILE}",
        output=f"10:00:00.123456789: Critical {HOSTILE} {LONG} {ANGLES}",
        hostname=f"node-1 {HOSTILE}",
        tags=[HOSTILE, "T1059", LONG, *[f"tag{i}" for i in range(100)]],
        time=HOSTILE,
        source=HOSTILE,
        uuid=HOSTILE,
        fields=fields,
    )


def assert_harmless(payload: dict[str, Any]) -> None:
    for s in strings(payload):
        # No Slack markup survives: not a ping, not a mention, not a hidden link.
        for bad in ("<!", "<@", "<#", "<http"):
            assert bad not in s, (bad, s[:200])
        assert "<" not in s and ">" not in s, s[:200]
        raw = [ch for ch in s if invisible(ch)]
        assert not raw, [hex(ord(c)) for c in raw]


def test_hostile_strings_reach_slack_as_text(slack: StandIn) -> None:
    alert = hostile_alert()
    assert SlackDestination(slack.url).send(alert, "fp").ok
    payload = slack.requests[0].json()
    assert_harmless(payload)
    assert_within_limits(payload)

    # Shown, not obeyed: the markup reads as text...
    message = section_texts(payload)[0]
    assert "&lt;!channel&gt; &lt;!here&gt;" in message
    assert "&lt;@U024BE7LH&gt;" in message
    assert "&lt;https://evil.example|click me&gt;" in message
    # ...the invisible characters as escapes...
    for ch in "\x07\x1b\x7f\x85\u202e\u2066\u200b\ufeff":
        assert f"\\u{ord(ch):04x}" in message
    assert "\\U000e0041" in message
    # ...and the header too, where it is plain text.
    header = header_text(payload)
    assert header.startswith("Critical: Shell ‹!channel› ‹!here›")
    short = SlackDestination(slack.url).message(make(rule="exe.\u202etxt\x07 & <b>\nx"))
    assert header_text(short) == "Critical: exe.\\u202etxt\\u0007 & ‹b›↵x"


def test_hostile_summary_is_harmless_too(slack: StandIn) -> None:
    summary = summary_of(hostile_alert(), 5, {HOSTILE, LONG, "node-2"}, HOSTILE, LONG, "k", 0.0)
    assert SlackDestination(slack.url).send(summary, "k").ok
    payload = slack.requests[0].json()
    assert_harmless(payload)
    assert_within_limits(payload)
    assert "Repeated 5 times on 3 hosts" in payload["blocks"][1]["text"]["text"].replace("*", "")


def test_event_text_is_kept_in_code_where_mrkdwn_cannot_format_it() -> None:
    payload = SlackDestination("https://hooks.slack.com/x").message(hostile_alert())
    message = section_texts(payload)[0]
    # One code block: the value's own backticks cannot close it early.
    assert message.startswith("```") and message.count("`") == 6
    fields = field_texts(payload)
    for label in ("Source", "Time"):
        value = fields[label]
        assert value.startswith("`") and value.count("`") == 2, value[:100]
        assert "\n" not in value
    assert "ˋtickˋ" in fields["Source"]
    # Each output field line: `name`: `value` and nothing outside code but our own words.
    for line in section_texts(payload)[1].split("\n"):
        outside = re.sub(r"`[^`]*`", "", line)
        assert re.fullmatch(r"• (…\[cut \d+ chars\])?: (…\[cut \d+ chars\])?", outside), line[:200]
    for block in all_blocks(payload):
        for obj in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if obj and obj["type"] == "mrkdwn":
                assert obj["verbatim"] is True
    header = next(b for b in all_blocks(payload) if b["type"] == "header")
    assert header["text"]["emoji"] is False


def test_cut_values_say_so_and_never_split_an_escape() -> None:
    payload = SlackDestination("https://hooks.slack.com/x").message(hostile_alert())
    assert_within_limits(payload)
    lines = {
        line.split("`")[1]: line for line in section_texts(payload)[1].split("\n") if "`" in line
    }
    # 10,000 "<": shown as whole "&lt;" entities, and the marker counts what was left out.
    angles = lines["fd.name"]
    shown = re.fullmatch(r"• `fd.name`: `((?:&lt;)+)`…\[cut (\d+) chars\]", angles)
    assert shown, angles[:200]
    assert len(shown.group(1)) // 4 + int(shown.group(2)) == 10_000
    long = lines["proc.name"]
    shown = re.fullmatch(r"• `proc.name`: `(A+)`…\[cut (\d+) chars\]", long)
    assert shown and len(shown.group(1)) + int(shown.group(2)) == 10_000
    # A flood of newlines becomes ↵ in one line, cut.
    assert "↵↵↵" in lines["proc.args"] and MARKER.search(lines["proc.args"])
    # The header and the message are cut with the marker too.
    assert MARKER.search(header_text(payload))
    assert MARKER.search(section_texts(payload)[0])
    assert MARKER.search(field_texts(payload)["Where"])
    assert "more" in field_texts(payload)["Tags"]


def test_newline_flood_in_the_message_is_cut_by_lines() -> None:
    alert = make(output="10:00:00.123456789: Critical start" + "\n" * 5000 + "end <!here>")
    payload = SlackDestination("https://hooks.slack.com/x").message(alert)
    message = section_texts(payload)[0]
    assert message.count("\n") < 40
    cut = MARKER.search(message)
    assert cut and message.endswith(cut.group(0))
    assert "end" not in message
    assert_harmless(payload)


def test_emoji_count_double_against_the_limits() -> None:
    alert = make(output="😈" * 5000, rule="🔥" * 200)
    payload = SlackDestination("https://hooks.slack.com/x").message(alert)
    assert_within_limits(payload)
    assert MARKER.search(section_texts(payload)[0])


def test_mrkdwn_escape() -> None:
    assert mrkdwn_escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"
    assert mrkdwn_escape("<!channel>") == "&lt;!channel&gt;"
    assert mrkdwn_escape("&lt;") == "&amp;lt;"  # an entity in the event is shown as typed
    assert mrkdwn_escape("x\x07\x1b[31my") == "x\\u0007\\u001b[31my"
    assert mrkdwn_escape("\u202egnp.exe") == "\\u202egnp.exe"
    assert mrkdwn_escape("a\u200bb\ufeff") == "a\\u200bb\\ufeff"
    assert mrkdwn_escape("\x7f\x85\x9f") == "\\u007f\\u0085\\u009f"
    assert mrkdwn_escape("line\n\tnext") == "line\n\tnext"
    assert mrkdwn_escape("ünïcødé 日本 😀") == "ünïcødé 日本 😀"


# --- one attempt, and the retry policy around it -----------------------------------------


def test_answers_become_retry_answers(slack: StandIn) -> None:
    dest = SlackDestination(slack.url)
    slack.script(Reply(429, "rate_limited", {"Retry-After": "2"}))
    slack.script(Reply(500, "oops"))
    slack.script(Reply(403, "invalid_token"))
    slack.script(Reply(410, "channel_is_archived"))
    throttled = dest.send(make(), "fp")
    assert throttled.status == 429 and throttled.retry_after == 2.0 and throttled.transient
    failed = dest.send(make(), "fp")
    assert failed.status == 500 and failed.transient
    revoked = dest.send(make(), "fp")
    assert revoked.permanent and revoked.describe() == "HTTP 403: invalid_token"
    archived = dest.send(make(), "fp")
    assert archived.permanent and "channel_is_archived" in archived.describe()
    assert len(slack.requests) == 4  # one request each: the SDK's own retries are off


def test_429_waits_what_retry_after_says(slack: StandIn) -> None:
    slack.script(Reply(429, "rate_limited", {"Retry-After": "2"}))
    outcome, waits = with_retries(SlackDestination(slack.url), make())
    assert outcome.delivered and outcome.attempts == 2
    assert waits == [2.0]
    assert len(slack.requests) == 2 and slack.requests[0].json() == slack.requests[1].json()


def test_500_is_tried_again(slack: StandIn) -> None:
    slack.script(Reply(500, "internal_error"))
    outcome, waits = with_retries(SlackDestination(slack.url), make())
    assert outcome.delivered and outcome.attempts == 2
    assert len(waits) == 1
    assert len(slack.requests) == 2


def test_404_no_service_is_permanent(slack: StandIn) -> None:
    slack.script(Reply(404, "no_service"))
    outcome, waits = with_retries(SlackDestination(slack.url), make())
    assert not outcome.delivered and outcome.permanent and outcome.attempts == 1
    assert waits == []
    text = outcome.answer.describe()
    assert "404" in text and "no_service" in text
    assert "Secret" not in text


def test_connection_refused_is_a_transient_network_answer() -> None:
    dest = SlackDestination(closed_port_url())
    answer = dest.send(make(), "fp")
    assert answer.status is None and answer.transient and not answer.permanent
    assert answer.describe().startswith("network: ")
    assert "refused" in answer.describe().lower()
    assert "Secret" not in answer.describe()
    outcome, waits = with_retries(dest, make(), attempts=2)
    assert not outcome.delivered and not outcome.permanent and outcome.attempts == 2
    assert len(waits) == 1 and outcome.retry_after is not None


def test_dropped_connection_is_tried_once_and_answered(slack: StandIn) -> None:
    slack.script(DROP)
    answer = SlackDestination(slack.url).send(make(), "fp")
    assert answer.status is None and answer.transient
    assert answer.describe().startswith("network: ")
    assert "Secret" not in answer.describe()
    # One request: the SDK's connection-error retry is off, the retry policy is ours.
    assert len(slack.requests) == 1


def test_no_answer_in_time_is_a_transient_network_answer(slack: StandIn) -> None:
    slack.script(HANG)
    answer = SlackDestination(slack.url, timeout=0.5).send(make(), "fp")
    assert answer.status is None and answer.transient
    assert "timed out" in answer.describe()


def test_the_url_is_never_logged(slack: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    slack.script(Reply(404, "no_service"))
    dest = SlackDestination(slack.url)
    answers = [dest.send(make(), "fp"), dest.send(make(), "fp")]
    answers.append(SlackDestination(closed_port_url()).send(make(), "fp"))
    assert [a.status for a in answers] == [404, 200, None]
    assert "Secret" not in caplog.text
    assert all("Secret" not in a.describe() and "Secret" not in repr(a) for a in answers)


def test_answer_without_url_on_odd_failures() -> None:
    """A failure the SDK reports with the URL in it is reported without it."""
    dest = SlackDestination(closed_port_url())
    hidden = dest._hide(f"could not open {dest._url} (path /services/{SECRET})")
    assert "Secret" not in hidden and "<webhook URL>" in hidden
    assert isinstance(Answer(None, error=hidden).describe(), str)

"""A Slack Block Kit message as text on a terminal: what a person reads in the channel.

Used by ``lanner demo`` to show what the Slack stand-in received. It undoes Slack's
escaping (``&lt;`` shows as ``<``, as Slack shows it) and drops mrkdwn markers, then
makes the text inert for the terminal.
"""

from __future__ import annotations

from typing import Any

from deliver.inert import inert

BAR = "▌ "


def _plain(text: str) -> str:
    for marker in ("```", "`", "*"):
        text = text.replace(marker, "")
    text = text.replace(":repeat:", "↻")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return inert(text, newlines=True)


def _block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    lines: list[str] = []
    if kind == "header":
        lines.append(_plain(str(block.get("text", {}).get("text", ""))).upper())
    elif kind == "section":
        text = block.get("text", {}).get("text")
        if text:
            lines.extend(_plain(str(text)).splitlines())
        fields = [
            _plain(str(f.get("text", ""))).replace("\n", ": ", 1) for f in block.get("fields", [])
        ]
        lines.extend(fields)
    elif kind == "context":
        lines.append(" ".join(_plain(str(e.get("text", ""))) for e in block.get("elements", [])))
    return lines


def render(message: dict[str, Any]) -> str:
    lines: list[str] = []
    for block in message.get("blocks", []):
        lines.extend(_block_lines(block))
    for attachment in message.get("attachments", []):
        for block in attachment.get("blocks", []):
            lines.extend(_block_lines(block))
    return "\n".join(BAR + line for line in lines)

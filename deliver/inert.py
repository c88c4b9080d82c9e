"""Text from events made inert for terminals and logs: no control sequences, no bidi tricks.

One helper for every text sink (``lanner scan`` and ``lanner sensor`` text lines, the
notify CLI's stderr, SNS/SQS message attributes, the Slack terminal view), so an event
string reads the same wherever it lands.

Each unsafe character is written as a JSON string writes it: ``\\n``, ``\\r``, ``\\t``,
``\\b``, ``\\f`` by name, the rest as ``\\u001b``-style escapes. That is how the same value
already reads in the alert's JSON (``--json``, Falco's ``json_output``), so a user can grep
one form in both. Backslashes are left as they are: escaping them would change every
Windows path and regex in a command line, and a literal ``\\n`` in an event cannot end a line.
"""

from __future__ import annotations

import re

# C0 and C1 controls (terminal escapes, bells, NUL, carriage returns that overwrite a line;
# 0x9b is an 8-bit CSI), bidi marks, overrides and isolates (text that reads backwards),
# zero-width and invisible characters, and the line and paragraph separators (line breaks
# to Python's splitlines and to JavaScript log viewers). Lone surrogates (bytes that were not
# UTF-8) are an encoding matter, left to each writer: the CLI writes them as \udcXX, SNS
# attributes as "?".
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
_LINE = re.compile("[\n\t]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or f"\\u{ord(c):04x}"


def inert(text: str, *, newlines: bool = False) -> str:
    """``text`` with every unsafe character escaped as JSON would (``\\x1b`` reads
    ``\\u001b``); newlines and tabs too unless ``newlines`` (multi-line views)."""
    out = _UNSAFE.sub(_escape, text)
    if not newlines:
        out = _LINE.sub(_escape, out)
    return out

"""Text from events made inert for terminals and logs: no control sequences, no bidi tricks."""

from __future__ import annotations

import re

# C0 and C1 controls (terminal escapes, bells, carriage returns that overwrite a line),
# bidi overrides and isolates (text that reads backwards), zero-width characters.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def inert(text: str, *, newlines: bool = False) -> str:
    """``text`` with every unsafe character shown as ``\\uXXXX``; newlines and tabs too
    unless ``newlines``."""
    out = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    if not newlines:
        out = out.replace("\n", "\\n").replace("\t", "\\t")
    return out

"""Opaque pagination cursors: where a Query stopped, for the next page of the same query.

A cursor is base64url (unpadded) of compact JSON ``{"i": index, "h": query hash,
"k": {attribute: string}}``: the index's name, a hash of what was asked (the plan and
the time range), and the LastEvaluatedKey with only that index's key attributes. The
hash is not a signature (anyone signed in may ask anything anyway): it stops a cursor
from one search being used on another, where it would skip or repeat alerts silently.
The store checks the key itself against the query (``AlertStore``), so DynamoDB never
sees a start key outside the query's bounds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re

MAX_CURSOR_CHARS = 12_000  # four keys of at most 2,048 bytes, base64: far less
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


class CursorError(ValueError):
    """A cursor that does not decode, or that belongs to another query."""


def query_hash(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:24]


def encode(index: str, query: str, key: dict[str, str]) -> str:
    body = json.dumps({"i": index, "h": query, "k": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode(cursor: str, index: str, query: str, attributes: frozenset[str]) -> dict[str, str]:
    """The start key ``cursor`` holds, when it was made for this query on ``index``."""
    if len(cursor) > MAX_CURSOR_CHARS or not _URL_SAFE.fullmatch(cursor):
        raise CursorError("cursor is not one this API gave")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("cursor is not one this API gave") from None
    if not isinstance(doc, dict) or set(doc) != {"i", "h", "k"}:
        raise CursorError("cursor is not one this API gave")
    if doc["i"] != index or doc["h"] != query:
        raise CursorError("cursor belongs to another query")
    key = doc["k"]
    if not isinstance(key, dict) or set(key) != attributes:
        raise CursorError("cursor names keys it must not")
    if not all(isinstance(v, str) for v in key.values()):
        raise CursorError("cursor is not one this API gave")
    return {str(k): v for k, v in key.items()}

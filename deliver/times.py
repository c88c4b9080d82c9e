"""Alert times: Falco's ISO 8601 text (``2026-01-02T12:34:56.123456789Z``) read once, for
every destination that turns it into its own form."""

from __future__ import annotations

from datetime import UTC, datetime

MAX_TIME_CHARS = 64  # far more than any ISO 8601 time; longer text is not one


def parse_time(text: str) -> datetime | None:
    """``text`` as an aware datetime in UTC (a time without an offset is UTC, as Falco's
    are); None when it is not an ISO 8601 time, is longer than ``MAX_TIME_CHARS``, or
    cannot be a UTC datetime (year 1 an hour east of Greenwich)."""
    if not isinstance(text, str) or not text or len(text) > MAX_TIME_CHARS:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None

"""Alert times, read once for every destination (``deliver.times.parse_time``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from deliver.times import MAX_TIME_CHARS, parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T12:34:56.123456789Z", datetime(2026, 1, 2, 12, 34, 56, 123456, UTC)),
        ("2026-01-02T14:34:56+02:00", datetime(2026, 1, 2, 12, 34, 56, tzinfo=UTC)),
        ("2026-01-02T12:34:56", datetime(2026, 1, 2, 12, 34, 56, tzinfo=UTC)),  # Falco's: UTC
        (" 2026-01-02T12:34:56Z\n", datetime(2026, 1, 2, 12, 34, 56, tzinfo=UTC)),
        ("", None),
        ("yesterday", None),
        ("1767357296", None),
        ("2026-13-02T12:34:56Z", None),
        ("0001-01-01T00:00:00+01:00", None),  # before year 1 in UTC
        ("9999-12-31T23:59:59-01:00", None),  # after year 9999 in UTC
        ("2026-01-02T12:34:56" + " " * MAX_TIME_CHARS, None),  # longer than any time
    ],
)
def test_parse_time(text: str, expected: datetime | None) -> None:
    when = parse_time(text)
    assert when == expected
    if when is not None:
        assert when.tzinfo is UTC

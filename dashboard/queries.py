"""The API's query strings, checked at the trust boundary.

One pydantic model per kind of request. Each refuses what it does not know (a typo such as
``prio=Critical`` must not silently widen a search), bounds every value, and turns into the
store's ``Filters`` and ``TimeRange``. Whatever is wrong, ``parse`` raises ``BadQuery`` whose
message names the parameter (``from: not an ISO 8601 time ...``); the API answers it with 400.

Decisions the contract left open:

- An empty value (``rule=``) means the parameter was not given: that is what a form with an
  empty field sends.
- Times need a time zone (``Z`` or ``+02:00``): a bare ``2024-05-01T12:00`` would mean the
  server's local time, which nobody reading the page knows.
- A parameter given twice is refused: API Gateway would join the values with commas and the
  search would look for a value nobody typed.
- Error messages repeat at most a short prefix of what was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from dashboard.schema import DIMENSIONS, FILTERS, Filters, TimeRange
from lanner import Priority

MAX_VALUE = 1024  # any filter value (rule names are cut to this in the store too)
MAX_TEXT = 256  # the free-text search
MAX_CURSOR = 8192  # a cursor holds a whole index key, and rule names are up to 1,024 chars
MAX_QUERY_STRING = 32 * 1024
MAX_PARAMETERS = 32
MAX_RANGE = timedelta(days=400)
DEFAULT_SPAN = timedelta(hours=24)
_ECHO = 40  # characters of a bad value repeated in a message


class BadQuery(ValueError):
    """The request's query string is wrong; the message names the parameter (a 400)."""


def query_parameters(event: Mapping[str, Any]) -> dict[str, str]:
    """The parameters of an API Gateway HTTP API (payload 2.0) event.

    Read from ``rawQueryString`` (still percent-encoded there), where a repeated parameter
    can be seen; ``queryStringParameters`` has them joined with commas and is only used
    when an event has no raw string."""
    raw = event.get("rawQueryString")
    if not isinstance(raw, str):
        given = event.get("queryStringParameters") or {}
        return {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}
    if len(raw) > MAX_QUERY_STRING:
        raise BadQuery(f"query string: longer than {MAX_QUERY_STRING} characters")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise BadQuery("query string: not valid UTF-8 once percent-decoded") from None
    if len(pairs) > MAX_PARAMETERS:
        raise BadQuery(f"query string: more than {MAX_PARAMETERS} parameters")
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise BadQuery(f"{_echo(name)}: given more than once")
        params[name] = value
    return params


Q = TypeVar("Q", bound="ApiQuery")


def parse(model: type[Q], params: Mapping[str, str], *, now: datetime) -> Q:
    """``params`` checked by ``model``; ``now`` (aware) is where the default range ends."""
    try:
        return model.model_validate(dict(params), context={"now": now})
    except ValidationError as exc:
        raise BadQuery("; ".join(_message(model, e) for e in exc.errors())) from None


class ApiQuery(BaseModel):
    """A request that takes no parameters at all (``/api/alerts/{uuid}``)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, params: Any) -> Any:
        if not isinstance(params, dict):
            return params
        known = cls.parameters()  # an unknown name stays, to be refused
        return {k: v for k, v in params.items() if not (v == "" and k in known)}

    @classmethod
    def parameters(cls) -> list[str]:
        """The names a query string may use, as a user types them."""
        return [f.alias or name for name, f in cls.model_fields.items()]


class RangeQuery(ApiQuery):
    """The parameters every alert query shares: the time range and the filters.

    The filters' field names are ``schema.FILTERS`` (``text`` is spelled ``q`` in the URL),
    so ``filters()`` derives from that one list."""

    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")
    priority: Priority | None = None
    rule: str | None = Field(None, max_length=MAX_VALUE)
    source: str | None = Field(None, max_length=MAX_VALUE)
    tag: str | None = Field(None, max_length=MAX_VALUE)
    hostname: str | None = Field(None, max_length=MAX_VALUE)
    namespace: str | None = Field(None, max_length=MAX_VALUE)
    account: str | None = Field(None, max_length=MAX_VALUE)
    text: str | None = Field(None, alias="q", max_length=MAX_TEXT)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _iso_time(cls, value: Any) -> Any:
        return value if value is None or isinstance(value, datetime) else _parse_time(value)

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        names = ", ".join(str(p) for p in Priority)
        if len(value) > _ECHO:
            raise ValueError(f"not a priority (expected one of: {names})")
        try:
            return Priority.parse(value)
        except ValueError:
            raise ValueError(f"unknown priority {value!r} (expected one of: {names})") from None

    @model_validator(mode="after")
    def _range(self, info: ValidationInfo) -> RangeQuery:
        now = (info.context or {}).get("now") or datetime.now(UTC)
        end = self.end or now
        start = self.start or end - DEFAULT_SPAN
        if start >= end:
            given = "from" if self.start else "the default from (to - 24 h)"
            raise ValueError(f"from: must be before to ({given} {_iso(start)} >= to {_iso(end)})")
        if end - start > MAX_RANGE:
            days = (end - start) / timedelta(days=1)
            raise ValueError(
                f"from, to: the range spans {days:.1f} days; at most {MAX_RANGE.days} days"
            )
        self.start, self.end = start, end
        return self

    def time_range(self) -> TimeRange:
        assert self.start is not None and self.end is not None  # set by _range
        return TimeRange(self.start, self.end)

    def filters(self) -> Filters:
        return Filters(**{name: getattr(self, name) for name in FILTERS})


class AlertsQuery(RangeQuery):
    """``GET /api/alerts``: one page of the events table."""

    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=MAX_CURSOR)


class CountsQuery(RangeQuery):
    """``GET /api/counts``: alerts counted by one dimension."""

    by: str
    top: int = Field(50, ge=1, le=200)

    @field_validator("by")
    @classmethod
    def _dimension(cls, value: str) -> str:
        if value not in DIMENSIONS:
            shown = f" {value!r}" if len(value) <= _ECHO else ""
            raise ValueError(f"unknown dimension{shown} (expected one of: {', '.join(DIMENSIONS)})")
        return value


class TimelineQuery(RangeQuery):
    """``GET /api/timeline``: alerts by priority over time buckets."""


class ExportQuery(RangeQuery):
    """``GET /api/export``: the alert documents as JSON lines."""

    limit: int = Field(10_000, ge=1, le=10_000)
    cursor: str | None = Field(None, max_length=MAX_CURSOR)


def _parse_time(value: Any) -> datetime:
    text = str(value)
    example = "e.g. 2024-05-01T12:00:00Z"
    if len(text) > _ECHO:
        raise ValueError(f"not an ISO 8601 time ({example})")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r} ({example})") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{text!r} has no time zone; add Z or an offset such as +02:00")
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range") from None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _echo(name: str) -> str:
    return name if len(name) <= _ECHO else name[:_ECHO] + "…"


def _message(model: type[ApiQuery], error: ErrorDetails) -> str:
    """One pydantic error as a user reads it: ``<parameter>: <what is wrong>``."""
    loc = error.get("loc") or ()
    name = _echo(str(loc[0])) if loc else ""
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "extra_forbidden":
        known = ", ".join(model.parameters()) or "none"
        return f"unknown parameter {name!r} (expected: {known})"
    if kind == "value_error":
        text = str(ctx.get("error", error["msg"]))
        return f"{name}: {text}" if name else text
    if kind == "string_too_long":
        return f"{name}: longer than {ctx['max_length']} characters"
    if kind == "missing" or (kind.endswith("_type") and error.get("input") is None):
        return f"{name}: required"
    if kind in ("greater_than_equal", "less_than_equal"):
        field = model.model_fields[_field_name(model, str(loc[0]))]
        low, high = _bounds(field.metadata)
        return f"{name}: must be a whole number from {low} to {high}"
    if kind.startswith("int_"):
        return f"{name}: not a whole number"
    return f"{name}: {error['msg']}"


def _field_name(model: type[ApiQuery], alias: str) -> str:
    for name, field in model.model_fields.items():
        if alias in (name, field.alias):
            return name
    return alias


def _bounds(metadata: list[Any]) -> tuple[Any, Any]:
    low = next((m.ge for m in metadata if getattr(m, "ge", None) is not None), None)
    high = next((m.le for m in metadata if getattr(m, "le", None) is not None), None)
    return low, high


__all__ = [
    "AlertsQuery",
    "ApiQuery",
    "BadQuery",
    "CountsQuery",
    "ExportQuery",
    "RangeQuery",
    "TimelineQuery",
    "parse",
    "query_parameters",
]

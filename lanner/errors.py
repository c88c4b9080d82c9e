"""Errors and warnings of the rule core.

Every problem a user can cause carries a location, so messages read
``FILE:LINE:COL: error: message`` like a compiler's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based line and column in a file (``file`` is None for strings)."""

    file: str | None = None
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        name = self.file or "<string>"
        if self.line <= 0:
            return name
        return f"{name}:{self.line}:{self.col}"


class LannerError(Exception):
    """Root of every error the core raises on bad input."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def with_location(self, location: Location) -> LannerError:
        """The same error, placed at ``location`` (used when a condition's
        offsets are mapped back into the YAML file)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        Exception.__init__(clone, self.message)
        clone.location = location
        return clone

    def __str__(self) -> str:
        if self.location is None:
            return f"error: {self.message}"
        return f"{self.location}: error: {self.message}"


class ConditionSyntaxError(LannerError):
    """A condition (or output format) does not parse."""


class RuleFileError(LannerError):
    """A rules file is malformed: bad YAML, a bad item, a bad reference."""


class UnknownFieldError(LannerError):
    """A condition or output names a field its source does not have."""


class FieldArgumentError(LannerError):
    """A field was given an argument it does not take, or lacks one it needs."""


class CompileError(LannerError):
    """A well-formed condition that cannot be compiled (bad operator for a
    field type, an unparsable value, an invalid regex...)."""


class RuleLoadErrors(LannerError):
    """Several errors at once: loading reports every problem it finds."""

    def __init__(self, errors: list[LannerError], warnings: list[Diagnostic] | None = None) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors
        # What loading found besides the errors (unknown keys...), for the same report.
        self.warnings = list(warnings or [])

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A warning: something Falco would warn about, that does not stop loading."""

    message: str
    location: Location | None = None
    code: str = "warning"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}warning: {self.message}"


def json_kind(value: Any) -> str:
    """What a JSON value is, for messages: "a string", "an array", "null"..."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

"""Rule priorities, in Falco's order (most severe first)."""

from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    """Falco's syslog-style priorities. A lower value is more severe."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFORMATIONAL = 6
    DEBUG = 7

    def __str__(self) -> str:
        # The spelling Falco's JSON alerts use: "Warning", "Informational"...
        return self.name.capitalize()

    @classmethod
    def parse(cls, text: str) -> Priority:
        """Accepts the eight names in any case, and ``info``."""
        key = text.strip().upper()
        found = _ALIASES.get(key)
        if found is None:
            names = ", ".join(p.name.lower() for p in cls)
            raise ValueError(f"unknown priority '{text}' (expected one of: {names})")
        return found

    def at_least(self, threshold: Priority) -> bool:
        """True when this priority is as severe as ``threshold`` or more."""
        return self.value <= threshold.value


_ALIASES: dict[str, Priority] = {p.name: p for p in Priority}
# Falco accepts exactly the eight names, in any case, and "info".
_ALIASES["INFO"] = Priority.INFORMATIONAL

"""An alert as one line of text on a terminal or in a log: ``lanner scan`` and the node
sensor write the same line, so it is defined once, here, beside ``inert``."""

from __future__ import annotations

from typing import TextIO

from deliver.inert import inert
from lanner import Alert


def alert_line(alert: Alert) -> str:
    """Falco's text line for a terminal or a log (scan and sensor): event values can hold
    newlines and escape sequences (a forged alert line, an erased one, a hidden link), so
    they are escaped; ``alert.output`` itself, and the JSON made from it, stay exact."""
    return inert(alert.output)


def write_line(out: TextIO, line: str) -> None:
    """``line`` and a newline on ``out``, even when it holds what is not UTF-8."""
    # A file name or argument that is not UTF-8 arrives as lone surrogates (the sensor decodes
    # with surrogateescape), which a strict UTF-8 stdout refuses: the scan or the sensor
    # would die on one event. Written as \udcff, which in a JSON line is an escape of the
    # very same value; every other line is written unchanged.
    try:
        out.write(line + "\n")
    except UnicodeEncodeError:
        out.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")

"""A secret read from a file (a webhook secret, a PagerDuty routing key): bounded, ASCII,
surrounding whitespace ignored. Errors name the file and what is wrong with it, never
what is in it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def read_secret_file(
    path: str | Path,
    what: str,
    max_bytes: int,
    *,
    form: str = "ASCII text",
    check: Callable[[str], object] | None = None,
) -> str:
    """The file's text, stripped. ValueError ``"<what> file <path>: <why>"`` when it cannot
    be read, is larger than ``max_bytes``, is not ASCII (``"not <form>"``), is empty, or
    ``check`` refuses the text (its ValueError says why, without the text)."""
    p = Path(path)
    where = f"{what} file {p}"
    try:
        with p.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise ValueError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{where}: is a directory") from None
    except OSError as exc:
        raise ValueError(f"{where}: cannot read ({exc.strerror})") from None
    if len(raw) > max_bytes:
        raise ValueError(f"{where}: larger than {max_bytes} bytes")
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{where}: not {form}") from None
    if not text:
        raise ValueError(f"{where}: empty")
    if check is not None:
        try:
            check(text)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return text

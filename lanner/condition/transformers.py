"""Field transformers, declared once: one row per transformer.

The parser reads the names, arities and which arguments may be a ``(...)``
list; the compiler's check pass reads the accepted types and the result type,
and binds the function. Every function takes the arguments' extracted
values (a list argument as a tuple) and returns the transformed value, or
None when it cannot be computed (the comparison is then false, as in Falco).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from lanner.fields import FieldType

TEXT = frozenset({FieldType.STRING, FieldType.FSPATH})


class Shape(Enum):
    """Whether an argument must be a single value, a list, or may be either."""

    SINGLE = "a single value"
    LIST = "a list"
    EITHER = "either"


@dataclass(frozen=True, slots=True)
class Param:
    """One argument position of a transformer.

    ``types``: the value types accepted (None: any); with ``any_list``, a list
    of any type is accepted too. ``literal``: a quoted string or a number may
    stand here.
    """

    types: frozenset[FieldType] | None
    shape: Shape = Shape.SINGLE
    literal: bool = True
    any_list: bool = False

    def accepts(self, t: FieldType, is_list: bool) -> bool:
        return self.types is None or t in self.types or (is_list and self.any_list)


@dataclass(frozen=True, slots=True)
class TransformerDef:
    """One transformer.

    - ``params``: its argument positions; with ``variadic`` the last one repeats.
    - ``min_args``: fewest arguments (the most is ``len(params)`` unless variadic).
    - ``result``: the result's type, None for "the argument's type"; ``result_list``:
      whether it is a list, None for "as the argument".
    - ``per_item``: ``fn`` transforms one value, applied to each item of a list
      argument (one item it cannot transform makes the whole value missing).
    - ``selector``: takes a one-character ``[x]`` after the call, which makes the
      result a single value (``getopt(...)[t]``).
    - ``arity``: the message for a wrong number of arguments.
    """

    name: str
    params: tuple[Param, ...]
    fn: Callable[..., Any]
    arity: str
    min_args: int = 1
    variadic: bool = False
    result: FieldType | None = None
    result_list: bool | None = None
    per_item: bool = False
    selector: bool = False

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.params)

    def param(self, i: int) -> Param | None:
        if i < len(self.params):
            return self.params[i]
        return self.params[-1] if self.variadic else None

    def list_positions(self) -> tuple[int, ...]:
        """The arguments that may be a parenthesised list (those that must be a list)."""
        return tuple(i for i, p in enumerate(self.params) if p.shape is Shape.LIST)

    def misplaced_list(self) -> str:
        """The message for a parenthesised list where this transformer takes none."""
        where = " or ".join(f"the {ordinal(i)}" for i in self.list_positions())
        if not where:
            return f"{self.name}() takes no parenthesised list"
        return f"a parenthesised list can only be {where} argument of {self.name}()"


# --- the functions ------------------------------------------------------------------------

_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _b64_bytes(raw: bytes) -> bytes | None:
    """Decodes base64 with or without its '=' padding; None when it is not base64."""
    body = raw.rstrip(b"=")
    if len(raw) - len(body) > 2 or len(body) % 4 == 1 or not _B64_ALPHABET.issuperset(body):
        return None
    try:
        return base64.b64decode(body + b"=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64(v: Any) -> Any:
    if isinstance(v, bytes):
        return _b64_bytes(v)
    out = _b64_bytes(v.encode("utf-8", "surrogateescape"))
    return None if out is None else out.decode("utf-8", "replace")


def _basename(v: str) -> str:
    return v[v.rfind("/") + 1 :]


def _len(v: Any) -> int:
    if isinstance(v, tuple):
        return len(v)
    return len(v) if isinstance(v, bytes) else len(v.encode("utf-8", "surrogateescape"))


def to_text(v: Any) -> str:
    """A value as the text join() and concat() put together."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _join(sep: Any, items: tuple[Any, ...]) -> str:
    return to_text(sep).join(map(to_text, items))


def _concat(*parts: Any) -> str:
    return "".join(parts)


def getopt(argv: tuple[Any, ...], optstring: Any, selector: str | None = None) -> Any:
    """libsinsp's ``getopt(args, optstring)``: the short options of ``args`` as
    getopt(3) reads them, as a list: each option's letter, followed by its value
    for an option taking one; ``?`` for an option not in ``optstring``.

    Reading stops at ``--`` or at the first word that is not an option; long
    options (``--exec``) are skipped. An option missing its value yields ``""``
    (in place of its letter) and ends the reading. With ``selector`` (the ``[x]``
    form) the result is one value: the last value of option ``x`` (its letter
    for an option without value), or None when ``x`` is absent.
    """
    opts = to_text(optstring)
    valid: set[str] = set()
    with_value: set[str] = set()
    i = 1 if opts.startswith(":") else 0  # ':' changes getopt(3)'s error code only
    while i < len(opts):
        c = opts[i]
        if c != ":":
            valid.add(c)
            if opts[i + 1 : i + 2] == ":":
                with_value.add(c)
                i += 1
        i += 1
    words = [to_text(w) for w in argv]
    out: list[str] = []
    picked: str | None = None
    n = 0
    while n < len(words):
        word = words[n]
        if word == "--":
            break
        if word.startswith("--") and len(word) > 2:
            n += 1
            continue
        if len(word) < 2 or word[0] != "-":
            break
        for k in range(1, len(word)):
            c = word[k]
            if c not in valid:
                if selector is None:
                    out.append("?")
                continue
            match = selector is None or c == selector
            if c not in with_value:
                if match:
                    if selector is None:
                        out.append(c)
                    else:
                        picked = c
                continue
            if k + 1 < len(word):
                value: str | None = word[k + 1 :]
            elif n + 1 < len(words):
                n += 1
                value = words[n]
            else:
                value = None
            if match:
                if selector is not None:
                    picked = "" if value is None else value
                elif value is None:
                    out.append("")
                else:
                    out += (c, value)
            break
        n += 1
    if selector is not None:
        return picked
    return tuple(out)


# --- the registry ---------------------------------------------------------------------------


def _unary(name: str, fn: Callable[[Any], Any], types: frozenset[FieldType]) -> TransformerDef:
    return TransformerDef(
        name,
        (Param(types, Shape.EITHER, literal=False),),
        fn,
        f"transformer '{name}' takes exactly one field argument",
        per_item=True,
    )


TRANSFORMERS: dict[str, TransformerDef] = {
    t.name: t
    for t in (
        _unary("tolower", str.lower, TEXT),
        _unary("toupper", str.upper, TEXT),
        _unary("b64", _b64, TEXT | {FieldType.BYTES}),
        _unary("basename", _basename, TEXT),
        TransformerDef(
            "len",
            (Param(TEXT | {FieldType.BYTES}, Shape.EITHER, literal=False, any_list=True),),
            _len,
            "transformer 'len' takes exactly one field argument",
            result=FieldType.UINT,
            result_list=False,
        ),
        TransformerDef(
            "join",
            (Param(None), Param(None, Shape.LIST)),
            _join,
            "join() takes two arguments: a separator and a list",
            min_args=2,
            result=FieldType.STRING,
            result_list=False,
        ),
        TransformerDef(
            "concat",
            (Param(TEXT),),
            _concat,
            "concat() takes two or more arguments",
            min_args=2,
            variadic=True,
            result=FieldType.STRING,
            result_list=False,
        ),
        TransformerDef(
            "getopt",
            (Param(TEXT, Shape.LIST), Param(TEXT)),
            getopt,
            "getopt() takes two arguments: a list of arguments and an optstring",
            min_args=2,
            result=FieldType.STRING,
            result_list=True,
            selector=True,
        ),
    )
}
"""Every transformer, by name."""

_ORDINALS = ("first", "second", "third")


def ordinal(i: int) -> str:
    return _ORDINALS[i] if i < len(_ORDINALS) else f"#{i + 1}"

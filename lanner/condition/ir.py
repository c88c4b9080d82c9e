"""The checked form of a condition, between the check pass and the emitter.

``lanner.condition.check`` turns a resolved syntax tree into these nodes: every
field bound to its extractor, every constant converted to the value the test
compares with (numbers parsed, sets built, regexes compiled), every operator
known to be valid for its type. Nothing here can fail any more: the emitter
only chooses how to write each node as Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from lanner.event import FieldKey
from lanner.fields import Extractor, FieldType


class Multi(Enum):
    """How a field holding several values under one name is compared."""

    ANY_ITEM = "any"  # holds when one item holds (the ancestors of proc.aname)
    EITHER_END = "either"  # the same, except '!=', which needs every item to differ (fd.ip)


@dataclass(frozen=True, slots=True)
class BoundValue:
    """A field expression bound to its source: how to read it, and what it yields.

    ``test`` is set for a field that is a test rather than a value (``FieldDef.test``,
    its argument bound); ``print_only`` for a field conditions cannot name.
    """

    key: FieldKey
    type: FieldType
    is_list: bool
    label: str
    multi: Multi | None = None
    test: Callable[[str | None], Extractor] | None = None
    print_only: bool = False


class Form(Enum):
    """How a value is compared, decided by the check pass from its type."""

    PLAIN = "plain"  # Python's own ==, <, in, str methods
    BYTES = "bytes"  # as bytes (a string value is encoded first)
    IP = "ip"  # an address against networks


@dataclass(frozen=True, slots=True)
class Exists:
    value: BoundValue


@dataclass(frozen=True, slots=True)
class Test:
    """``value op const`` on a single value.

    ``op`` is the operator as Falco spells it, with ``intersects`` on a single
    value written ``in``. ``const`` is ready to use: a frozenset for ``in``, a
    tuple of networks for an IP ``in``/``=``/``!=``, a matcher function for
    ``pmatch``, a compiled pattern for ``glob``/``iglob``/``regex``, lowered text
    for ``icontains``, bytes for the byte operators, else the converted value.
    """

    value: BoundValue
    op: str
    const: Any
    form: Form = Form.PLAIN


@dataclass(frozen=True, slots=True)
class OfTest:
    """``value op oneof/anyof/allof (a, b)``: one Test per item, on the same value."""

    value: BoundValue
    modifier: str
    tests: tuple[Test, ...]


@dataclass(frozen=True, slots=True)
class EachItem:
    """A test applied to each item of a multi-valued field; with ``every``, all
    items must pass (``fd.ip != x``), else one is enough."""

    value: BoundValue
    test: Test | OfTest
    every: bool


@dataclass(frozen=True, slots=True)
class ListTest:
    """A list field ``in`` / ``intersects`` a set of constants (networks with IP)."""

    value: BoundValue
    op: str
    const: Any
    form: Form = Form.PLAIN


@dataclass(frozen=True, slots=True)
class FieldTest:
    """``value op other``: a field compared with another field expression."""

    value: BoundValue
    op: str
    other: BoundValue
    form: Form = Form.PLAIN


@dataclass(frozen=True, slots=True)
class Conj:
    children: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class Disj:
    children: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class Neg:
    child: Cond


@dataclass(frozen=True, slots=True)
class Truth:
    value: bool


Check = Exists | Test | OfTest | EachItem | ListTest | FieldTest
Cond = Conj | Disj | Neg | Truth | Check

"""Syntax tree of a Falco condition.

Nodes are small frozen dataclasses; later stages dispatch on type with
``match``. Every node carries the position where it starts, so any stage can
point at the offending token: parsed by the loader, that is the file, line and
column in the YAML file; a node the loader builds (a list's items, an
exception's checks) carries the position of what the user wrote for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lanner.errors import Location


@dataclass(frozen=True, slots=True)
class Pos:
    """Where a node starts: ``offset`` (0-based) in the condition text, and the
    1-based line and column, in ``file`` when the parser was told where the text
    lies in it, else in the text itself. Line 0: nowhere (a node built by code)."""

    offset: int = 0
    line: int = 1
    col: int = 1
    file: str | None = None

    @classmethod
    def at(cls, location: Location) -> Pos:
        """The position of something written at ``location`` (not condition text)."""
        return cls(0, location.line, location.col, location.file)

    @property
    def location(self) -> Location | None:
        return Location(self.file, self.line, self.col) if self.line > 0 else None


NOPOS = Pos(0, 0, 0)


# --- values and field expressions -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A right-hand-side value: bare or quoted string, number, as written (unescaped)."""

    value: str
    pos: Pos = field(default=NOPOS, compare=False)


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field, with its optional argument: ``proc.aname[2]``, ``jevt.value[/a/b]``."""

    name: str
    arg: str | None = None
    pos: Pos = field(default=NOPOS, compare=False)

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}[{self.arg}]"


@dataclass(frozen=True, slots=True)
class Transform:
    """A transformer applied to values: ``tolower(fd.name)``, ``join(',', ...)``.

    ``args`` are field expressions (FieldRef or Transform), Literals and
    ``(...)`` lists (ArgList), where the transformer takes them
    (``lanner.condition.transformers``). ``arg`` is the ``[x]`` written after
    the call: ``getopt(proc.args, "t:")[t]``.
    """

    name: str
    args: tuple[TransformArg, ...]
    pos: Pos = field(default=NOPOS, compare=False)
    arg: str | None = None


@dataclass(frozen=True, slots=True)
class ArgList:
    """A parenthesised list given to a transformer: ``join("-", (a.b, "x"))``."""

    items: tuple[FieldRef | Transform | Literal, ...]
    pos: Pos = field(default=NOPOS, compare=False)


TransformArg = FieldRef | Transform | Literal | ArgList


ValueExpr = FieldRef | Transform


@dataclass(frozen=True, slots=True)
class FieldValue:
    """A field used as right-hand side: ``val(proc.pname)``."""

    expr: ValueExpr
    pos: Pos = field(default=NOPOS, compare=False)


@dataclass(frozen=True, slots=True)
class ListLit:
    """``(a, "b", c)``. Items naming a YAML list are expanded by the loader."""

    items: tuple[Literal, ...]
    pos: Pos = field(default=NOPOS, compare=False)


@dataclass(frozen=True, slots=True)
class ListRef:
    """A bare identifier as a list value: ``proc.name in shell_binaries``."""

    name: str
    pos: Pos = field(default=NOPOS, compare=False)


Rhs = Literal | ListLit | ListRef | FieldValue | ValueExpr


# --- boolean structure ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    """``lhs op [modifier] rhs``; ``rhs`` is None for unary ``exists``.

    ``op`` is normalised: ``==`` becomes ``=``. ``modifier`` is one of
    ``oneof``, ``anyof``, ``allof`` or None.
    """

    lhs: ValueExpr
    op: str
    rhs: Rhs | None = None
    modifier: str | None = None
    pos: Pos = field(default=NOPOS, compare=False)


@dataclass(frozen=True, slots=True)
class MacroRef:
    """A bare identifier where a check stands: a macro reference."""

    name: str
    pos: Pos = field(default=NOPOS, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    child: Expr
    pos: Pos = field(default=NOPOS, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Expr, ...]
    pos: Pos = field(default=NOPOS, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Expr, ...]
    pos: Pos = field(default=NOPOS, compare=False)


@dataclass(frozen=True, slots=True)
class Const:
    """A constant truth value; produced by the loader (empty exception
    lists, disabled macros), never by the parser."""

    value: bool
    pos: Pos = field(default=NOPOS, compare=False)


Expr = And | Or | Not | Compare | MacroRef | Const

Node = Expr | Rhs | ArgList
"""Any node of the syntax tree (``lanner.condition.walk`` knows their children)."""

# Operators, as the parser returns them.
UNARY_OPS = frozenset({"exists"})
NUM_OPS = frozenset({"<", "<=", ">", ">="})
STR_OPS = frozenset(
    {
        "=",
        "!=",
        "contains",
        "icontains",
        "bcontains",
        "startswith",
        "bstartswith",
        "endswith",
        "glob",
        "iglob",
        "regex",
    }
)
LIST_OPS = frozenset({"in", "intersects", "pmatch"})
MODIFIERS = frozenset({"oneof", "anyof", "allof"})

"""Compiles resolved conditions of one source into Python functions.

The public entry of the two passes: ``lanner.condition.check`` binds fields
and checks types, operators and values into the checked form
(``lanner.condition.ir``), raising every error with the node where it was
written; ``lanner.condition.emit`` writes that form as Python source, one
function per rule or per group of rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lanner.condition import emit, ir
from lanner.condition.ast import Expr, ValueExpr
from lanner.condition.check import Binder, Checker
from lanner.condition.ir import BoundValue
from lanner.event import Event, FieldKey
from lanner.fields import Source

__all__ = ["BoundValue", "Compiler", "Predicate"]

Predicate = emit.Predicate


class Compiler:
    """Compiles conditions and value expressions of one source."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._binder = Binder(source)
        self._checker = Checker(self._binder)
        # id(condition) -> (condition, its checked form). Holding the condition keeps
        # its id from being reused while the entry lives.
        self._checked: dict[int, tuple[Expr, ir.Cond]] = {}

    def bind(self, expr: ValueExpr) -> BoundValue:
        """Binds a field or transformer expression; one FieldKey per distinct expression."""
        return self._binder.bind(expr)

    def check(self, expr: Expr) -> ir.Cond:
        """The checked form of ``expr``; raises the first error it holds."""
        found = self._checked.get(id(expr))
        if found is not None and found[0] is expr:
            return found[1]
        cond = self._checker.check(expr)
        self._checked[id(expr)] = (expr, cond)
        return cond

    def compile(self, expr: Expr, name: str = "cond") -> Predicate:
        return emit.predicate(self.check(expr), name)

    def compile_group(
        self, exprs: list[Expr], seeds: tuple[FieldKey, ...], first: bool, name: str = "group"
    ) -> Callable[..., Any]:
        """One function evaluating several conditions in order (see ``emit.group``)."""
        return emit.group([self.check(e) for e in exprs], seeds, first, name)

    def compile_values(self, keys: tuple[FieldKey, ...]) -> Callable[[Event], tuple[Any, ...]]:
        """A function returning the values of ``keys`` for an event, as a tuple."""
        return emit.values(keys)

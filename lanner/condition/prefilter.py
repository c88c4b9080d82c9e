"""A rule's necessary condition over the fields known early: what a pre-filter tests.

A producer that can give some fields of an event cheaply (the sensor: the syscall's own
type, arguments, result and fd, before it builds the process part) asks whether any rule
can match the event at all, and skips the rest of the work when none can.
:func:`necessary` rewrites a condition into one that reads only those fields and holds
whenever the condition holds: every comparison that reads another field is replaced by
"may be either", which becomes ``true`` or ``false`` depending on which side of a ``not``
it stands.

Each node yields two conditions: one implied by the node (where it may be true) and one
implied by its negation (where it may be false); ``not`` swaps them, ``and``/``or``
combine them as De Morgan says, and a comparison over known fields is itself and its
negation. So ``not (proc.name = sshd and fd.name = /etc/shadow)`` may be true anywhere
(``proc.name`` may differ), while ``fd.name = /etc/shadow and not proc.name = sshd``
still needs ``fd.name = /etc/shadow``. Exceptions are ``and not (...)`` clauses by the
time a condition gets here (the loader expands them, and macros and lists), so they are
handled like any other ``not``.

The result is a condition like any other, compiled by the same compiler: evaluated on an
early document, it is false only where the rule cannot match the full one, provided each
known field reads the same from both. Its ``and``/``or`` operands are put cheapest first
(equality and set tests before globs, regexes and transformers): the result only decides
and changes nothing, so any order gives the same answer, and the pre-filter runs on every
event.
"""

from __future__ import annotations

from collections.abc import Callable

from lanner.condition.ast import And, Compare, Const, Expr, FieldRef, Node, Not, Or, Transform
from lanner.condition.walk import fold, is_boolean, preorder

__all__ = ["FALSE", "TRUE", "necessary"]

TRUE = Const(True)
FALSE = Const(False)


def necessary(expr: Expr, known: Callable[[FieldRef], bool]) -> Expr:
    """A condition over the fields ``known`` accepts that holds wherever ``expr`` holds.

    ``TRUE`` when nothing about the known fields rules ``expr`` out (the condition reads
    only other fields, or reads known ones only where a negation hides them); ``FALSE``
    when ``expr`` can never hold.
    """

    costs: dict[int, int] = {}  # id -> cost of a node built here (all alive while folding)

    def cost(e: Expr) -> int:
        found = costs.get(id(e))
        if found is not None:
            return found
        c = _leaf_cost(e) if isinstance(e, Compare) else sum(cost(k) for k in _operands(e))
        if not isinstance(e, Compare | Const):
            costs[id(e)] = c
        return c

    def all_of(parts: list[Expr]) -> Expr:
        return _join(parts, FALSE, TRUE, And, cost)

    def any_of(parts: list[Expr]) -> Expr:
        return _join(parts, TRUE, FALSE, Or, cost)

    def combine(node: Node, kids: list[tuple[Expr, Expr]]) -> tuple[Expr, Expr]:
        match node:
            case And():
                return all_of([k[0] for k in kids]), any_of([k[1] for k in kids])
            case Or():
                return any_of([k[0] for k in kids]), all_of([k[1] for k in kids])
            case Not():
                return kids[0][1], kids[0][0]
            case Const(value=value):
                return (TRUE, FALSE) if value else (FALSE, TRUE)
            case Compare() if _reads_only(node, known):
                return node, Not(node, node.pos)
        # A comparison reading an unknown field, or anything else: may be true or false.
        return TRUE, TRUE

    may_be_true, _may_be_false = fold(expr, combine, is_boolean)
    return may_be_true


def _reads_only(c: Compare, known: Callable[[FieldRef], bool]) -> bool:
    """Every field the comparison reads (either side, inside transformers) is known."""
    return all(known(n) for n in preorder(c) if isinstance(n, FieldRef))


def _join(
    parts: list[Expr],
    absorbing: Const,
    neutral: Const,
    kind: type[And] | type[Or],
    cost: Callable[[Expr], int],
) -> Expr:
    """``and`` (``or``) of ``parts``: false (true) if one is, without the true (false)
    ones, cheapest first."""
    kept: list[Expr] = []
    for p in parts:
        if p is absorbing:
            return absorbing
        if p is not neutral:
            kept.append(p)
    if not kept:
        return neutral
    if len(kept) == 1:
        return kept[0]
    kept.sort(key=cost)  # stable: equal costs keep the rule's order
    return kind(tuple(kept))


def _operands(e: Expr) -> tuple[Expr, ...]:
    match e:
        case And(children=cs) | Or(children=cs):
            return cs
        case Not(child=c):
            return (c,)
    return ()


# Relative cost of one comparison, by operator: a dict lookup or a string method is
# cheap, a pattern match is not.
_OP_COST = {
    "contains": 2,
    "bcontains": 2,
    "startswith": 2,
    "bstartswith": 2,
    "endswith": 2,
    "icontains": 3,
    "glob": 8,
    "iglob": 8,
    "regex": 8,
    "pmatch": 8,
}


def _leaf_cost(c: Compare) -> int:
    base = _OP_COST.get(c.op, 1) * (4 if c.modifier is not None else 1)
    return base + sum(4 for n in preorder(c) if isinstance(n, Transform))

"""Walking the syntax tree of a condition: the one place that knows its shapes.

``children`` gives the syntax children of any node; every walker (the
loader's expansion and measures, event-type inference, the compiler's
passes) goes through it. The iterators and ``fold`` use an explicit stack,
never recursion: a rule's tree, with macros inlined, can be deeper than
Python's recursion limit allows.

Trees share subtrees (a macro's tree is referenced by every rule that uses
it). ``fold`` and ``rebuild_bottom_up`` visit a shared subtree once; the
iterators visit it at every use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from lanner.condition.ast import (
    And,
    ArgList,
    Compare,
    FieldValue,
    ListLit,
    Node,
    Not,
    Or,
    Transform,
)

__all__ = [
    "Node",
    "children",
    "fold",
    "is_boolean",
    "postorder",
    "preorder",
    "rebuild_bottom_up",
    "with_children",
]

T = TypeVar("T")


def children(node: Node) -> tuple[Node, ...]:
    """The syntax children of ``node``, in source order (empty for a leaf)."""
    match node:
        case And(children=cs) | Or(children=cs):
            return cs
        case Not(child=c):
            return (c,)
        case Compare(lhs=lhs, rhs=rhs):
            return (lhs,) if rhs is None else (lhs, rhs)
        case Transform(args=args):
            return args
        case ArgList(items=items):
            return items
        case FieldValue(expr=e):
            return (e,)
        case ListLit(items=items):
            return items
    return ()


def is_boolean(node: Node) -> bool:
    """``node`` is and/or/not: its children are conditions, not operands."""
    return isinstance(node, And | Or | Not)


def preorder(root: Node, descend: Callable[[Node], bool] | None = None) -> Iterator[Node]:
    """Every node under ``root`` (itself included), parents before children, in
    source order. ``descend(node)`` false: the node is yielded, its children are not."""
    stack: list[Node] = [root]
    pop, extend = stack.pop, stack.extend
    while stack:
        node = pop()
        yield node
        if descend is None or descend(node):
            kids = children(node)
            if kids:
                extend(reversed(kids))


def postorder(root: Node, descend: Callable[[Node], bool] | None = None) -> Iterator[Node]:
    """Every node under ``root`` (itself included), children before parents, in
    source order. ``descend`` as in ``preorder``."""
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        if ready:
            yield node
            continue
        kids = children(node) if descend is None or descend(node) else ()
        stack.append((node, True))
        stack.extend((k, False) for k in reversed(kids))


def fold(
    root: Node,
    combine: Callable[[Node, list[T]], T],
    descend: Callable[[Node], bool] | None = None,
    memo: dict[int, T] | None = None,
) -> T:
    """Computes ``combine(node, [results of its children])`` bottom-up, without
    recursion, once per distinct node (a subtree shared by several parents is
    computed once). ``descend(node)`` false: ``node`` is combined with no children.

    ``memo`` holds results by ``id(node)`` across calls (shared subtrees of several
    roots are computed once); whoever passes it keeps those nodes alive, since
    CPython reuses the id of a freed object.
    """
    # Without a memo, every node stays alive under ``root`` while this runs.
    done: dict[int, T] = {} if memo is None else memo
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        key = id(node)
        if key in done:
            continue
        kids = children(node) if descend is None or descend(node) else ()
        if kids and not ready:
            stack.append((node, True))
            stack.extend((k, False) for k in reversed(kids) if id(k) not in done)
            continue
        done[key] = combine(node, [done[id(k)] for k in kids])
    return done[id(root)]


def with_children(node: Node, kids: tuple[Node, ...]) -> Node:
    """``node`` with its children replaced by ``kids`` (same shape as ``children``);
    ``node`` itself when nothing changed."""
    old = children(node)
    if len(old) == len(kids) and all(a is b for a, b in zip(old, kids, strict=True)):
        return node
    match node:
        case And(pos=pos):
            return And(kids, pos)  # type: ignore[arg-type]
        case Or(pos=pos):
            return Or(kids, pos)  # type: ignore[arg-type]
        case Not(pos=pos):
            return Not(kids[0], pos)  # type: ignore[arg-type]
        case Compare(op=op, modifier=mod, pos=pos):
            rhs = kids[1] if len(kids) > 1 else None
            return Compare(kids[0], op, rhs, mod, pos)  # type: ignore[arg-type]
        case Transform(name=name, pos=pos, arg=arg):
            return Transform(name, kids, pos, arg)  # type: ignore[arg-type]
        case ArgList(pos=pos):
            return ArgList(kids, pos)  # type: ignore[arg-type]
        case FieldValue(pos=pos):
            return FieldValue(kids[0], pos)  # type: ignore[arg-type]
        case ListLit(pos=pos):
            return ListLit(kids, pos)  # type: ignore[arg-type]
    raise ValueError(f"{type(node).__name__} has no children to replace")


def rebuild_bottom_up(
    root: Node,
    rewrite: Callable[[Node], Node],
    descend: Callable[[Node], bool] | None = None,
) -> Node:
    """A copy of ``root`` where every node is first rebuilt over its rewritten
    children, then passed to ``rewrite`` (which returns it or a replacement).
    Unchanged subtrees are kept, not copied; ``descend`` as in ``fold``."""

    def combine(node: Node, kids: list[Node]) -> Node:
        return rewrite(with_children(node, tuple(kids)) if kids else node)

    return fold(root, combine, descend)

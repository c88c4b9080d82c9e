"""The emitter: checked conditions (``ir``) in, generated Python functions out.

Each check becomes one Python expression, and a whole condition the body of
one function, so ``and``/``or`` short-circuit natively; every constant was
prepared by the check pass and is bound into the function's namespace.

A value may appear several times in the expression for one check (``v is not
None and v != k``). Every template below names its first appearance ``f`` and
the later ones ``v``: in a group function ``f`` is where the field is read into
its local and ``v`` that local; elsewhere both are the event's cached value.
Python evaluates left to right, so the first appearance is read first.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable
from typing import Any

from lanner.condition import ir
from lanner.condition.ir import Form
from lanner.condition.patterns import glob_regex
from lanner.event import Event, FieldKey
from lanner.fields import InlinePath

Predicate = Callable[[Event], bool]

_UNSET = object()
_counter = itertools.count()


# --- what generated code calls ------------------------------------------------------------


def _ip_in_nets(value: Any, nets: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(value if isinstance(value, str) else str(value))
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in nets)


def _same_ip(a: Any, b: Any) -> bool:
    try:
        return ipaddress.ip_address(str(a)) == ipaddress.ip_address(str(b))
    except ValueError:
        return False


def _as_bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogateescape")


def _items_of(v: Any) -> Any:
    return v if isinstance(v, tuple | list) else (v,)


def _any_item(pred: Callable[[Any], bool], v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, tuple | list):
        return any(pred(i) for i in v)
    return pred(v)


def _every_item(pred: Callable[[Any], bool], v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, tuple | list):
        return bool(v) and all(pred(i) for i in v)
    return pred(v)


def _inline_path(key: FieldKey) -> InlinePath | None:
    """The path when ``key``'s value is "the string at this path of the document"
    (its extractor is an ``InlinePath``), else None."""
    spec = key.extract
    return spec if isinstance(spec, InlinePath) else None


# --- one generated function -------------------------------------------------------------


class _Function:
    """The namespace and the state of one function being generated.

    ``locals`` is None for a plain predicate (fields read through the event's
    cache); in a group function it maps each field read to its local variable,
    and tracks which are surely assigned at the point being generated.
    """

    def __init__(self, locals_: dict[FieldKey, str] | None = None) -> None:
        self.ns: dict[str, Any] = {"_U": _UNSET} if locals_ is not None else {}
        self.locals = locals_
        self.seeds = frozenset(locals_) if locals_ is not None else frozenset()
        self.assigned: set[FieldKey] = set()  # surely read before this point
        self.seen: set[FieldKey] = set()  # read somewhere before this point
        self.guards: dict[str | None, str] = {}  # guard key -> local with the guarded doc

    def const(self, value: Any) -> str:
        name = f"k{len(self.ns)}"
        self.ns[name] = value
        return name

    def lam(self, body: str) -> str:
        # The body is our own generated code.
        return self.const(eval(f"lambda x: {body}", self.ns))

    def read(self, key: FieldKey) -> str:
        """The expression computing ``key``'s value from the event (no cache)."""
        return self.inline(key) or f"{self.const(key.extract)}(ev)"

    def access(self, key: FieldKey) -> tuple[str, str]:
        """The expressions for the first and the later appearances of ``key``'s value."""
        if self.locals is None:
            text = f"ev[{self.const(key)}]"
            return text, text
        var = self.locals.get(key)
        if var is None:
            var = self.locals[key] = f"v{len(self.locals)}"
        elif key in self.seeds or key in self.assigned:
            return var, var
        read = self.read(key)
        if key in self.seen:
            first = f"({var} if {var} is not _U else ({var} := {read}))"
        else:
            # No code before this point can have read it: no need to check.
            self.seen.add(key)
            first = f"({var} := {read})"
        return first, var

    def inline(self, key: FieldKey) -> str | None:
        """Inline code for a field that is "the string at this path of the document":
        it takes that string straight from the document and leaves every other case
        (missing, not a string, odd shapes) to the extractor itself, so results are
        the extractor's exactly."""
        spec = _inline_path(key)
        if spec is None or not 1 <= len(spec.keys) <= 3:
            return None
        guard, path = spec.guard, spec.keys
        g = self.guards.setdefault(guard, f"g{len(self.guards)}")
        x = self.const(spec.read)  # the extractor proper, not its InlinePath wrapper
        steps = [f"type(_i1 := {g}.get({path[0]!r})) is dict"]
        for depth, k in enumerate(path[1:-1], start=2):
            steps.append(f"type(_i{depth} := _i{depth - 1}.get({k!r})) is dict")
        if len(path) == 1:
            last = f"type(_t := {g}.get({path[0]!r})) is str"
            steps = []
        else:
            last = f"type(_t := _i{len(path) - 1}.get({path[-1]!r})) is str"
        cond = " and ".join([f"{g} is not None", *steps, last])
        return f"(_t if {cond} else {x}(ev))"

    def prologue(self) -> list[str]:
        """Lines binding each guard local: the document if it is a dict holding the key."""
        if not self.guards:
            return []
        lines = ["    d = ev.doc", "    dd = type(d) is dict"]
        for key, var in self.guards.items():
            if key is None:
                lines.append(f"    {var} = d if dd else None")
            else:
                lines.append(f"    {var} = d if dd and {key!r} in d else None")
        return lines

    # --- conditions ---

    def cond(self, c: ir.Cond) -> str:
        match c:
            case ir.Conj(children=children):
                return "(" + " and ".join(self._chain(children)) + ")"
            case ir.Disj(children=children):
                return "(" + " or ".join(self._chain(children)) + ")"
            case ir.Neg(child=child):
                return f"(not {self.cond(child)})"
            case ir.Truth(value=value):
                return "True" if value else "False"
        code = self.check(c)
        # Every check reads its left side first, whatever else it skips.
        self.assigned.add(c.value.key)
        return code

    def _chain(self, children: tuple[ir.Cond, ...]) -> list[str]:
        """The operands of ``and``/``or``, tracking which fields are surely read.

        Operand i only runs after operands 0..i-1 ran, so it can use what they
        read as plain locals; after the chain, only the first operand surely ran.
        """
        parts: list[str] = []
        after_first: set[FieldKey] | None = None
        for c in children:
            parts.append(self.cond(c))
            if after_first is None:
                after_first = set(self.assigned)
        if after_first is not None:
            self.assigned = after_first
        return parts

    def check(self, c: ir.Check) -> str:
        f, v = self.access(c.value.key)
        match c:
            case ir.Exists():
                return f"({f} is not None)"
            case ir.Test():
                return self.test(c, f, v)
            case ir.OfTest():
                return self.of_test(c, f, v)
            case ir.EachItem(test=test, every=every):
                if isinstance(test, ir.Test):
                    lam = self.lam(self.test(test, "x", "x"))
                else:
                    lam = self.lam(self.of_test(test, "x", "x"))
                fk = self.const(_every_item if every else _any_item)
                return f"{fk}({lam}, {f})"
            case ir.ListTest():
                return self.list_test(c, f, v)
            case ir.FieldTest():
                return self.field_test(c, f, v)
        raise AssertionError(c)

    def test(self, t: ir.Test, f: str, v: str) -> str:
        op = t.op
        if t.form is Form.IP:
            fk = self.const(_ip_in_nets)
            neg = "not " if op == "!=" else ""
            return f"({f} is not None and {neg}{fk}({v}, {self.const(t.const)}))"
        k = self.const(t.const)
        if t.form is Form.BYTES:
            b = f"{self.const(_as_bytes)}({v})"
            body = {
                "in": f"{b} in {k}",
                "=": f"{b} == {k}",
                "!=": f"{b} != {k}",
                "contains": f"{k} in {b}",
                "bcontains": f"{k} in {b}",
                "startswith": f"{b}.startswith({k})",
                "bstartswith": f"{b}.startswith({k})",
                "endswith": f"{b}.endswith({k})",
            }[op]
            return f"({f} is not None and {body})"
        if op == "in":
            return f"({f} in {k})"
        if op == "=":
            return f"({f} == {k})"
        if op in ("!=", "<", "<=", ">", ">="):
            return f"({f} is not None and {v} {op} {k})"
        body = {
            "pmatch": f"{k}({v})",
            "contains": f"{k} in {v}",
            "icontains": f"{k} in {v}.lower()",
            "startswith": f"{v}.startswith({k})",
            "endswith": f"{v}.endswith({k})",
            "glob": f"{k}.fullmatch({v}) is not None",
            "iglob": f"{k}.fullmatch({v}) is not None",
            "regex": f"{k}.fullmatch({v}) is not None",
        }[op]
        return f"({f} is not None and {body})"

    def of_test(self, t: ir.OfTest, f: str, v: str) -> str:
        # One list of booleans, one per item: oneof counts them.
        lam = self.lam(f"[{', '.join(self.test(i, 'x', 'x') for i in t.tests)}]")
        if t.modifier == "anyof":
            agg = f"any({lam}({v}))"
        elif t.modifier == "allof":
            agg = f"all({lam}({v}))"
        else:
            agg = f"sum({lam}({v})) == 1"
        return f"({f} is not None and {agg})"

    def list_test(self, t: ir.ListTest, f: str, v: str) -> str:
        k = self.const(t.const)
        if t.form is Form.IP:
            fk = self.const(_ip_in_nets)
            agg = "all" if t.op == "in" else "any"
            return f"({f} is not None and {agg}({fk}(i, {k}) for i in {v}))"
        if t.op == "in":
            return f"({f} is not None and {k}.issuperset({v}))"
        return f"({f} is not None and not {k}.isdisjoint({v}))"

    def field_test(self, t: ir.FieldTest, f: str, v: str) -> str:
        # The left side is read first: from here on it is the plain local.
        self.assigned.add(t.value.key)
        g, w = self.access(t.other.key)
        guard = f"{f} is not None and {g} is not None"
        op = t.op
        if op in ("in", "intersects"):
            wl = f"{self.const(_items_of)}({w})"
            if t.value.is_list:
                test = (
                    f"set({v}).issubset({wl})" if op == "in" else f"not set({v}).isdisjoint({wl})"
                )
            else:
                test = f"{v} in {wl}"
            return f"({guard} and {test})"
        if t.form is Form.IP and op in ("=", "!="):
            fk = self.const(_same_ip)
            return f"({guard} and {'not ' if op == '!=' else ''}{fk}({v}, {w}))"
        if op in ("glob", "iglob"):
            gk = self.const(glob_regex)
            icase = ", True" if op == "iglob" else ""
            return f"({guard} and {gk}({w}{icase}).fullmatch({v}) is not None)"
        body = {
            "=": f"{v} == {w}",
            "!=": f"{v} != {w}",
            "<": f"{v} < {w}",
            "<=": f"{v} <= {w}",
            ">": f"{v} > {w}",
            ">=": f"{v} >= {w}",
            "contains": f"{w} in {v}",
            "bcontains": f"{w} in {v}",
            "icontains": f"{w}.lower() in {v}.lower()",
            "startswith": f"{v}.startswith({w})",
            "bstartswith": f"{v}.startswith({w})",
            "endswith": f"{v}.endswith({w})",
        }[op]
        return f"({guard} and {body})"


# --- the three kinds of generated functions ---------------------------------------------


def predicate(cond: ir.Cond, name: str = "cond") -> Predicate:
    """One rule's condition as a function of the event."""
    fn_ = _Function()
    body = fn_.cond(cond)
    fname = f"_lanner_{next(_counter)}"
    src = f"def {fname}(ev):\n    return {body}\n"
    exec(compile(src, f"<rule {name}>", "exec"), fn_.ns)
    fn: Predicate = fn_.ns[fname]
    fn.__doc__ = body  # kept for debugging: `lanner rules list --debug`
    return fn


def group(
    conds: list[ir.Cond], seeds: tuple[FieldKey, ...], first: bool, name: str = "group"
) -> Callable[..., Any]:
    """One function evaluating several conditions in order on one event.

    ``group(ev, *seed_values)`` returns the index of the first condition that
    holds (-1 if none) when ``first``, else the list of indices that hold.
    Each field is extracted at most once, into a local variable, by calling
    its extractor directly: this is the engine's hot path, and locals are
    several times cheaper than the event's cache. ``seeds`` are fields the
    caller already extracted (the index fields), passed in as arguments.
    """
    locals_ = {k: f"s{i}" for i, k in enumerate(seeds)}
    fn_ = _Function(locals_)
    bodies = [fn_.cond(c) for c in conds]
    local_vars = [v for k, v in locals_.items() if k not in fn_.seeds]
    lines = [f"def {name}(ev{''.join(f', s{i}' for i in range(len(seeds)))}):"]
    lines += fn_.prologue()
    if local_vars:
        lines.append("    " + " = ".join(local_vars) + " = _U")
    if first:
        for i, b in enumerate(bodies):
            lines.append(f"    if {b}:\n        return {i}")
        lines.append("    return -1")
    else:
        lines.append("    hits = []")
        for i, b in enumerate(bodies):
            lines.append(f"    if {b}:\n        hits.append({i})")
        lines.append("    return hits")
    exec(compile("\n".join(lines) + "\n", f"<rules {name}>", "exec"), fn_.ns)
    fn: Callable[..., Any] = fn_.ns[name]
    return fn


def values(keys: tuple[FieldKey, ...]) -> Callable[[Event], tuple[Any, ...]]:
    """A function returning the values of ``keys`` for an event, as a tuple."""
    fn_ = _Function()
    exprs = [fn_.read(k) for k in keys]
    lines = ["def values(ev):", *fn_.prologue()]
    lines.append("    return (" + "".join(f"{e}, " for e in exprs) + ")")
    exec(compile("\n".join(lines) + "\n", "<index values>", "exec"), fn_.ns)
    fn: Callable[[Event], tuple[Any, ...]] = fn_.ns["values"]
    return fn

"""Compiles a resolved condition tree into one Python function per rule.

The tree reaching here has no macros and no list names left (the loader
resolved them). Each comparison becomes a Python expression over
``ev[key]`` -- the event's lazily extracted, cached field value -- and the
whole condition becomes the body of one generated function, so ``and``/``or``
short-circuit natively and every constant (sets, compiled regexes, parsed
numbers) is prepared once here, never per event.

Falco's rules, as libsinsp applies them:

- a field that cannot be extracted (``None``) makes its comparison false,
  for every operator, ``!=`` included (``not (f = x)`` is then true);
- which operators a field accepts depends on its type: strings take every
  operator (``<`` and friends compare as ``strcmp``), numbers take ``=``,
  ``!=``, the orderings, ``in`` and ``intersects``, booleans and addresses
  only ``=``, ``!=``, ``in`` and ``intersects``, byte buffers add
  ``contains``, ``startswith``, ``endswith``, ``bcontains`` and
  ``bstartswith``; list fields take ``exists``, ``in`` and ``intersects``;
- ``regex`` is RE2 in POSIX mode, matched against the whole value; ``glob``
  is ``fnmatch(3)`` without flags; ``pmatch`` matches whole path components,
  each of which may be a glob.

Two kinds of syscall fields hold several values under one name and are
compared item by item: ``proc.aname`` and the other ancestor fields without
an index hold when any ancestor matches (``!=`` included), and ``fd.ip``,
``fd.net``, ``fd.port``, ``fd.proto`` hold when either end matches, except
``!=``, which needs both ends to differ.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import re2

from lanner.condition.ast import (
    And,
    Compare,
    Const,
    Expr,
    FieldRef,
    FieldValue,
    ListLit,
    ListRef,
    Literal,
    MacroRef,
    Not,
    Or,
    Transform,
    ValueExpr,
)
from lanner.errors import CompileError, FieldArgumentError, LannerError, Location, UnknownFieldError
from lanner.event import Event, FieldKey
from lanner.fields import FLAG_ANY_ANCESTOR, FLAG_EITHER_END, FieldType, Source

Predicate = Callable[[Event], bool]

# How a field holding several values is compared: "any" holds when one item
# holds; "either" is the same except that '!=' needs every item to differ.
ANY_ITEM = "any"
EITHER_END = "either"


@dataclass(frozen=True, slots=True)
class BoundValue:
    """A field expression bound to its source: how to read it, and what it yields."""

    key: FieldKey
    type: FieldType
    is_list: bool
    label: str
    multi: str | None = None  # ANY_ITEM, EITHER_END or None for a plain value


def _err(cls: type[LannerError], message: str, node: Any) -> LannerError:
    pos = getattr(node, "pos", None)
    loc = Location(None, pos.line, pos.col) if pos is not None else None
    err = cls(message, loc)
    err.node = node  # type: ignore[attr-defined]  # the engine maps it back to the file
    return err


# --- operators per type -----------------------------------------------------------------

_ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_TEXT = frozenset({FieldType.STRING, FieldType.FSPATH})
_IP = frozenset({FieldType.IPADDR, FieldType.IPNET})
_BUFFER_OPS = frozenset(
    {
        "=",
        "!=",
        "contains",
        "startswith",
        "endswith",
        "bcontains",
        "bstartswith",
        "in",
        "intersects",
    }
)
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "intersects"})
_EQUALITY_OPS = frozenset({"=", "!=", "in", "intersects"})


def _supports(t: FieldType, op: str) -> bool:
    """Whether Falco accepts ``op`` on a single value of type ``t``."""
    if op == "exists":
        return True
    if t in _TEXT:
        return op not in ("bcontains", "bstartswith")
    if t is FieldType.BYTES:
        return op in _BUFFER_OPS
    if t.is_numeric:
        return op in _NUMERIC_OPS
    if t is FieldType.FLAGS:  # rendered flag names: compared as text
        return op not in ("bcontains", "bstartswith")
    return op in _EQUALITY_OPS  # bool, ipaddr, ipnet


def _check_op(op: str, b: BoundValue, node: Any) -> None:
    if not _supports(b.type, op):
        raise _err(
            CompileError,
            f"operator '{op}' is not supported for {b.type.value} field '{b.label}'",
            node,
        )


def _family(t: FieldType) -> str:
    """Types whose values can be compared with each other (field against field)."""
    if t in _TEXT or t is FieldType.FLAGS:
        return "text"
    if t.is_numeric:
        return "number"
    return t.value


# --- value conversion -----------------------------------------------------------------


def _parse_int(text: str) -> int:
    t = text.strip()
    neg = t.startswith("-")
    body = t[1:] if neg or t.startswith("+") else t
    if body[:2].lower() == "0x":
        n = int(body[2:], 16)
    else:
        try:
            n = int(body, 10)
        except ValueError:
            f = float(body)
            if not f.is_integer():
                raise
            n = int(f)
    return -n if neg else n


def _parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t == "true":
        return True
    if t == "false":
        return False
    raise ValueError(text)


def convert_literal(text: str, ftype: FieldType, op: str) -> Any:
    """The right-hand-side constant for ``text`` compared to a field of ``ftype``.

    Raises ValueError when the text is not a value of that type.
    """
    if ftype.is_numeric:
        return _parse_int(text)
    if ftype is FieldType.BOOL:
        return _parse_bool(text)
    if ftype is FieldType.IPADDR:
        return ipaddress.ip_address(text.strip())
    if ftype is FieldType.IPNET:
        return ipaddress.ip_network(text.strip(), strict=False)
    if ftype is FieldType.BYTES:
        return text.encode("utf-8", "surrogateescape")
    return text


# --- glob, regex, pmatch ------------------------------------------------------------------

_POSIX_CLASS = re2.compile(r"\[:[a-z]+:\]")


def _bracket(pattern: str, i: int) -> tuple[str, int] | None:
    """The RE2 class for the fnmatch bracket expression opening at ``pattern[i]``
    (the char after '['), and the index after its ']'; None if it never closes."""
    n = len(pattern)
    j = i
    out = []
    if j < n and pattern[j] in "!^":
        out.append("^")
        j += 1
    first = True
    while j < n:
        c = pattern[j]
        if c == "]" and not first:
            return "[" + "".join(out) + "]", j + 1
        first = False
        if c == "[":
            m = _POSIX_CLASS.match(pattern, j)
            if m:
                out.append(m.group())
                j = m.end()
                continue
        if c == "\\" and j + 1 < n:
            j += 1
            c = pattern[j]
        if c == "-" and out and j + 1 < n and pattern[j + 1] != "]":
            out.append("-")
        else:
            out.append(re2.escape(c))
        j += 1
    return None


@functools.lru_cache(maxsize=1024)
def glob_regex(pattern: str, icase: bool = False) -> Any:
    """Falco's glob, ``fnmatch(3)`` with no flags: ``*`` any run (``/`` included),
    ``?`` one char, ``[...]`` a class (``!`` or ``^`` negates), ``\\x`` a literal x."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            found = _bracket(pattern, i)
            if found is None:
                out.append(re2.escape("["))
            else:
                cls, i = found
                out.append(cls)
        elif c == "\\" and i < n:
            out.append(re2.escape(pattern[i]))
            i += 1
        else:
            out.append(re2.escape(c))
    opts = re2.Options()
    opts.dot_nl = True
    opts.case_sensitive = not icase
    opts.log_errors = False
    return re2.compile("".join(out), options=opts)


def _compile_regex(text: str, node: Any) -> Any:
    # Falco compiles with RE2::POSIX: POSIX syntax (no \d, \w, \b...) and
    # leftmost-longest matching; '.' does not match a line break.
    opts = re2.Options()
    opts.posix_syntax = True
    opts.longest_match = True
    opts.log_errors = False
    try:
        return re2.compile(text, options=opts)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise _err(CompileError, f"invalid regex '{text}': {reason}", node) from None


_GLOB_CHARS = frozenset("*?[")


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def pmatch_matcher(prefixes: Iterable[str]) -> Callable[[str], bool]:
    """Falco's ``pmatch``: true when the leading path components of the value are
    one of ``prefixes``, component by component (``/etc`` matches ``/etc`` and
    ``/etc/passwd``, not ``/etcd``); a component may be a glob (``/home/*/.ssh``)."""
    exact: set[tuple[str, ...]] = set()
    globbed: list[tuple[Any, ...]] = []
    for p in prefixes:
        comps = _components(p)
        if any(_GLOB_CHARS.intersection(c) for c in comps):
            globbed.append(
                tuple(glob_regex(c) if _GLOB_CHARS.intersection(c) else c for c in comps)
            )
        else:
            exact.add(tuple(comps))
    lengths = sorted({len(e) for e in exact})

    def match(value: str) -> bool:
        comps = _components(value)
        for k in lengths:
            if k > len(comps):
                break
            if tuple(comps[:k]) in exact:
                return True
        for g in globbed:
            if len(g) <= len(comps) and all(
                (c == part) if type(c) is str else c.fullmatch(part) is not None
                for c, part in zip(g, comps, strict=False)
            ):
                return True
        return False

    return match


# --- transformers -----------------------------------------------------------------

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


def _byte_len(v: Any) -> int:
    return len(v) if isinstance(v, bytes) else len(v.encode("utf-8", "surrogateescape"))


# name -> (function, accepted input types); the output has the input's type.
_UNARY: dict[str, tuple[Callable[[Any], Any], frozenset[FieldType]]] = {
    "tolower": (str.lower, _TEXT),
    "toupper": (str.upper, _TEXT),
    "basename": (_basename, _TEXT),
    "b64": (_b64, _TEXT | {FieldType.BYTES}),
}


def _lift(fn: Callable[[Any], Any], is_list: bool) -> Callable[[Any], Any]:
    """Applies a per-value transformer to a scalar or to each item of a list value;
    one item that cannot be transformed makes the whole value missing, as in Falco."""
    if not is_list:
        return fn

    def each(values: tuple[Any, ...]) -> Any:
        out = tuple(fn(v) for v in values)
        return None if None in out else out

    return each


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


class Compiler:
    """Compiles conditions and value expressions of one source."""

    _counter = itertools.count()

    def __init__(self, source: Source) -> None:
        self.source = source
        self._bound: dict[str, BoundValue] = {}
        # While compiling a group: FieldKey -> local variable holding its value.
        self._locals: dict[FieldKey, str] | None = None
        # While compiling a group: fields surely read already at the point being
        # generated, and the accessors generated for the comparison at hand.
        self._assigned: set[FieldKey] = set()
        self._seen: set[FieldKey] = set()
        self._fresh: list[tuple[str, str]] = []
        # While compiling generated functions: guard key -> local holding the guarded doc
        # (None: any dict document).
        self._guards: dict[str | None, str] = {}

    # --- values ---

    def bind(self, expr: ValueExpr) -> BoundValue:
        """Binds a field or transformer expression; one FieldKey per distinct expression."""
        label = render_value_expr(expr)
        found = self._bound.get(label)
        if found is not None:
            return found
        if isinstance(expr, FieldRef):
            bound = self._bind_field(expr, label)
        else:
            bound = self._bind_transform(expr, label)
        self._bound[label] = bound
        return bound

    def _bind_field(self, ref: FieldRef, label: str) -> BoundValue:
        found = self.source.fields.resolve(ref.name, ref.arg)
        if found is None:
            raise _err(
                UnknownFieldError,
                f"unknown field '{ref.name}' for source '{self.source.name}'",
                ref,
            )
        fdef, arg = found
        try:
            extract = fdef.extractor(arg)
        except FieldArgumentError as exc:
            raise _err(FieldArgumentError, exc.message, ref) from None
        multi = None
        if FLAG_EITHER_END in fdef.flags:
            multi = EITHER_END
        elif FLAG_ANY_ANCESTOR in fdef.flags and arg is None:
            multi = ANY_ITEM
        return BoundValue(FieldKey(extract, label), fdef.type, fdef.is_list, label, multi)

    def _operand(self, expr: ValueExpr, transformer: str) -> BoundValue:
        b = self.bind(expr)
        if b.multi is not None:
            raise _err(
                CompileError,
                f"field '{b.label}' does not support transformers ('{transformer}')",
                expr,
            )
        return b

    def _bind_transform(self, tr: Transform, label: str) -> BoundValue:
        name = tr.name
        if name in _UNARY or name == "len":
            if len(tr.args) != 1 or isinstance(tr.args[0], Literal):
                raise _err(CompileError, f"transformer '{name}' takes exactly one field", tr)
            inner = self._operand(tr.args[0], name)
            ikey = inner.key
            if name == "len":
                return self._bind_len(tr, inner, label)
            fn, accepted = _UNARY[name]
            if inner.type not in accepted:
                raise _err(
                    CompileError,
                    f"transformer '{name}' does not support {inner.type.value} field "
                    f"'{inner.label}'",
                    tr,
                )
            lifted = _lift(fn, inner.is_list)

            def extract_unary(ev: Event) -> Any:
                v = ev[ikey]
                return None if v is None else lifted(v)

            return BoundValue(FieldKey(extract_unary, label), inner.type, inner.is_list, label)
        if name == "join":
            return self._bind_join(tr, label)
        if name == "concat":
            return self._bind_concat(tr, label)
        raise _err(CompileError, f"unknown transformer '{name}'", tr)

    def _bind_len(self, tr: Transform, inner: BoundValue, label: str) -> BoundValue:
        if not (inner.is_list or inner.type in _TEXT or inner.type is FieldType.BYTES):
            raise _err(
                CompileError,
                f"transformer 'len' does not support {inner.type.value} field '{inner.label}'",
                tr,
            )
        ikey = inner.key
        measure: Callable[[Any], int] = len if inner.is_list else _byte_len

        def extract_len(ev: Event) -> Any:
            v = ev[ikey]
            return None if v is None else measure(v)

        return BoundValue(FieldKey(extract_len, label), FieldType.UINT, False, label)

    def _part(self, arg: FieldRef | Transform | Literal, transformer: str) -> Any:
        """A join/concat argument: its constant text, or its bound value."""
        if isinstance(arg, Literal):
            return arg.value
        return self._operand(arg, transformer)

    def _bind_join(self, tr: Transform, label: str) -> BoundValue:
        # Falco's join(separator, list): the separator is a string or a single-valued
        # field; the list is a list field or a (...) list of fields, transformers and
        # strings, which the parser flattened into args[1:].
        if not tr.args:
            raise _err(CompileError, "join() takes a separator and a list", tr)
        sep = self._part(tr.args[0], "join")
        if isinstance(sep, BoundValue) and sep.is_list:
            raise _err(
                CompileError,
                f"the separator of join() must be a single value, '{sep.label}' is a list",
                tr.args[0],
            )
        items = [self._part(a, "join") for a in tr.args[1:]]
        sep_key = sep.key if isinstance(sep, BoundValue) else None
        sep_text = sep if isinstance(sep, str) else ""
        parts = [(i, False) if isinstance(i, str) else (i.key, i.is_list) for i in items]

        def extract_join(ev: Event) -> Any:
            if sep_key is not None:
                s = ev[sep_key]
                if s is None:
                    return None
                s = _to_text(s)
            else:
                s = sep_text
            out: list[str] = []
            for p, many in parts:
                if type(p) is str:
                    out.append(p)
                    continue
                v = ev[p]
                if v is None:
                    return None
                if many:
                    out.extend(map(_to_text, v))
                else:
                    out.append(_to_text(v))
            return s.join(out)

        return BoundValue(FieldKey(extract_join, label), FieldType.STRING, False, label)

    def _bind_concat(self, tr: Transform, label: str) -> BoundValue:
        if len(tr.args) < 2:
            raise _err(CompileError, "concat() takes two or more arguments", tr)
        parts: list[Any] = []
        for a in tr.args:
            p = self._part(a, "concat")
            if isinstance(p, BoundValue):
                if p.is_list or p.type not in _TEXT:
                    kind = "a list" if p.is_list else p.type.value
                    raise _err(
                        CompileError,
                        f"concat() takes strings, '{p.label}' is {kind}",
                        a,
                    )
                p = p.key
            parts.append(p)

        def extract_concat(ev: Event) -> Any:
            out = []
            for p in parts:
                if type(p) is str:
                    out.append(p)
                else:
                    v = ev[p]
                    if v is None:
                        return None
                    out.append(v)
            return "".join(out)

        return BoundValue(FieldKey(extract_concat, label), FieldType.STRING, False, label)

    # --- conditions ---

    def compile(self, expr: Expr, name: str = "cond") -> Predicate:
        ns: dict[str, Any] = {}
        body = self._expr(expr, ns)
        fname = f"_lanner_{next(self._counter)}"
        src = f"def {fname}(ev):\n    return {body}\n"
        code = compile(src, f"<rule {name}>", "exec")
        exec(code, ns)
        fn: Predicate = ns[fname]
        fn.__doc__ = body  # kept for debugging: `lanner rules list --debug`
        return fn

    def compile_group(
        self, exprs: list[Expr], seeds: tuple[FieldKey, ...], first: bool, name: str = "group"
    ) -> Callable[..., Any]:
        """One function evaluating several conditions in order on one event.

        ``group(ev, *seed_values)`` returns the index of the first condition that
        holds (-1 if none) when ``first``, else the list of indices that hold.
        Each field is extracted at most once, into a local variable, by calling
        its extractor directly: this is the engine's hot path, and locals are
        several times cheaper than the event's cache. ``seeds`` are fields the
        caller already extracted (the index fields), passed in as arguments.
        """
        ns: dict[str, Any] = {"_U": _UNSET}
        self._locals = {k: f"s{i}" for i, k in enumerate(seeds)}
        self._guards = {}
        self._assigned = set()
        self._seen = set()
        try:
            bodies = [self._expr(e, ns) for e in exprs]
            local_vars = [v for k, v in self._locals.items() if k not in seeds]
            guards = dict(self._guards)
        finally:
            self._locals = None
        lines = [f"def {name}(ev{''.join(f', s{i}' for i in range(len(seeds)))}):"]
        lines += _guard_prologue(guards, ns)
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
        code = compile("\n".join(lines) + "\n", f"<rules {name}>", "exec")
        exec(code, ns)
        fn: Callable[..., Any] = ns[name]
        return fn

    def compile_values(self, keys: tuple[FieldKey, ...]) -> Callable[[Event], tuple[Any, ...]]:
        """A function returning the values of ``keys`` for an event, as a tuple."""
        ns: dict[str, Any] = {}
        self._guards = {}
        exprs = [self._inline(ns, k) or f"{self._const(ns, k.extract)}(ev)" for k in keys]
        lines = ["def values(ev):", *_guard_prologue(self._guards, ns)]
        lines.append("    return (" + "".join(f"{e}, " for e in exprs) + ")")
        exec(compile("\n".join(lines) + "\n", "<index values>", "exec"), ns)
        fn: Callable[[Event], tuple[Any, ...]] = ns["values"]
        return fn

    def _access(self, ns: dict[str, Any], key: FieldKey) -> str:
        """The expression reading ``key``'s value for the event ``ev``."""
        if self._locals is None:
            return f"ev[{self._const(ns, key)}]"
        var = self._locals.get(key)
        if var is None:
            var = self._locals[key] = f"v{len(self._locals)}"
        elif var.startswith("s") or key in self._assigned:
            return var
        read = self._inline(ns, key) or f"{self._const(ns, key.extract)}(ev)"
        if key in self._seen:
            text = f"({var} if {var} is not _U else ({var} := {read}))"
        else:
            # No code before this point can have read it: no need to check.
            self._seen.add(key)
            text = f"({var} := {read})"
        self._fresh.append((text, var))
        return text

    def _inline(self, ns: dict[str, Any], key: FieldKey) -> str | None:
        """Inline code for a field that is "the string at this path of the document".

        Extractors built for such fields carry ``inline_path = (guard, keys)``:
        the value is the string found at ``keys`` when the document is a dict
        holding ``guard``. The inline code takes that string straight from the
        document and leaves every other case (missing, not a string, odd shapes)
        to the extractor itself, so results are the extractor's exactly.
        """
        spec = getattr(key.extract, "inline_path", None)
        if spec is None or not 1 <= len(spec[1]) <= 3:
            return None
        guard, path = spec
        g = self._guards.setdefault(guard, f"g{len(self._guards)}")
        x = self._const(ns, key.extract)
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

    def _const(self, ns: dict[str, Any], value: Any) -> str:
        name = f"k{len(ns)}"
        ns[name] = value
        return name

    def _lambda(self, ns: dict[str, Any], body: str) -> str:
        return self._const(ns, eval(f"lambda x: {body}", ns))  # the body is our own generated code

    def _expr(self, e: Expr, ns: dict[str, Any]) -> str:
        match e:
            case And(children=children):
                return "(" + " and ".join(self._chain(children, ns)) + ")"
            case Or(children=children):
                return "(" + " or ".join(self._chain(children, ns)) + ")"
            case Not(child=child):
                return f"(not {self._expr(child, ns)})"
            case Const(value=value):
                return "True" if value else "False"
            case Compare():
                if self._locals is None:
                    return self._compare(e, ns)
                return self._compare_in_group(e, ns)
            case MacroRef(name=name):
                raise _err(CompileError, f"undefined macro '{name}'", e)
        raise _err(CompileError, f"unexpected node {type(e).__name__}", e)

    def _chain(self, children: tuple[Expr, ...], ns: dict[str, Any]) -> list[str]:
        """The operands of ``and``/``or``, tracking which fields are surely read.

        Operand i only runs after operands 0..i-1 ran, so it can use what they
        read as plain locals; after the chain, only the first operand surely ran.
        """
        parts: list[str] = []
        after_first: set[FieldKey] | None = None
        for c in children:
            parts.append(self._expr(c, ns))
            if after_first is None:
                after_first = set(self._assigned)
        if after_first is not None and self._locals is not None:
            self._assigned = after_first
        return parts

    def _compare_in_group(self, c: Compare, ns: dict[str, Any]) -> str:
        """A comparison in a group function: a field is read (and assigned) where it
        first appears; its later uses in the comparison are the plain local."""
        self._fresh = []
        code = self._compare(c, ns)
        for text, var in self._fresh:
            i = code.find(text)
            if i >= 0:
                j = i + len(text)
                code = code[:j] + code[j:].replace(text, var)
        self._fresh = []
        # Every comparison reads its left side first, whatever else it skips.
        self._assigned.add(self.bind(c.lhs).key)
        return code

    def _compare(self, c: Compare, ns: dict[str, Any]) -> str:
        lhs = self.bind(c.lhs)
        v = self._access(ns, lhs.key)
        op = c.op
        if op == "exists":
            return f"({v} is not None)"
        rhs = c.rhs
        if isinstance(rhs, ListRef):
            raise _err(CompileError, f"undefined list '{rhs.name}'", rhs)
        if isinstance(rhs, FieldValue | FieldRef | Transform):
            return self._compare_fields(c, lhs, v, rhs, ns)
        if lhs.is_list:
            return self._compare_list_field(c, lhs, v, ns)
        if lhs.multi is None:
            return self._compare_one(c, lhs, v, ns)
        # One predicate per item: the ancestors of proc.aname, the two ends of fd.ip.
        lam = self._lambda(ns, self._compare_one(c, lhs, "x", ns))
        every = lhs.multi == EITHER_END and op == "!=" and c.modifier is None
        fk = self._const(ns, _every_item if every else _any_item)
        return f"{fk}({lam}, {v})"

    def _compare_one(self, c: Compare, lhs: BoundValue, v: str, ns: dict[str, Any]) -> str:
        """``c`` on the single value the expression ``v`` yields."""
        op = c.op
        _check_op(op, lhs, c)
        if c.modifier is not None:
            return self._compare_modifier(c, lhs, v, ns)
        rhs = c.rhs
        if op in ("in", "intersects", "pmatch"):
            items = self._items(c, lhs)
            if op == "pmatch":
                mk = self._const(ns, pmatch_matcher(str(i) for i in items))
                return f"({v} is not None and {mk}({v}))"
            if lhs.type in _IP:
                return self._ip_in(v, items, ns)
            sk = self._const(ns, frozenset(items))
            if lhs.type is FieldType.BYTES:
                return f"({v} is not None and {self._const(ns, _as_bytes)}({v}) in {sk})"
            return f"({v} in {sk})"
        if isinstance(rhs, ListLit):
            raise _err(CompileError, f"operator '{op}' takes a single value, not a list", rhs)
        if not isinstance(rhs, Literal):
            raise _err(CompileError, f"operator '{op}' needs a value", c)
        return self._compare_scalar(op, lhs, v, rhs, ns)

    def _convert(self, text: str, lhs: BoundValue, op: str, node: Any) -> Any:
        try:
            return convert_literal(text, lhs.type, op)
        except ValueError:
            raise _err(
                CompileError,
                f"'{text}' is not a valid {lhs.type.value} value for '{lhs.label}'",
                node,
            ) from None

    def _items(self, c: Compare, lhs: BoundValue) -> list[Any]:
        rhs = c.rhs
        if isinstance(rhs, ListLit):
            lits = list(rhs.items)
        elif isinstance(rhs, Literal):
            lits = [rhs]
        else:
            raise _err(CompileError, f"operator '{c.op}' needs a list of values", c)
        if c.op == "pmatch":
            return [i.value for i in lits]
        return [self._convert(i.value, lhs, c.op, i) for i in lits]

    def _ip_in(self, v: str, items: list[Any], ns: dict[str, Any]) -> str:
        nets = tuple(
            ipaddress.ip_network(i) if not hasattr(i, "network_address") else i for i in items
        )
        fk = self._const(ns, _ip_in_nets)
        nk = self._const(ns, nets)
        return f"({v} is not None and {fk}({v}, {nk}))"

    def _compare_scalar(
        self, op: str, lhs: BoundValue, v: str, rhs: Literal, ns: dict[str, Any]
    ) -> str:
        t = lhs.type
        guard = f"{v} is not None"
        if t is FieldType.BYTES:
            if op in ("bcontains", "bstartswith"):
                try:
                    needle = bytes.fromhex(rhs.value)
                except ValueError:
                    raise _err(
                        CompileError, f"'{op}' takes hex bytes, '{rhs.value}' is not hex", rhs
                    ) from None
            else:
                needle = self._convert(rhs.value, lhs, op, rhs)
            nk = self._const(ns, needle)
            b = f"{self._const(ns, _as_bytes)}({v})"
            test = {
                "=": f"{b} == {nk}",
                "!=": f"{b} != {nk}",
                "contains": f"{nk} in {b}",
                "bcontains": f"{nk} in {b}",
                "startswith": f"{b}.startswith({nk})",
                "bstartswith": f"{b}.startswith({nk})",
                "endswith": f"{b}.endswith({nk})",
            }[op]
            return f"({guard} and {test})"
        if op in _ORDER_OPS:
            value = self._convert(rhs.value, lhs, op, rhs) if t.is_numeric else rhs.value
            return f"({guard} and {v} {op} {self._const(ns, value)})"
        if op in ("=", "!="):
            if t in _IP:
                expr = self._ip_in(v, [self._convert(rhs.value, lhs, op, rhs)], ns)
                return expr if op == "=" else f"({guard} and not {expr})"
            kk = self._const(ns, self._convert(rhs.value, lhs, op, rhs))
            if op == "=":
                return f"({v} == {kk})"
            return f"({guard} and {v} != {kk})"
        text = rhs.value
        if op == "contains":
            return f"({guard} and {self._const(ns, text)} in {v})"
        if op == "icontains":
            return f"({guard} and {self._const(ns, text.lower())} in {v}.lower())"
        if op == "startswith":
            return f"({guard} and {v}.startswith({self._const(ns, text)}))"
        if op == "endswith":
            return f"({guard} and {v}.endswith({self._const(ns, text)}))"
        if op in ("glob", "iglob"):
            rk = self._const(ns, glob_regex(text, op == "iglob"))
            return f"({guard} and {rk}.fullmatch({v}) is not None)"
        if op == "regex":
            rk = self._const(ns, _compile_regex(text, rhs))
            return f"({guard} and {rk}.fullmatch({v}) is not None)"
        raise _err(CompileError, f"unknown operator '{op}'", rhs)

    def _compare_modifier(self, c: Compare, lhs: BoundValue, v: str, ns: dict[str, Any]) -> str:
        # proc.name startswith anyof (a, b): the operator against each value, then
        # oneof = exactly one holds, anyof = at least one, allof = every one.
        if c.op in ("in", "intersects", "pmatch") or c.op in _ORDER_OPS:
            raise _err(CompileError, f"modifier '{c.modifier}' cannot follow '{c.op}'", c)
        rhs = c.rhs
        items = rhs.items if isinstance(rhs, ListLit) else (rhs,)
        preds = []
        for item in items:
            if not isinstance(item, Literal):
                raise _err(CompileError, f"modifier '{c.modifier}' needs a list of values", c)
            preds.append(self._compare_scalar(c.op, lhs, "x", item, ns))
        if not preds:
            return "False"
        lam = self._lambda(ns, f"[{', '.join(preds)}]")
        if c.modifier == "anyof":
            return f"({v} is not None and any({lam}({v})))"
        if c.modifier == "allof":
            return f"({v} is not None and all({lam}({v})))"
        return f"({v} is not None and sum({lam}({v})) == 1)"

    def _compare_list_field(self, c: Compare, lhs: BoundValue, v: str, ns: dict[str, Any]) -> str:
        op = c.op
        if op not in ("in", "intersects") or c.modifier is not None:
            raise _err(
                CompileError,
                f"list field '{lhs.label}' only supports 'exists', 'in' and 'intersects'",
                c,
            )
        items = self._items(c, lhs)
        if lhs.type in _IP:
            nets = tuple(ipaddress.ip_network(i) for i in items)
            nk = self._const(ns, nets)
            fk = self._const(ns, _ip_in_nets)
            agg = "all" if op == "in" else "any"
            return f"({v} is not None and {agg}({fk}(i, {nk}) for i in {v}))"
        sk = self._const(ns, frozenset(items))
        if op == "in":
            return f"({v} is not None and {sk}.issuperset({v}))"
        return f"({v} is not None and not {sk}.isdisjoint({v}))"

    def _compare_fields(
        self, c: Compare, lhs: BoundValue, v: str, rhs: Any, ns: dict[str, Any]
    ) -> str:
        op = c.op
        inner = rhs.expr if isinstance(rhs, FieldValue) else rhs
        other = self.bind(inner)
        for b, node in ((lhs, c), (other, inner)):
            if b.multi is not None:
                raise _err(
                    CompileError,
                    f"field '{b.label}' cannot be compared with another field",
                    node,
                )
        if op in ("pmatch", "regex") or c.modifier is not None:
            raise _err(CompileError, f"operator '{op}' does not support a field on its right", c)
        if lhs.type is FieldType.IPNET:
            raise _err(
                CompileError, f"field '{lhs.label}' cannot be compared with another field", c
            )
        if _family(other.type) != _family(lhs.type):
            raise _err(
                CompileError,
                f"'{lhs.label}' ({lhs.type.value}) cannot be compared with "
                f"'{other.label}' ({other.type.value})",
                c,
            )
        listy = op in ("in", "intersects")
        for b in (lhs, other):
            if b.is_list and not listy:
                raise _err(
                    CompileError,
                    f"list field '{b.label}' only supports 'exists', 'in' and 'intersects'",
                    c,
                )
        _check_op(op, lhs, c)
        w = self._access(ns, other.key)
        guard = f"{v} is not None and {w} is not None"
        if listy:
            wl = f"{self._const(ns, _items_of)}({w})"
            if lhs.is_list:
                test = (
                    f"set({v}).issubset({wl})" if op == "in" else f"not set({v}).isdisjoint({wl})"
                )
            else:
                test = f"{v} in {wl}"
            return f"({guard} and {test})"
        table = {
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
        }
        gk = self._const(ns, glob_regex)
        table["glob"] = f"{gk}({w}).fullmatch({v}) is not None"
        table["iglob"] = f"{gk}({w}, True).fullmatch({v}) is not None"
        if lhs.type in _IP:
            fk = self._const(ns, _same_ip)
            table["="] = f"{fk}({v}, {w})"
            table["!="] = f"not {fk}({v}, {w})"
        if op not in table:
            raise _err(CompileError, f"operator '{op}' does not support a field on its right", c)
        return f"({guard} and {table[op]})"


_UNSET = object()


def _guard_prologue(guards: dict[str | None, str], ns: dict[str, Any]) -> list[str]:
    """Lines binding each guard local: the document if it is a dict holding the key."""
    if not guards:
        return []
    lines = ["    d = ev.doc", "    dd = type(d) is dict"]
    for key, var in guards.items():
        if key is None:
            lines.append(f"    {var} = d if dd else None")
        else:
            lines.append(f"    {var} = d if dd and {key!r} in d else None")
    return lines


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


def _to_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def render_value_expr(expr: FieldRef | Transform | Literal) -> str:
    """The canonical text of a field expression: ``proc.aname[2]``, ``tolower(fd.name)``."""
    if isinstance(expr, FieldRef):
        return str(expr)
    if isinstance(expr, Literal):
        return repr(expr.value)
    return f"{expr.name}(" + ", ".join(render_value_expr(a) for a in expr.args) + ")"

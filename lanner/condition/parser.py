"""Parser for Falco's condition language: text in, syntax tree (``ast``) out.

A hand-written recursive-descent parser. Tokens are lexed on demand at the
cursor, one compiled pattern per token (never per character).

Grammar, in EBNF. Blanks (space, tab, carriage return, line feed, backspace: libsinsp's
set, so form feed and vertical tab are not blanks) may separate any two tokens except
where noted::

    condition  = or_expr ;
    or_expr    = and_expr { "or" kw_end and_expr } ;
    and_expr   = not_expr { "and" kw_end not_expr } ;
    not_expr   = { "not" kw_end } check ;        (* an even run of 'not' cancels out *)
    kw_end     = blank | ? followed by "(" ? ;   (* so 'andx' and 'not.x' are names *)
    check      = "(" or_expr ")"
               | value_expr comparison
               | identifier ;                   (* a macro reference *)
    value_expr = field | call ;
    field      = field_name [ "[" ( quoted | arg_chars ) "]" ] ;   (* no blank before "[" *)
    call       = transformer "(" args ")" [ "[" ( quoted | arg_chars ) "]" ] ;
                                                (* no blank before "(" or "[" *)
    args       = arg { "," arg } ;
    arg        = value_expr | quoted | number
               | "(" [ item { "," item } ] ")" ;  (* where the transformer takes a list *)
    item       = value_expr | quoted | number ;
    comparison = "exists"                       (* no blank needed after: 'existsand x' *)
               | num_op ( rhs_call | number )
               | str_op ( modifier ( list | identifier ) | rhs_call | string )
               | list_op ( list | rhs_call | identifier ) ;
    rhs_call   = "val(" field ")" | call ;
    list       = "(" [ string { "," string } ] ")" ;
    string     = quoted | bare ;

    num_op     = "<=" | "<" | ">=" | ">" ;
    str_op     = "==" | "=" | "!=" | word_op ;  (* a word_op must be followed by a blank *)
    word_op    = "contains" | "icontains" | "bcontains" | "startswith" | "bstartswith"
               | "endswith" | "glob" | "iglob" | "regex" ;
    list_op    = "in" | "intersects" | "pmatch" ;  (* word operators end at a word boundary *)
    modifier   = "oneof" | "anyof" | "allof" ;   (* only after a blank, and followed by a
                                                   blank then a list or a list name that is
                                                   not 'and'/'or'/'not'; else it is a string *)
    transformer = ? a name in lanner.condition.transformers.TRANSFORMERS ? ;

    identifier = letter { letter | digit | "_" } ;
    field_name = identifier "." identifier { "." identifier } ;
    number     = "0" ( "x" | "X" ) hex_digit { hex_digit }
               | [ "+" | "-" ] digits [ "." [ digits ] ] [ ( "e" | "E" ) ( "+" | "-" ) digits ] ;
    bare       = ? one or more characters other than blanks ( ) , = " ' ? ;
    arg_chars  = ? one or more characters other than blanks [ ] " ' ? ;
    quoted     = ? text between " or ' quotes, ending at the first quote not preceded
                   by a backslash; backslash escapes \\b \\f \\n \\r \\t \\\\ \\/, \\xHH
                   (a byte: two hex digits), \\" inside "..." and \\' inside '...';
                   a backslash before a blank stands for a backslash (the blank is
                   dropped); any other escape is an error ? ;

Transformer arity, and where a ``(...)`` list or a literal may stand, are
checked here against the transformer registry (the compiler checks types): a
parenthesised list argument is an ``ArgList`` node, ``join("-", (a.b, c.d))``
is ``Transform("join", (Literal("-"), ArgList((FieldRef("a.b"), FieldRef("c.d")))))``.

Nesting of parentheses and calls is capped at ``MAX_DEPTH``. Quoted strings
and modifiers are read exactly as libsinsp reads them, so ``"a\\\\"`` does not
end at its last quote, and ``==oneof (a)``, ``= oneof(a)`` are errors. Where
Falco's own parser is sloppy this one is stricter, so that a condition it
accepts also loads in Falco: a list operator must end at a word boundary
(Falco reads ``proc.name inshells`` as ``proc.name in shells``), and a keyword
cannot be a macro name.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from typing import NoReturn

from lanner.condition.ast import (
    LIST_OPS,
    MODIFIERS,
    STR_OPS,
    And,
    ArgList,
    Compare,
    Expr,
    FieldRef,
    FieldValue,
    ListLit,
    ListRef,
    Literal,
    MacroRef,
    Not,
    Or,
    Pos,
    Rhs,
    Transform,
    TransformArg,
    ValueExpr,
)
from lanner.condition.transformers import TRANSFORMERS, ordinal
from lanner.errors import ConditionSyntaxError, Location

__all__ = ["MAX_DEPTH", "parse_condition", "parse_output_field"]

MAX_DEPTH = 100
"""Deepest nesting of parentheses and transformer calls a condition may use."""

# libsinsp's blanks: form feed and vertical tab are not among them, so a condition
# using them as separators would not load in Falco.
_BLANKS = " \t\n\r\b"
_BLANK_CLASS = "".join(f"\\x{ord(c):02x}" for c in _BLANKS)
_BLANK_SET = frozenset(_BLANKS)
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_KEYWORDS = frozenset({"and", "or", "not"})

# Comparison operators spelled as words must be followed by a blank (Falco's rule).
_WORD_STR_OPS = frozenset(op for op in STR_OPS if op[0].isalpha())
_SYMBOL_OPS = ("==", "=", "!=", "<=", "<", ">=", ">")  # longest first

_blank_run = re.compile(f"[{_BLANK_CLASS}]+").match
_ident = re.compile(r"[A-Za-z][A-Za-z0-9_]*").match
_word = re.compile(r"[A-Za-z0-9_]+").match
_alnum = re.compile(r"[A-Za-z0-9]+").match
_hex2 = re.compile(r"[0-9a-fA-F]{2}").fullmatch
_field_name = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+").match
_field_arg = re.compile(f"[^\\[\\]\"'{_BLANK_CLASS}]+").match
_number = re.compile(r"0[xX][0-9a-fA-F]+|[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?").match
_bare = re.compile(f"[^()\"'=,{_BLANK_CLASS}]+").match
_token = re.compile(f"[A-Za-z0-9_.\\-/*]+|[^{_BLANK_CLASS}]").match
_line_break = re.compile(r"\r\n?|\n")

# Falco maps a backslash before a blank to a backslash (kept for old rules).
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", " ": "\\", "/": "/"}


def _skip_blanks(text: str, i: int) -> int:
    m = _blank_run(text, i)
    return i if m is None else m.end()


Locate = Callable[[int], Location]
"""Maps an offset in the parsed text to where it stands in its file."""


def parse_condition(text: str, max_checks: int | None = None, locate: Locate | None = None) -> Expr:
    """Parse a whole condition; raise ConditionSyntaxError if it is not valid.

    ``max_checks`` bounds the number of checks (comparisons and macro uses): the
    parse stops at the one past the bound, before building a tree the loader would
    reject anyway (its expansion bound is at least as strict). ``locate`` places
    nodes and errors in the file the text comes from (else: line and column in
    ``text``, no file).
    """
    p = _Parser(text, locate)
    p.max_checks = max_checks
    p.blanks()
    if p.i == p.n:
        p.fail("the condition is empty", 0)
    expr = p.or_expr()
    p.blanks()
    if p.i != p.n:
        p.fail_trailing(closing=False)
    return expr


def parse_output_field(
    text: str, start: int, locate: Locate | None = None
) -> tuple[ValueExpr, int]:
    """Parse one field expression (``proc.aname[2]``, ``tolower(fd.name)``)
    starting exactly at ``text[start]``; return it and the offset just past it.
    ``locate`` as for ``parse_condition``."""
    p = _Parser(text, locate)
    if not 0 <= start <= p.n:
        p.fail(f"no field at offset {start}: it is outside the text", p.n)
    p.i = start
    m = _field_name(text, start)
    if m:
        return p.field(m), p.i
    m = _ident(text, start)
    if m and m.end() < p.n and text[m.end()] == "(":
        name = m.group()
        if name in TRANSFORMERS:
            p.i = m.end()
            return p.call(name, start), p.i
        if name == "val":
            p.fail("val() can only be used on the right-hand side of a comparison", start)
        p.fail(f"unknown transformer '{name}'", start)
    p.fail("expected a field (like proc.name) or a transformer (like tolower(proc.name))", start)


class _Parser:
    __slots__ = ("checks", "depth", "i", "lines", "locate", "max_checks", "n", "text")

    def __init__(self, text: str, locate: Locate | None = None) -> None:
        self.text = text
        self.locate = locate
        self.n = len(text)
        self.i = 0
        self.depth = 0
        self.checks = 0
        self.max_checks: int | None = None
        self.lines = [0]
        if "\r" in text:
            self.lines.extend(m.end() for m in _line_break.finditer(text))
        else:
            find = text.find
            at = find("\n")
            while at >= 0:
                self.lines.append(at + 1)
                at = find("\n", at + 1)

    # --- positions and errors ---

    def pos(self, offset: int) -> Pos:
        if self.locate is not None:
            loc = self.locate(offset)
            return Pos(offset, loc.line, loc.col, loc.file)
        row = bisect_right(self.lines, offset) - 1
        return Pos(offset, row + 1, offset - self.lines[row] + 1)

    def fail(self, message: str, offset: int) -> NoReturn:
        p = self.pos(offset)
        raise ConditionSyntaxError(message, Location(p.file, p.line, p.col))

    def tok(self, offset: int) -> str:
        """The token at ``offset``, for messages."""
        m = _token(self.text, offset)
        if not m:
            return ""
        t = m.group()
        return t if len(t) <= 30 else t[:27] + "..."

    def fail_trailing(self, *, closing: bool) -> NoReturn:
        """Something other than 'and'/'or' follows a complete check."""
        i = self.i
        c = self.text[i]
        if c == ")" and not closing:
            self.fail("unbalanced parenthesis: ')' has no matching '('", i)
        w = _ident(self.text, i)
        if w and w.group() in ("and", "or"):
            self.fail(f"expected a blank or '(' after '{w.group()}'", w.end())
        if w and w.group() == "not":
            self.fail("unexpected 'not': write 'and not' or 'or not'", i)
        want = "'and', 'or' or ')'" if closing else "'and', 'or' or the end of the condition"
        self.fail(f"unexpected '{self.tok(i)}': expected {want}", i)

    def enter(self, offset: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"the condition is nested too deeply (more than {MAX_DEPTH} levels)", offset)

    # --- lexing helpers ---

    def blanks(self) -> None:
        self.i = _skip_blanks(self.text, self.i)

    def keyword(self, word: str) -> bool:
        """Consume ``word`` and the blanks after it if it stands at the cursor
        as a keyword: followed by a blank or '(' ('not.x' is a field name)."""
        text, i = self.text, self.i
        end = i + len(word)
        if not text.startswith(word, i):
            return False
        if end < self.n and text[end] not in _BLANK_SET and text[end] != "(":
            return False
        self.i = _skip_blanks(text, end)
        if self.i == self.n:
            self.fail(f"expected a condition after '{word}'", i)
        return True

    def quoted(self) -> str:
        """Lex a quoted string at the cursor and return its unescaped text.

        As libsinsp reads it: the string ends at the first quote not preceded by a
        backslash (so a string cannot end with an escaped backslash), then escapes
        are decoded. Values are bytes in Falco: ``\\xHH`` escapes are bytes, decoded
        with the text around them as UTF-8 (an invalid byte stays a surrogate, as
        event strings do)."""
        text, start = self.text, self.i
        q = text[start]
        close = text.find(q, start + 1)
        while close > 0 and text[close - 1] == "\\":
            close = text.find(q, close + 1)
        if close < 0:
            self.fail(f"unterminated string: missing closing {q}", start)
        self.i = close + 1
        body = text[start + 1 : close]
        if "\\" not in body:
            return body
        out: list[str] = []
        raw_bytes = False
        i, n = 0, len(body)
        while i < n:
            c = body[i]
            if c != "\\":
                out.append(c)
                i += 1
                continue
            at = start + 1 + i
            e = body[i + 1]  # a backslash never ends the body: the quote after it would not close
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
            elif e == q:
                out.append(q)
            elif e in "\"'":
                self.fail(f"invalid escape \\{e} in a {q}-quoted string: write {e} alone", at)
            elif e == "x":
                digits = body[i + 2 : i + 4]
                if len(digits) < 2:
                    self.fail("truncated escape \\x: it takes two hex digits, like \\x00", at)
                if not _hex2(digits):
                    self.fail(f"invalid escape \\x{digits}: it takes two hex digits", at)
                b = int(digits, 16)
                raw_bytes |= b >= 0x80
                out.append(chr(b) if b < 0x80 else chr(0xDC00 + b))
                i += 2
            else:
                self.fail(f"unsupported escape sequence \\{e} in a quoted string", at)
            i += 2
        value = "".join(out)
        if raw_bytes:
            value = value.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
        return value

    # --- boolean structure ---

    def or_expr(self) -> Expr:
        start = self.i
        first = self.and_expr()
        children = None
        while True:
            self.blanks()
            if not self.keyword("or"):
                break
            if children is None:
                children = [first]
            children.append(self.and_expr())
        return first if children is None else Or(tuple(children), self.pos(start))

    def and_expr(self) -> Expr:
        start = self.i
        first = self.not_expr()
        children = None
        while True:
            self.blanks()
            if not self.keyword("and"):
                break
            if children is None:
                children = [first]
            children.append(self.not_expr())
        return first if children is None else And(tuple(children), self.pos(start))

    def not_expr(self) -> Expr:
        start = self.i
        negate = False
        while self.keyword("not"):
            negate = not negate
        child = self.check()
        return Not(child, self.pos(start)) if negate else child

    def check(self) -> Expr:
        text, i = self.text, self.i
        if i == self.n:
            self.fail("unexpected end of condition: expected a field check, a macro or '('", i)
        if text[i] == "(":
            return self.group()
        self.checks += 1
        if self.max_checks is not None and self.checks > self.max_checks:
            self.fail(
                f"the condition has more than {self.max_checks:,} checks: use a list "
                "with 'in (...)' for many values, or split the rule",
                i,
            )
        m = _field_name(text, i)
        if m:
            return self.comparison(self.field(m), i)
        m = _ident(text, i)
        if not m:
            self.fail(f"unexpected '{self.tok(i)}': expected a field check, a macro or '('", i)
        name, end = m.group(), m.end()
        if end < self.n and text[end] == "(":
            if name in TRANSFORMERS:
                self.i = end
                return self.comparison(self.call(name, i), i)
            if name == "val":
                self.fail("val() can only be used on the right-hand side of a comparison", i)
            self.fail(f"unknown transformer '{name}'", i)
        if name in _KEYWORDS:
            self.fail(f"unexpected '{name}': expected a field check, a macro or '('", i)
        self.i = end
        after = _skip_blanks(text, end)
        if after < self.n:
            if text[after] == "(" and (name in TRANSFORMERS or name == "val"):
                self.fail(f"no blank is allowed between '{name}' and '('", end)
            if text[after] in "=!<>" or self.op_word(after):
                self.fail(
                    f"'{name}' is not a field (field names contain a dot, like proc.name): "
                    "a bare name is a macro and cannot be compared",
                    i,
                )
        return MacroRef(name, self.pos(i))

    def op_word(self, offset: int) -> bool:
        m = _word(self.text, offset)
        return m is not None and (
            m.group() in _WORD_STR_OPS or m.group() in LIST_OPS or m.group() == "exists"
        )

    def group(self) -> Expr:
        """A parenthesised condition; the cursor is on '('."""
        start = self.i
        self.enter(start)
        self.i += 1
        self.blanks()
        if self.i < self.n and self.text[self.i] == ")":
            self.fail("empty parentheses: expected a condition inside '()'", start)
        inner = self.or_expr()
        self.blanks()
        if self.i == self.n:
            self.fail("unbalanced parenthesis: this '(' is never closed", start)
        if self.text[self.i] != ")":
            self.fail_trailing(closing=True)
        self.i += 1
        self.depth -= 1
        return inner

    # --- field expressions ---

    def field(self, m: re.Match[str]) -> FieldRef:
        """A field name matched by ``m`` and its optional ``[arg]``."""
        text, start = self.text, m.start()
        name = m.group()
        i = m.end()
        self.i = i
        if i == self.n or text[i] != "[":
            return FieldRef(name, None, self.pos(start))
        return FieldRef(name, self.bracket_arg(name), self.pos(start))

    def call(self, name: str, start: int) -> Transform:
        """A transformer call and its optional ``[x]``; the cursor is on its '('."""
        text = self.text
        row = TRANSFORMERS[name]
        self.enter(start)
        self.i += 1
        args: list[TransformArg] = []
        while True:
            self.blanks()
            param = row.param(len(args))
            if self.i < self.n and text[self.i] == "(":
                if param is None or len(args) not in row.list_positions():
                    self.fail(row.misplaced_list(), self.i)
                args.append(self.call_list(name))
            else:
                args.append(self.call_arg(name))
            self.blanks()
            if self.i == self.n:
                self.fail(f"expected ')' to close '{name}('", start)
            c = text[self.i]
            self.i += 1
            if c == ")":
                break
            if c != ",":
                self.fail(f"expected ',' or ')' in the arguments of '{name}'", self.i - 1)
        self.depth -= 1
        arity_max = row.max_args
        if len(args) < row.min_args or (arity_max is not None and len(args) > arity_max):
            self.fail(row.arity, start)
        for i, a in enumerate(args):
            param = row.param(i)
            if isinstance(a, Literal) and param is not None and not param.literal:
                self.fail(row.arity, start)
            if isinstance(a, Literal) and i in row.list_positions():
                self.fail(
                    f"the {ordinal(i)} argument of {name}() must be a list field or a (...) list",
                    start,
                )
        arg = None
        if self.i < self.n and text[self.i] == "[":
            arg = self.bracket_arg(name)
        return Transform(name, tuple(args), self.pos(start), arg)

    def bracket_arg(self, name: str) -> str:
        """The ``x`` of ``[x]`` after a field or call; the cursor is on '['."""
        text = self.text
        self.i += 1
        if self.i < self.n and text[self.i] in "\"'":
            arg = self.quoted()
        else:
            a = _field_arg(text, self.i)
            if not a:
                self.fail(f"expected an argument inside '{name}[...]'", self.i)
            arg = a.group()
            self.i = a.end()
        if self.i == self.n or text[self.i] != "]":
            self.fail(f"expected ']' to close the argument of '{name}'", self.i)
        self.i += 1
        return arg

    def call_arg(self, name: str) -> FieldRef | Transform | Literal:
        """One argument of a transformer call: a field, a call, a quoted string or a number."""
        text, i = self.text, self.i
        if i == self.n:
            self.fail(f"expected an argument for '{name}'", i)
        c = text[i]
        if c in "\"'":
            return Literal(self.quoted(), self.pos(i))
        m = _number(text, i)
        if m:
            self.i = m.end()
            return Literal(m.group(), self.pos(i))
        m = _field_name(text, i)
        if m:
            return self.field(m)
        m = _ident(text, i)
        if m and m.end() < self.n and text[m.end()] == "(":
            inner = m.group()
            if inner in TRANSFORMERS:
                self.i = m.end()
                return self.call(inner, i)
            if inner == "val":
                self.fail("val() cannot be used inside a transformer", i)
            self.fail(f"unknown transformer '{inner}'", i)
        self.fail(
            f"unexpected '{self.tok(i)}' in the arguments of '{name}': expected a field, "
            "a transformer, a quoted string or a number",
            i,
        )

    def call_list(self, name: str) -> ArgList:
        """A '(a, b)' list argument of transformer ``name``; the cursor is on '('."""
        start = self.i
        self.i += 1
        self.blanks()
        items: list[FieldRef | Transform | Literal] = []
        if self.i < self.n and self.text[self.i] == ")":
            self.i += 1
            return ArgList((), self.pos(start))
        while True:
            if self.i < self.n and self.text[self.i] == "(":
                self.fail("lists cannot be nested", self.i)
            items.append(self.call_arg(name))
            self.blanks()
            if self.i == self.n:
                self.fail("unbalanced parenthesis: this '(' is never closed", start)
            c = self.text[self.i]
            self.i += 1
            if c == ")":
                return ArgList(tuple(items), self.pos(start))
            if c != ",":
                self.fail("expected ',' or ')' in the list", self.i - 1)
            self.blanks()

    # --- comparisons ---

    def comparison(self, lhs: ValueExpr, start: int) -> Compare:
        text = self.text
        self.blanks()
        i = self.i
        label = _label(lhs)
        if i == self.n:
            self.fail(f"expected an operator after '{label}'", i)
        c = text[i]
        if c in "=!<>":
            op = next((s for s in _SYMBOL_OPS if text.startswith(s, i)), "")
            if not op:
                self.fail(f"unknown operator '{self.tok(i)}'", i)
            self.i = i + len(op)
            if op in ("==", "=", "!="):
                op = "=" if op == "==" else op
                rhs, mod = self.str_rhs(op)
                return Compare(lhs, op, rhs, mod, self.pos(start))
            return Compare(lhs, op, self.num_rhs(op), None, self.pos(start))
        if text.startswith("exists", i):
            # As in Falco, 'exists' needs no blank after it: 'existsand x' is 'exists and x'.
            self.i = i + len("exists")
            return Compare(lhs, "exists", None, None, self.pos(start))
        m = _word(text, i)
        if not m:
            self.fail(f"expected an operator after '{label}', found '{self.tok(i)}'", i)
        op = m.group()
        self.i = m.end()
        if op in LIST_OPS:
            return Compare(lhs, op, self.list_rhs(op), None, self.pos(start))
        if op in _WORD_STR_OPS:
            if self.i == self.n:
                self.fail(f"expected a value after '{op}'", self.i)
            if text[self.i] not in _BLANK_SET:
                self.fail(f"expected a blank after '{op}'", self.i)
            rhs, mod = self.str_rhs(op)
            return Compare(lhs, op, rhs, mod, self.pos(start))
        if op in _KEYWORDS:
            self.fail(f"expected an operator after '{label}', found '{op}'", i)
        if any(op.startswith(w) for w in _WORD_STR_OPS):
            self.fail(f"unknown operator '{op}' (a word operator is followed by a blank)", i)
        self.fail(f"unknown operator '{op}'", i)

    def modifier_ahead(self) -> str | None:
        """The modifier at the cursor, if it is one as Falco reads it: the word, a
        blank, then a '(' list or a list name (not 'and'/'or'/'not')."""
        text = self.text
        m = _ident(text, self.i)
        if not m or m.group() not in MODIFIERS:
            return None
        end = m.end()
        if end == self.n or text[end] not in _BLANK_SET:
            return None
        after = _skip_blanks(text, end)
        if after < self.n and text[after] == "(":
            return m.group()
        w = _word(text, after)
        if not w or not _ident(text, after):
            return None
        # A keyword ends where an alphanumeric does not follow ('and_x' is 'and').
        kw = _alnum(text, after)
        if kw is not None and kw.group() in _KEYWORDS:
            return None
        return m.group()

    def str_rhs(self, op: str) -> tuple[Rhs, str | None]:
        # Falco reads a modifier only after a blank: '==oneof (a)' compares with 'oneof'.
        had_blank = self.i < self.n and self.text[self.i] in _BLANK_SET
        self.blanks()
        text, i = self.text, self.i
        mod = self.modifier_ahead() if had_blank or op[0].isalpha() else None
        if mod:
            self.i += len(mod)
            self.blanks()
            if text[self.i] == "(":
                return self.list_lit(), mod
            name = _ident(text, self.i)
            assert name is not None
            self.i = name.end()
            return ListRef(name.group(), self.pos(name.start())), mod
        call = self.rhs_call()
        if call is not None:
            return call, None
        if i == self.n:
            self.fail(f"expected a value after '{op}'", i)
        if text[i] in "\"'":
            return Literal(self.quoted(), self.pos(i)), None
        m = _bare(text, i)
        if not m:
            if text[i] == "(":
                hint = "'in (a, b)'" if op == "=" else f"a modifier, like '{op} anyof (a, b)'"
                self.fail(f"'{op}' compares with one value; for several, use {hint}", i)
            self.fail(f"expected a value after '{op}', found '{self.tok(i)}'", i)
        self.i = m.end()
        value = m.group()
        if value in MODIFIERS:
            after = _skip_blanks(text, self.i)
            if after < self.n and text[after] == "(":
                # Falco reads these as the value 'oneof' followed by stray text.
                self.fail(f"a blank is needed before the modifier '{value}'", i)
        return Literal(value, self.pos(i)), None

    def num_rhs(self, op: str) -> Rhs:
        self.blanks()
        self.no_modifier(op)
        call = self.rhs_call()
        if call is not None:
            return call
        i = self.i
        m = _number(self.text, i)
        if not m:
            found = f", found '{self.tok(i)}'" if i < self.n else ""
            self.fail(f"expected a number after '{op}'{found}", i)
        self.i = m.end()
        return Literal(m.group(), self.pos(i))

    def list_rhs(self, op: str) -> Rhs:
        self.blanks()
        text, i = self.text, self.i
        if i < self.n and text[i] == "(":
            return self.list_lit()
        self.no_modifier(op)
        call = self.rhs_call()
        if call is not None:
            return call
        m = _ident(text, i)
        if not m:
            found = f", found '{self.tok(i)}'" if i < self.n else ""
            self.fail(f"expected a list after '{op}', like (a, b) or a list name{found}", i)
        self.i = m.end()
        return ListRef(m.group(), self.pos(i))

    def no_modifier(self, op: str) -> None:
        mod = self.modifier_ahead()
        if mod:
            self.fail(f"modifier '{mod}' cannot follow '{op}', only a string operator", self.i)

    def list_lit(self) -> ListLit:
        """'(a, "b", c)'; the cursor is on '('."""
        text, start = self.text, self.i
        self.i += 1
        self.blanks()
        items: list[Literal] = []
        if self.i < self.n and text[self.i] == ")":
            self.i += 1
            return ListLit((), self.pos(start))
        while True:
            i = self.i
            if i == self.n:
                self.fail("unbalanced parenthesis: this '(' is never closed", start)
            if text[i] in "\"'":
                items.append(Literal(self.quoted(), self.pos(i)))
            else:
                m = _bare(text, i)
                if not m:
                    self.fail(f"expected a value in the list, found '{self.tok(i)}'", i)
                self.i = m.end()
                items.append(Literal(m.group(), self.pos(i)))
            self.blanks()
            if self.i == self.n:
                self.fail("unbalanced parenthesis: this '(' is never closed", start)
            c = text[self.i]
            if c == ")":
                self.i += 1
                return ListLit(tuple(items), self.pos(start))
            if c != ",":
                self.fail(f"expected ',' or ')' in the list, found '{self.tok(self.i)}'", self.i)
            self.i += 1
            self.blanks()

    def rhs_call(self) -> FieldValue | Transform | None:
        """``val(field)`` or a transformer call at the cursor, if there is one."""
        text, i = self.text, self.i
        m = _ident(text, i)
        if not m or m.end() == self.n or text[m.end()] != "(":
            return None
        name = m.group()
        self.i = m.end()
        if name in TRANSFORMERS:
            return self.call(name, i)
        if name in MODIFIERS:
            # Falco reads 'oneof(a)' as the value 'oneof' followed by stray text.
            self.fail(f"a blank is needed between the modifier '{name}' and its list", m.end())
        if name != "val":
            self.fail(f"unknown transformer '{name}'", i)
        self.i += 1
        self.blanks()
        f = _field_name(text, self.i)
        if not f:
            self.fail("val() takes exactly one field, like val(proc.pname)", i)
        ref = self.field(f)
        self.blanks()
        if self.i == self.n or text[self.i] != ")":
            self.fail("val() takes exactly one field, like val(proc.pname)", i)
        self.i += 1
        return FieldValue(ref, self.pos(i))


def _label(expr: ValueExpr) -> str:
    """A short name for a field expression, for messages."""
    return str(expr) if isinstance(expr, FieldRef) else f"{expr.name}(...)"

"""Parser for Falco's condition language: text in, syntax tree (``ast``) out.

A hand-written recursive-descent parser. Tokens are lexed on demand at the
cursor, one compiled pattern per token (never per character).

Grammar, in EBNF. Blanks (space, tab, line breaks, form feed, vertical tab,
backspace) may separate any two tokens except where noted::

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
    call       = transformer "(" args ")" ;     (* no blank before "(" *)
    args       = arg { "," arg } ;
    arg        = value_expr | quoted | number
               | "(" [ item { "," item } ] ")" ;  (* only as the list argument of join *)
    item       = value_expr | quoted | number ;
    comparison = "exists"
               | num_op ( rhs_call | number )
               | str_op ( modifier list | rhs_call | string )
               | list_op ( list | rhs_call | identifier ) ;
    rhs_call   = "val(" field ")" | call ;
    list       = "(" [ string { "," string } ] ")" ;
    string     = quoted | bare ;

    num_op     = "<=" | "<" | ">=" | ">" ;
    str_op     = "==" | "=" | "!=" | word_op ;  (* a word_op must be followed by a blank *)
    word_op    = "contains" | "icontains" | "bcontains" | "startswith" | "bstartswith"
               | "endswith" | "glob" | "iglob" | "regex" ;
    list_op    = "in" | "intersects" | "pmatch" ;  (* word operators end at a word boundary *)
    modifier   = "oneof" | "anyof" | "allof" ;   (* only when a "(" list follows *)
    transformer = "tolower" | "toupper" | "b64" | "basename" | "len" | "join" | "concat" ;

    identifier = letter { letter | digit | "_" } ;
    field_name = identifier "." identifier { "." identifier } ;
    number     = "0" ( "x" | "X" ) hex_digit { hex_digit }
               | [ "+" | "-" ] digits [ "." [ digits ] ] [ ( "e" | "E" ) ( "+" | "-" ) digits ] ;
    bare       = ? one or more characters other than blanks ( ) , = " ' ? ;
    arg_chars  = ? one or more characters other than blanks [ ] " ' ? ;
    quoted     = ? text between " or ' quotes, with backslash escapes
                   \\b \\f \\n \\r \\t \\\\ \\/, \\" inside "..." and \\' inside '...';
                   a backslash before a blank stands for a backslash ? ;

Transformer arity is checked here, because the tree cannot show it:
``tolower``, ``toupper``, ``b64``, ``basename`` and ``len`` take one field
expression; ``concat`` takes two or more fields, transforms or literals;
``join`` takes a separator and a list. A parenthesised list given to ``join``
is flattened into the node: ``join("-", (a.b, c.d))`` becomes
``Transform("join", (Literal("-"), FieldRef("a.b"), FieldRef("c.d")))``, the
same shape as ``join("-", proc.args)`` with a list-valued field; either way
the separator is ``args[0]`` and the joined values come from ``args[1:]``.

Nesting of parentheses and calls is capped at ``MAX_DEPTH``. Where Falco's
own parser is sloppy this one is stricter: an operator must end at a word
boundary (Falco reads ``existsand x`` as ``exists and x``), and a keyword
cannot be a macro name. A backslash always escapes the next character of a
quoted string, so ``"a\\\\"`` ends after the escaped backslash.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NoReturn

from lanner.condition.ast import (
    LIST_OPS,
    MODIFIERS,
    STR_OPS,
    TRANSFORMERS,
    And,
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
    ValueExpr,
)
from lanner.errors import ConditionSyntaxError, Location

__all__ = ["MAX_DEPTH", "parse_condition", "parse_output_field"]

MAX_DEPTH = 100
"""Deepest nesting of parentheses and transformer calls a condition may use."""

_BLANKS = " \t\n\r\f\v\b"
_BLANK_SET = frozenset(_BLANKS)
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_KEYWORDS = frozenset({"and", "or", "not"})

# Comparison operators spelled as words must be followed by a blank (Falco's rule).
_WORD_STR_OPS = frozenset(op for op in STR_OPS if op[0].isalpha())
_SYMBOL_OPS = ("==", "=", "!=", "<=", "<", ">=", ">")  # longest first
_UNARY_TRANSFORMERS = frozenset({"tolower", "toupper", "b64", "basename", "len"})

_blank_run = re.compile(r"[ \t\n\r\f\v\b]+").match
_ident = re.compile(r"[A-Za-z][A-Za-z0-9_]*").match
_word = re.compile(r"[A-Za-z0-9_]+").match
_field_name = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+").match
_field_arg = re.compile(r"[^\[\]\"' \t\n\r\f\v\b]+").match
_number = re.compile(r"0[xX][0-9a-fA-F]+|[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?").match
_bare = re.compile(r"[^()\"'=, \t\n\r\f\v\b]+").match
_token = re.compile(r"[A-Za-z0-9_.\-/*]+|[^ \t\n\r\f\v\b]").match
_line_break = re.compile(r"\r\n?|\n")

# Falco maps a backslash before a blank to a backslash (kept for old rules).
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", " ": "\\", "/": "/"}


def _skip_blanks(text: str, i: int) -> int:
    m = _blank_run(text, i)
    return i if m is None else m.end()


def parse_condition(text: str, max_checks: int | None = None) -> Expr:
    """Parse a whole condition; raise ConditionSyntaxError if it is not valid.

    ``max_checks`` bounds the number of checks (comparisons and macro uses): the
    parse stops at the one past the bound, before building a tree the loader would
    reject anyway (its expansion bound is at least as strict).
    """
    p = _Parser(text)
    p.max_checks = max_checks
    p.blanks()
    if p.i == p.n:
        p.fail("the condition is empty", 0)
    expr = p.or_expr()
    p.blanks()
    if p.i != p.n:
        p.fail_trailing(closing=False)
    return expr


def parse_output_field(text: str, start: int) -> tuple[ValueExpr, int]:
    """Parse one field expression (``proc.aname[2]``, ``tolower(fd.name)``)
    starting exactly at ``text[start]``; return it and the offset just past it."""
    p = _Parser(text)
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
    __slots__ = ("checks", "depth", "i", "lines", "max_checks", "n", "text")

    def __init__(self, text: str) -> None:
        self.text = text
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
        row = bisect_right(self.lines, offset) - 1
        return Pos(offset, row + 1, offset - self.lines[row] + 1)

    def fail(self, message: str, offset: int) -> NoReturn:
        p = self.pos(offset)
        raise ConditionSyntaxError(message, Location(None, p.line, p.col))

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
        """Lex a quoted string at the cursor and return its unescaped text."""
        text, start = self.text, self.i
        q = text[start]
        close = text.find(q, start + 1)
        backslash = text.find("\\", start + 1)
        if close >= 0 and not 0 <= backslash < close:
            self.i = close + 1
            return text[start + 1 : close]
        out: list[str] = []
        i = start + 1
        while i < self.n:
            c = text[i]
            if c == q:
                self.i = i + 1
                return "".join(out)
            if c != "\\":
                out.append(c)
                i += 1
                continue
            if i + 1 == self.n:
                break
            e = text[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
            elif e == q:
                out.append(q)
            elif e in "\"'":
                self.fail(f"invalid escape \\{e} in a {q}-quoted string: write {e} alone", i)
            else:
                self.fail(f"unsupported escape sequence \\{e} in a quoted string", i)
            i += 2
        self.fail(f"unterminated string: missing closing {q}", start)

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
        if i == self.n or text[i] != "[":
            self.i = i
            return FieldRef(name, None, self.pos(start))
        self.i = i + 1
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
        return FieldRef(name, arg, self.pos(start))

    def call(self, name: str, start: int) -> Transform:
        """A transformer call; the cursor is on its '('."""
        text = self.text
        self.enter(start)
        self.i += 1
        args: list[FieldRef | Transform | Literal] = []
        count = 0
        has_list = False
        while True:
            self.blanks()
            if self.i < self.n and text[self.i] == "(":
                if name != "join" or count != 1:
                    self.fail(
                        "a parenthesised list can only be the second argument of join()", self.i
                    )
                has_list = True
                args.extend(self.call_list())
            else:
                args.append(self.call_arg(name))
            count += 1
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
        node = Transform(name, tuple(args), self.pos(start))
        if name in _UNARY_TRANSFORMERS:
            if count != 1 or isinstance(args[0], Literal):
                self.fail(f"transformer '{name}' takes exactly one field argument", start)
        elif name == "join":
            if count != 2:
                self.fail("join() takes two arguments: a separator and a list", start)
            if not has_list and isinstance(args[1], Literal):
                self.fail(
                    "the second argument of join() must be a list field or a (...) list", start
                )
        elif name == "concat" and count < 2:
            self.fail("concat() takes two or more arguments", start)
        return node

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

    def call_list(self) -> list[FieldRef | Transform | Literal]:
        """The '(a, b)' list argument of join; the cursor is on '('."""
        start = self.i
        self.i += 1
        self.blanks()
        items: list[FieldRef | Transform | Literal] = []
        if self.i < self.n and self.text[self.i] == ")":
            self.i += 1
            return items
        while True:
            if self.i < self.n and self.text[self.i] == "(":
                self.fail("lists cannot be nested", self.i)
            items.append(self.call_arg("join"))
            self.blanks()
            if self.i == self.n:
                self.fail("unbalanced parenthesis: this '(' is never closed", start)
            c = self.text[self.i]
            self.i += 1
            if c == ")":
                return items
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
        m = _word(text, i)
        if not m:
            self.fail(f"expected an operator after '{label}', found '{self.tok(i)}'", i)
        op = m.group()
        self.i = m.end()
        if op == "exists":
            return Compare(lhs, op, None, None, self.pos(start))
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
        """The modifier at the cursor, if one stands there followed by a '(' list."""
        m = _ident(self.text, self.i)
        if not m or m.group() not in MODIFIERS:
            return None
        after = _skip_blanks(self.text, m.end())
        return m.group() if after < self.n and self.text[after] == "(" else None

    def str_rhs(self, op: str) -> tuple[Rhs, str | None]:
        self.blanks()
        text, i = self.text, self.i
        mod = self.modifier_ahead()
        if mod:
            self.i += len(mod)
            self.blanks()
            return self.list_lit(), mod
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
            w = _ident(text, after)
            if w and w.group() not in _KEYWORDS:
                self.fail(f"'{value}' must be followed by a list in parentheses", after)
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

"""The condition parser: what trees come out of which texts, and what errors users see."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest
import yaml

from lanner.condition.ast import (
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
    Transform,
)
from lanner.condition.parser import MAX_DEPTH, parse_condition, parse_output_field
from lanner.errors import ConditionSyntaxError

CORPUS = str(Path(__file__).resolve().parents[2] / "shared" / "corpus" / "falco")


def F(name: str, arg: str | None = None) -> FieldRef:
    return FieldRef(name, arg)


def L(value: str) -> Literal:
    return Literal(value)


def M(name: str) -> MacroRef:
    return MacroRef(name)


def lst(*items: str) -> ListLit:
    return ListLit(tuple(Literal(i) for i in items))


def T(name: str, *args: FieldRef | Transform | Literal) -> Transform:
    return Transform(name, args)


def eq(field: str, value: str) -> Compare:
    return Compare(F(field), "=", L(value))


def error(text: str) -> ConditionSyntaxError:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(text)
    return info.value


def where(exc: ConditionSyntaxError) -> tuple[int, int]:
    assert exc.location is not None
    return exc.location.line, exc.location.col


# --- operators ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op", "rhs"),
    [
        ("proc.name = bash", "=", L("bash")),
        ("proc.name == bash", "=", L("bash")),
        ("proc.name != bash", "!=", L("bash")),
        ("proc.name=bash", "=", L("bash")),
        ("proc.pid < 10", "<", L("10")),
        ("proc.pid <= 10", "<=", L("10")),
        ("proc.pid > 10", ">", L("10")),
        ("proc.pid >= 10", ">=", L("10")),
        ("proc.pid>=10", ">=", L("10")),
        ("proc.cmdline contains -jar", "contains", L("-jar")),
        ("proc.cmdline icontains JAR", "icontains", L("JAR")),
        ("evt.buffer bcontains 48545450", "bcontains", L("48545450")),
        ("fd.name startswith /etc", "startswith", L("/etc")),
        ("evt.buffer bstartswith 7f454c46", "bstartswith", L("7f454c46")),
        ("fd.name endswith .log", "endswith", L(".log")),
        ("fd.name glob /etc/*.conf", "glob", L("/etc/*.conf")),
        ("proc.name iglob Java*", "iglob", L("Java*")),
        ("proc.cmdline regex '^ba(sh|zsh)$'", "regex", L("^ba(sh|zsh)$")),
        ("proc.name in (bash, sh)", "in", lst("bash", "sh")),
        ("proc.args intersects (-a, -b)", "intersects", lst("-a", "-b")),
        ("fd.name pmatch (/etc, /usr)", "pmatch", lst("/etc", "/usr")),
        ("proc.name in(bash)", "in", lst("bash")),
    ],
)
def test_every_operator(text: str, op: str, rhs: Literal | ListLit) -> None:
    cmp = parse_condition(text)
    assert isinstance(cmp, Compare)
    assert (cmp.op, cmp.rhs, cmp.modifier) == (op, rhs, None)


def test_exists_is_unary() -> None:
    assert parse_condition("fd.name exists") == Compare(F("fd.name"), "exists")
    assert parse_condition("fd.name exists and a") == And((Compare(F("fd.name"), "exists"), M("a")))
    assert "expected 'and', 'or'" in error("fd.name exists something").message


def test_word_operators_need_a_blank_after_them() -> None:
    assert parse_condition("fd.name contains\n  /etc") == Compare(
        F("fd.name"), "contains", L("/etc")
    )
    e = error('fd.name contains"x"')
    assert (e.message, where(e)) == ("expected a blank after 'contains'", (1, 17))
    e = error("fd.name containsx")
    assert e.message == "unknown operator 'containsx' (a word operator is followed by a blank)"


def test_symbol_operators_need_no_blank() -> None:
    assert parse_condition("evt.dir=< and evt.dir!=>") == And(
        (eq("evt.dir", "<"), Compare(F("evt.dir"), "!=", L(">")))
    )


# --- modifiers ------------------------------------------------------------------------


@pytest.mark.parametrize("mod", ["oneof", "anyof", "allof"])
@pytest.mark.parametrize("op", ["=", "!=", "contains", "startswith", "endswith", "regex", "glob"])
def test_each_modifier_with_string_operators(mod: str, op: str) -> None:
    cmp = parse_condition(f"proc.name {op} {mod} (ssh, 'sudo x')")
    assert cmp == Compare(F("proc.name"), op, lst("ssh", "sudo x"), mod)


def test_modifier_normalises_double_equals_and_takes_empty_list() -> None:
    assert parse_condition("proc.name == anyof ()") == Compare(F("proc.name"), "=", lst(), "anyof")
    assert parse_condition("proc.name startswith allof (a)") == Compare(
        F("proc.name"), "startswith", lst("a"), "allof"
    )


def test_a_modifier_takes_a_list_name() -> None:
    assert parse_condition("proc.name = oneof my_list") == Compare(
        F("proc.name"), "=", ListRef("my_list"), "oneof"
    )
    # As in Falco, a modifier's own name can name the list; 'and' cannot.
    assert parse_condition("proc.name != allof allof") == Compare(
        F("proc.name"), "!=", ListRef("allof"), "allof"
    )
    assert parse_condition("proc.name = anyof and a") == And((eq("proc.name", "anyof"), M("a")))


def test_modifier_word_without_a_list_is_a_plain_value() -> None:
    assert parse_condition("proc.name = oneof") == eq("proc.name", "oneof")
    assert parse_condition("proc.name = anyof and a") == And((eq("proc.name", "anyof"), M("a")))


def test_modifier_errors() -> None:
    e = error("proc.name ==anyof (a)")
    assert (e.message, where(e)) == ("a blank is needed before the modifier 'anyof'", (1, 13))
    e = error("proc.name contains anyof(a)")
    assert (e.message, where(e)) == (
        "a blank is needed between the modifier 'anyof' and its list",
        (1, 25),
    )
    e = error("proc.name in oneof (a, b)")
    assert (e.message, where(e)) == (
        "modifier 'oneof' cannot follow 'in', only a string operator",
        (1, 14),
    )
    e = error("proc.pid > anyof (1, 2)")
    assert e.message == "modifier 'anyof' cannot follow '>', only a string operator"


# --- lists ----------------------------------------------------------------------------


def test_list_literals() -> None:
    assert parse_condition("a.b in ()") == Compare(F("a.b"), "in", lst())
    assert parse_condition("a.b in (  )") == Compare(F("a.b"), "in", lst())
    got = parse_condition("a.b in ( x , \"y z\",'q',/usr/bin/[]{}|!<>* ,\n 1.5 )")
    assert got == Compare(F("a.b"), "in", lst("x", "y z", "q", "/usr/bin/[]{}|!<>*", "1.5"))


def test_bare_identifier_as_list_value_is_a_list_reference() -> None:
    assert parse_condition("proc.name in shell_binaries") == Compare(
        F("proc.name"), "in", ListRef("shell_binaries")
    )


def test_list_items_keep_names_of_lists_as_literals() -> None:
    # The loader expands items naming a YAML list; the parser keeps them as values.
    assert parse_condition("proc.name in (shell_binaries, vi)") == Compare(
        F("proc.name"), "in", lst("shell_binaries", "vi")
    )


@pytest.mark.parametrize(
    ("text", "message", "col"),
    [
        ("a.b in (x,,y)", "expected a value in the list, found ','", 11),
        ("a.b in (x,)", "expected a value in the list, found ')'", 11),
        ("a.b in (,)", "expected a value in the list, found ','", 9),
        ("a.b in (x y)", "expected ',' or ')' in the list, found 'y'", 11),
        ("a.b in (x", "unbalanced parenthesis: this '(' is never closed", 8),
        ("a.b in (tolower(c.d))", "expected ',' or ')' in the list, found '('", 16),
        ("a.b in", "expected a list after 'in', like (a, b) or a list name", 7),
        ("a.b in 'x'", "expected a list after 'in', like (a, b) or a list name, found '''", 8),
    ],
)
def test_list_errors(text: str, message: str, col: int) -> None:
    e = error(text)
    assert (e.message, where(e)) == (message, (1, col))


# --- boolean structure ----------------------------------------------------------------


def test_precedence_not_over_and_over_or() -> None:
    assert parse_condition("a or b and not c") == Or((M("a"), And((M("b"), Not(M("c"))))))
    assert parse_condition("not a and b or c") == Or((And((Not(M("a")), M("b"))), M("c")))


def test_chains_are_flattened_but_parentheses_are_kept() -> None:
    assert parse_condition("a and b and c") == And((M("a"), M("b"), M("c")))
    assert parse_condition("a or b or c or d") == Or((M("a"), M("b"), M("c"), M("d")))
    assert parse_condition("a or (b or c)") == Or((M("a"), Or((M("b"), M("c")))))
    assert parse_condition("(a or b) and c") == And((Or((M("a"), M("b"))), M("c")))


def test_nested_parentheses() -> None:
    assert parse_condition("((a))") == M("a")
    assert parse_condition("( ( a.b = 1 ) and ( b or (c) ) )") == And(
        (eq("a.b", "1"), Or((M("b"), M("c"))))
    )
    assert parse_condition("(a)and(b)or(c)") == Or((And((M("a"), M("b"))), M("c")))


def test_repeated_not_cancels_in_pairs() -> None:
    assert parse_condition("not a") == Not(M("a"))
    assert parse_condition("not not a") == M("a")
    assert parse_condition("not not not a") == Not(M("a"))
    assert parse_condition("not not(a)") == M("a")
    # a parenthesised group is a check of its own: its 'not' does not cancel outer ones
    assert parse_condition("not(not(a))") == Not(Not(M("a")))
    assert parse_condition("not (a.b exists)") == Not(Compare(F("a.b"), "exists"))


def test_keywords_must_be_whole_words() -> None:
    assert parse_condition("macro and not_macro") == And((M("macro"), M("not_macro")))
    assert parse_condition("notz and or_macro") == And((M("notz"), M("or_macro")))
    assert parse_condition("a and(b)") == And((M("a"), M("b")))
    assert parse_condition("not.x = 1") == eq("not.x", "1")


@pytest.mark.parametrize(
    ("text", "message", "col"),
    [
        ("a andb", "unexpected 'andb': expected 'and', 'or' or the end of the condition", 3),
        ("aand b", "unexpected 'b': expected 'and', 'or' or the end of the condition", 6),
        ("a and", "expected a condition after 'and'", 3),
        ("a or  ", "expected a condition after 'or'", 3),
        ("a and not", "expected a condition after 'not'", 7),
        ("and a", "unexpected 'and': expected a field check, a macro or '('", 1),
        ("a not b", "unexpected 'not': write 'and not' or 'or not'", 3),
        ("a and=b", "expected a blank or '(' after 'and'", 6),
        ("a b", "unexpected 'b': expected 'and', 'or' or the end of the condition", 3),
        ("#a and b", "unexpected '#': expected a field check, a macro or '('", 1),
    ],
)
def test_boolean_errors(text: str, message: str, col: int) -> None:
    e = error(text)
    assert (e.message, where(e)) == (message, (1, col))


def test_parenthesis_errors() -> None:
    e = error("(a.b = 1 and c")
    assert (e.message, where(e)) == ("unbalanced parenthesis: this '(' is never closed", (1, 1))
    e = error("a and (b or (c)")
    assert (e.message, where(e)) == ("unbalanced parenthesis: this '(' is never closed", (1, 7))
    e = error("fd.name=/var/lo);g")
    assert (e.message, where(e)) == ("unbalanced parenthesis: ')' has no matching '('", (1, 16))
    e = error("a and ()")
    assert (e.message, where(e)) == ("empty parentheses: expected a condition inside '()'", (1, 7))
    e = error("(a b)")
    assert e.message == "unexpected 'b': expected 'and', 'or' or ')'"


def test_empty_condition() -> None:
    for text in ("", "  \n\t "):
        e = error(text)
        assert (e.message, where(e)) == ("the condition is empty", (1, 1))


# --- fields and macros ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("proc.aname[2] = x", F("proc.aname", "2")),
        ("jevt.value[/a/b] = x", F("jevt.value", "/a/b")),
        ("ka.uri.param[command] = x", F("ka.uri.param", "command")),
        ('x.y["a b"] = x', F("x.y", "a b")),
        ("x.y['a \\' b'] = x", F("x.y", "a ' b")),
        ('x.y[""] = x', F("x.y", "")),
        ("x.y[0a!@#:/.;$%^&*(){}|] = x", F("x.y", "0a!@#:/.;$%^&*(){}|")),
        ("evt.arg.flags = x", F("evt.arg.flags")),
    ],
)
def test_field_arguments(text: str, field: FieldRef) -> None:
    assert parse_condition(text) == Compare(field, "=", L("x"))


@pytest.mark.parametrize(
    ("text", "message", "col"),
    [
        ("x.y[] = 1", "expected an argument inside 'x.y[...]'", 5),
        ("x.y[ 2] = 1", "expected an argument inside 'x.y[...]'", 5),
        ("x.y[2 ] = 1", "expected ']' to close the argument of 'x.y'", 6),
        ("x.y[a[b] = 1", "expected ']' to close the argument of 'x.y'", 6),
        ("x.y [2] = 1", "expected an operator after 'x.y', found '['", 5),
        ("x.y", "expected an operator after 'x.y'", 4),
        ("x.y and z", "expected an operator after 'x.y', found 'and'", 5),
        ("x.y equals z", "unknown operator 'equals'", 5),
        ("x.y ! z", "unknown operator '!'", 5),
        ("x.y === z", "expected a value after '=', found '='", 7),
    ],
)
def test_field_and_operator_errors(text: str, message: str, col: int) -> None:
    e = error(text)
    assert (e.message, where(e)) == (message, (1, col))


def test_bare_names_are_macros_and_cannot_be_compared() -> None:
    assert parse_condition("spawned_process") == M("spawned_process")
    e = error("macro > 12")
    assert where(e) == (1, 1)
    assert e.message.startswith("'macro' is not a field (field names contain a dot")
    assert "is not a field" in error("macro contains x").message


# --- transformers and val() -----------------------------------------------------------


@pytest.mark.parametrize("name", ["tolower", "toupper", "b64", "basename", "len"])
def test_single_field_transformers_on_the_left(name: str) -> None:
    assert parse_condition(f"{name}(fd.name) = x") == Compare(T(name, F("fd.name")), "=", L("x"))


def test_nested_transformers_with_blanks_inside() -> None:
    got = parse_condition("len( basename(\n tolower(proc.aname[1]) ) ) > 3")
    assert got == Compare(T("len", T("basename", T("tolower", F("proc.aname", "1")))), ">", L("3"))


def test_transformers_on_the_right() -> None:
    assert parse_condition("a.b = toupper(c.d)") == Compare(F("a.b"), "=", T("toupper", F("c.d")))
    assert parse_condition("a.b in b64(c.d)") == Compare(F("a.b"), "in", T("b64", F("c.d")))
    assert parse_condition("a.b > len(c.d)") == Compare(F("a.b"), ">", T("len", F("c.d")))


def test_join_takes_a_separator_and_a_list() -> None:
    got = parse_condition("join('-', (fd.name, tolower(fd.directory), \"lit\", 12)) = x")
    items = (F("fd.name"), T("tolower", F("fd.directory")), L("lit"), L("12"))
    lhs = T("join", L("-"), ArgList(items))
    assert got == Compare(lhs, "=", L("x"))
    assert parse_condition('join(",", proc.args) = x') == Compare(
        T("join", L(","), F("proc.args")), "=", L("x")
    )
    assert parse_condition('join(",", ()) = x') == Compare(
        T("join", L(","), ArgList(())), "=", L("x")
    )


def test_concat_takes_fields_and_literals() -> None:
    got = parse_condition('concat(fd.rip, ":", fd.rport) in ("8.8.8.8:53")')
    lhs = T("concat", F("fd.rip"), L(":"), F("fd.rport"))
    assert got == Compare(lhs, "in", lst("8.8.8.8:53"))


def test_val_is_a_field_value_on_the_right() -> None:
    assert parse_condition("proc.name = val(proc.pname)") == Compare(
        F("proc.name"), "=", FieldValue(F("proc.pname"))
    )
    assert parse_condition("a.b > val( c.d[2] )") == Compare(
        F("a.b"), ">", FieldValue(F("c.d", "2"))
    )


def test_a_field_on_the_right_without_val_is_a_plain_value() -> None:
    assert parse_condition("some.field = other.field") == eq("some.field", "other.field")


@pytest.mark.parametrize(
    ("text", "message", "col"),
    [
        ("b64 (a.b) exists", "no blank is allowed between 'b64' and '('", 4),
        ("foo(a.b) exists", "unknown transformer 'foo'", 1),
        ("a.b = foo(c.d)", "unknown transformer 'foo'", 7),
        ("val(a.b) exists", "val() can only be used on the right-hand side of a comparison", 1),
        ("a.b = val(tolower(c.d))", "val() takes exactly one field, like val(proc.pname)", 7),
        ("a.b = val(c.d [1])", "val() takes exactly one field, like val(proc.pname)", 7),
        ("b64(val(a.b)) exists", "val() cannot be used inside a transformer", 5),
        ("tolower(a.b, c.d) = x", "transformer 'tolower' takes exactly one field argument", 1),
        ("len('x') = 1", "transformer 'len' takes exactly one field argument", 1),
        ("concat(a.b) = x", "concat() takes two or more arguments", 1),
        ("join(a.b) = x", "join() takes two arguments: a separator and a list", 1),
        (
            'join("-", "x") = y',
            "the second argument of join() must be a list field or a (...) list",
            1,
        ),
        (
            "concat(a.b, (c.d)) = x",
            "concat() takes no parenthesised list",
            13,
        ),
        ('join("-", ((a.b))) = x', "lists cannot be nested", 12),
        (
            "tolower(macro) = x",
            "unexpected 'macro' in the arguments of 'tolower': expected a field, "
            "a transformer, a quoted string or a number",
            9,
        ),
        ("tolower(a.b = x", "expected ',' or ')' in the arguments of 'tolower'", 13),
        ("tolower(a.b", "expected ')' to close 'tolower('", 1),
    ],
)
def test_transformer_errors(text: str, message: str, col: int) -> None:
    e = error(text)
    assert (e.message, where(e)) == (message, (1, col))


# --- values: quoting, escapes, numbers -------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ('"double"', "double"),
        ("'single'", "single"),
        ('""', ""),
        ('"with \\"escaped\\" quotes"', 'with "escaped" quotes'),
        ("'it\\'s'", "it's"),
        ("'mixed \"'", 'mixed "'),
        ('"mixed \'"', "mixed '"),
        ('"back\\\\slash"', "back\\slash"),
        ('"tab\\tnl\\ncr\\rbs\\bff\\f"', "tab\tnl\ncr\rbs\bff\f"),
        ('"a\\/b"', "a/b"),
        ('"a\\ b"', "a\\b"),  # Falco reads a backslash before a blank as a backslash
        ('"nul\\x00 and \\x41"', "nul\x00 and A"),
        ('"utf-8 \\xc3\\xa9, not \\xff"', "utf-8 \u00e9, not \udcff"),
        ('"a\\\\"b"', 'a\\"b'),  # as in Falco, a quote after a backslash never closes
        ('"(not) a, transformer=(x)"', "(not) a, transformer=(x)"),
        ('"two\nlines"', "two\nlines"),
    ],
)
def test_quoted_values_are_unescaped(source: str, value: str) -> None:
    assert parse_condition(f"a.b = {source}") == eq("a.b", value)


@pytest.mark.parametrize(
    ("text", "message", "col"),
    [
        ("a.b = 'x", "unterminated string: missing closing '", 7),
        ('a.b = "x\\"', 'unterminated string: missing closing "', 7),
        ('a.b = "x\\\\"', 'unterminated string: missing closing "', 7),
        ('a.b = "\\x4"', "truncated escape \\x: it takes two hex digits, like \\x00", 8),
        ('a.b = "\\xg0"', "invalid escape \\xg0: it takes two hex digits", 8),
        ("a.b = 'a \\\" b'", 'invalid escape \\" in a \'-quoted string: write " alone', 10),
        ('a.b = "a \\\' b"', "invalid escape \\' in a \"-quoted string: write ' alone", 10),
        ("a.b = '\\d+'", "unsupported escape sequence \\d in a quoted string", 8),
        ('a.b = "x""', "unexpected '\"': expected 'and', 'or' or the end of the condition", 10),
    ],
)
def test_quoting_errors(text: str, message: str, col: int) -> None:
    e = error(text)
    assert (e.message, where(e)) == (message, (1, col))


@pytest.mark.parametrize(
    "number", ["0", "1000", "+1", "-1", "1.2", "-1.2", "-0.1222e+10", "5.", "0x12345", "0XaB00AB"]
)
def test_numbers(number: str) -> None:
    assert parse_condition(f"a.b >= {number}") == Compare(F("a.b"), ">=", L(number))


@pytest.mark.parametrize(
    ("text", "message", "col"),
    [
        ("a.b > abc", "expected a number after '>', found 'abc'", 7),
        ("a.b > '1'", "expected a number after '>', found '''", 7),
        ("a.b <", "expected a number after '<'", 6),
        ("a.b < 0xAAA.1", "unexpected '.1': expected 'and', 'or' or the end of the condition", 12),
        ("a.b >= 0aaaa", "unexpected 'aaaa': expected 'and', 'or' or the end of the condition", 9),
    ],
)
def test_number_errors(text: str, message: str, col: int) -> None:
    e = error(text)
    assert (e.message, where(e)) == (message, (1, col))


def test_string_operators_keep_number_like_values_as_written() -> None:
    assert parse_condition("a.b = !0.1222e+10") == eq("a.b", "!0.1222e+10")
    assert parse_condition("a.b = 0xAAA.1") == eq("a.b", "0xAAA.1")


@pytest.mark.parametrize(
    ("text", "message", "col"),
    [
        ("a.b = x,", "unexpected ',': expected 'and', 'or' or the end of the condition", 8),
        ("a.b = x=y", "unexpected '=': expected 'and', 'or' or the end of the condition", 8),
        ("a.b = b = 1", "unexpected '=': expected 'and', 'or' or the end of the condition", 9),
        ("a.b =", "expected a value after '='", 6),
        ("a.b = (x)", "'=' compares with one value; for several, use 'in (a, b)'", 7),
        (
            "a.b contains (x)",
            "'contains' compares with one value; for several, use a modifier, "
            "like 'contains anyof (a, b)'",
            14,
        ),
    ],
)
def test_bare_value_errors(text: str, message: str, col: int) -> None:
    e = error(text)
    assert (e.message, where(e)) == (message, (1, col))


# --- positions ------------------------------------------------------------------------


def test_positions_of_every_node_kind() -> None:
    text = "not tolower(a.b) in (x, 'y') and c.d[1] = val(e.f) or m"
    got = parse_condition(text)
    assert isinstance(got, Or)
    conj, macro = got.children
    assert isinstance(conj, And) and isinstance(macro, MacroRef)
    neg, cmp2 = conj.children
    assert isinstance(neg, Not) and isinstance(cmp2, Compare)
    cmp1 = neg.child
    assert isinstance(cmp1, Compare) and isinstance(cmp1.lhs, Transform)
    assert isinstance(cmp1.rhs, ListLit) and isinstance(cmp2.rhs, FieldValue)
    offsets = {
        "or": got.pos.offset,
        "and": conj.pos.offset,
        "not": neg.pos.offset,
        "compare": cmp1.pos.offset,
        "transform": cmp1.lhs.pos.offset,
        "inner field": cmp1.lhs.args[0].pos.offset,
        "list": cmp1.rhs.pos.offset,
        "quoted item": cmp1.rhs.items[1].pos.offset,
        "second compare": cmp2.pos.offset,
        "val": cmp2.rhs.pos.offset,
        "val field": cmp2.rhs.expr.pos.offset,
        "macro": macro.pos.offset,
    }
    assert offsets == {
        "or": 0,
        "and": 0,
        "not": 0,
        "compare": 4,
        "transform": 4,
        "inner field": 12,
        "list": 20,
        "quoted item": 24,
        "second compare": 33,
        "val": 42,
        "val field": 46,
        "macro": 54,
    }
    assert got.pos == Pos(0, 1, 1) and macro.pos == Pos(54, 1, 55)


MULTILINE = """\
spawned_process
  and (proc.name in (bash,
                     "zsh")
       or not fd.name startswith /etc)
  and proc.aname[2] = "sshd"
"""


def test_multiline_positions_are_line_and_column_in_the_text() -> None:
    got = parse_condition(MULTILINE)
    assert isinstance(got, And)
    macro, alt, cmp = got.children
    assert macro == M("spawned_process") and macro.pos == Pos(0, 1, 1)
    assert isinstance(alt, Or) and alt.pos.line == 2 and alt.pos.col == 8
    first, neg = alt.children
    assert isinstance(first, Compare) and isinstance(first.rhs, ListLit)
    assert first.rhs.items[1].pos.line == 3 and first.rhs.items[1].pos.col == 22
    assert isinstance(neg, Not) and (neg.pos.line, neg.pos.col) == (4, 11)
    assert isinstance(neg.child, Compare) and (neg.child.pos.line, neg.child.pos.col) == (4, 15)
    assert isinstance(cmp, Compare) and (cmp.pos.line, cmp.pos.col) == (5, 7)
    assert isinstance(cmp.rhs, Literal) and (cmp.rhs.pos.line, cmp.rhs.pos.col) == (5, 23)
    assert MULTILINE[cmp.rhs.pos.offset] == '"'


def test_multiline_error_positions() -> None:
    e = error("spawned_process\n  and proc.name in (bash,\n     zsh\n  and x")
    assert (e.message, where(e)) == ("expected ',' or ')' in the list, found 'and'", (4, 3))
    e = error("a and\n  b.c = 'open\n")
    assert where(e) == (2, 9)
    e = error("a and\r\n  b.c > x")
    assert (e.message, where(e)) == ("expected a number after '>', found 'x'", (2, 9))


# --- nesting depth ---------------------------------------------------------------------


def test_nesting_is_capped_without_recursion_error() -> None:
    deep_ok = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse_condition(deep_ok) == M("a")
    e = error("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert e.message == f"the condition is nested too deeply (more than {MAX_DEPTH} levels)"
    assert where(e) == (1, MAX_DEPTH + 1)
    e = error("not (" * 5000 + "a" + ")" * 5000)
    assert "nested too deeply" in e.message
    e = error("tolower(" * 500 + "a.b" + ")" * 500 + " = x")
    assert "nested too deeply" in e.message


def test_long_flat_chains_are_fine() -> None:
    got = parse_condition(" and ".join(f"f.x{i} = {i}" for i in range(3000)))
    assert isinstance(got, And) and len(got.children) == 3000
    assert parse_condition("not " * 3001 + "a") == Not(M("a"))


# --- output fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "expr", "end"),
    [
        ("%proc.name", 1, F("proc.name"), 10),
        ("file=%fd.name pid=%proc.pid", 19, F("proc.pid"), 27),
        ("g=%proc.aname[2]) x", 3, F("proc.aname", "2"), 16),
        ("%jevt.value[/a/b]:", 1, F("jevt.value", "/a/b"), 17),
        ('%x.y["a b"]', 1, F("x.y", "a b"), 11),
        ("%fd.name.", 1, F("fd.name"), 8),
        ("%tolower(proc.name) and", 1, T("tolower", F("proc.name")), 19),
        ("%concat(a.b, '-', c.d)", 1, T("concat", F("a.b"), L("-"), F("c.d")), 22),
    ],
)
def test_output_field(text: str, start: int, expr: FieldRef | Transform, end: int) -> None:
    assert parse_output_field(text, start) == (expr, end)


def test_output_field_positions_are_in_the_whole_text() -> None:
    expr, _ = parse_output_field("line one\nx=%proc.name", 12)
    assert expr.pos == Pos(12, 2, 4)


NO_FIELD = "expected a field (like proc.name) or a transformer (like tolower(proc.name))"


@pytest.mark.parametrize(
    ("text", "start", "message"),
    [
        ("100%", 4, NO_FIELD),
        ("% proc.name", 1, NO_FIELD),
        ("%name", 1, NO_FIELD),
        ("%foo(a.b)", 1, "unknown transformer 'foo'"),
        ("%val(a.b)", 1, "val() can only be used on the right-hand side of a comparison"),
        ("%a.b[", 1, "expected an argument inside 'a.b[...]'"),
        ("%tolower(a.b", 1, "expected ')' to close 'tolower('"),
        ("abc", 7, "no field at offset 7: it is outside the text"),
    ],
)
def test_output_field_errors(text: str, start: int, message: str) -> None:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_output_field(text, start)
    assert info.value.message == message


# --- the upstream rule files -----------------------------------------------------------


def _corpus_items() -> list[tuple[str, dict[str, object]]]:
    out = []
    for path in sorted(glob.glob(os.path.join(CORPUS, "*.yaml"))):
        with open(path, encoding="utf-8") as fh:
            for item in yaml.safe_load(fh) or []:
                if isinstance(item, dict):
                    out.append((os.path.basename(path), item))
    return out


@pytest.mark.skipif(not os.path.isdir(CORPUS), reason="shared Falco corpus not available")
def test_every_condition_and_exception_field_of_the_falco_rule_files_parses() -> None:
    items = _corpus_items()
    conditions = 0
    for name, item in items:
        what = f"{name}: {item.get('rule') or item.get('macro')}"
        cond = item.get("condition")
        if isinstance(cond, str):
            parsed: Expr = parse_condition(cond)
            assert parsed is not None, what
            conditions += 1
        for exc in item.get("exceptions") or []:  # type: ignore[attr-defined]
            fields = exc.get("fields") or []
            for field in [fields] if isinstance(fields, str) else fields:
                _, end = parse_output_field(field, 0)
                assert end == len(field), what
    assert conditions >= 500

"""Conformance: operators per type, operator modifiers, transformers (getopt included),
port service names and double fields, as libsinsp defines them.

Written by us from libsinsp's documented semantics (filter_compare.cpp's table of
operators per type, the cmp_operator_modifiers, filter_transformer and
filter_compiler unit tests): each case loads a one-rule file and asserts the alert,
or the error a user sees with its FILE:LINE:COL.
"""

from __future__ import annotations

from typing import Any

import pytest

from lanner import (
    Arg,
    FieldDef,
    FieldRegistry,
    FieldType,
    RuleLoadErrors,
    Source,
    compile_rules,
    load_rules_text,
)


def _getter(key: str) -> Any:
    def bind(_arg: str | None) -> Any:
        def extract(ev: Any) -> Any:
            v = ev.doc.get(key)
            return tuple(v) if isinstance(v, list) else v

        return extract

    return bind


_T = FieldType
# One field per libsinsp value type, each reading the document key after "c.".
SOURCE = Source(
    name="c",
    fields=FieldRegistry(
        FieldDef(name, ftype, name, _getter(name[2:]), Arg.NONE, is_list)
        for name, ftype, is_list in (
            ("c.str", _T.STRING, False),  # PT_CHARBUF
            ("c.path", _T.FSPATH, False),  # PT_FSPATH
            ("c.int", _T.INT, False),  # PT_INT64
            ("c.uint", _T.UINT, False),  # PT_UINT64
            ("c.dbl", _T.DOUBLE, False),  # PT_DOUBLE
            ("c.port", _T.PORT, False),  # PT_PORT
            ("c.bool", _T.BOOL, False),  # PT_BOOL
            ("c.ip", _T.IPADDR, False),  # PT_IPADDR
            ("c.net", _T.IPNET, False),  # PT_IPNET
            ("c.bytes", _T.BYTES, False),  # PT_BYTEBUF
            ("c.list", _T.STRING, True),  # a list of PT_CHARBUF
            ("c.args", _T.STRING, True),
        )
    ),
)


def _rules(condition: str, output: str) -> str:
    return (
        "- rule: r\n"
        "  desc: conformance\n"
        "  condition: |-\n"
        f"    {condition}\n"
        f"  output: {output}\n"
        "  priority: WARNING\n"
        "  source: c\n"
    )


def _engine(condition: str, output: str = "hit") -> Any:
    rules = load_rules_text(_rules(condition, output), name="c.yaml")
    return compile_rules(rules, sources=[SOURCE], match="all")


def fires(condition: str, doc: dict[str, Any]) -> bool:
    return [a.rule for a in _engine(condition).evaluate(doc, "c")] == ["r"]


def error(condition: str) -> str:
    with pytest.raises(RuleLoadErrors) as info:
        _engine(condition)
    return str(info.value.errors[0])


def at(condition: str, token: str) -> str:
    """FILE:LINE:COL of ``token`` in the condition (written on line 4, column 5)."""
    return f"c.yaml:4:{5 + condition.index(token)}"


# --- which operators each type takes ------------------------------------------------------

OPS = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
    "pmatch",
    "in",
    "intersects",
    "exists",
)
_NUMERIC = {"=", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"}
_EQUALITY = {"=", "!=", "in", "intersects", "exists"}
ACCEPTED = {
    "c.str": set(OPS) - {"bcontains", "bstartswith"},
    "c.path": set(OPS) - {"bcontains", "bstartswith"},
    "c.int": _NUMERIC,
    "c.uint": _NUMERIC,
    "c.dbl": _NUMERIC,
    "c.port": _NUMERIC,
    "c.bool": _EQUALITY,
    "c.ip": _EQUALITY,
    "c.net": _EQUALITY,
    "c.bytes": _EQUALITY | {"contains", "startswith", "endswith", "bcontains", "bstartswith"},
    "c.list": {"in", "intersects", "exists"},
}
VALUE = {
    "c.str": "a",
    "c.path": "/a",
    "c.int": "1",
    "c.uint": "1",
    "c.dbl": "1",
    "c.port": "80",
    "c.bool": "true",
    "c.ip": "10.0.0.1",
    "c.net": "10.0.0.0/8",
    "c.bytes": "6162",
    "c.list": "a",
}


def _check(field: str, op: str) -> str:
    if op == "exists":
        return f"{field} exists"
    # The grammar takes only a number after an ordering operator, whatever the field.
    value = "1" if op in ("<", "<=", ">", ">=") else VALUE[field]
    if op in ("in", "intersects", "pmatch"):
        return f"{field} {op} ({value})"
    return f"{field} {op} {value}"


MATRIX = [(f, op) for f in ACCEPTED for op in OPS]


@pytest.mark.parametrize(("field", "op"), MATRIX, ids=[f"{f} {op}" for f, op in MATRIX])
def test_operators_per_type(field: str, op: str) -> None:
    condition = _check(field, op)
    if op in ACCEPTED[field]:
        _engine(condition)
        return
    ftype = SOURCE.fields.get(field).type  # type: ignore[union-attr]
    if field == "c.list":
        message = f"list field '{field}' only supports 'exists', 'in' and 'intersects'"
    else:
        message = f"operator '{op}' is not supported for {ftype.value} field '{field}'"
    assert error(condition) == f"{at(condition, field)}: error: rule 'r': {message}"


DOC = {
    "str": "kubelet",
    "path": "/usr/bin/kubelet",
    "int": -5,
    "uint": 7,
    "dbl": 2.5,
    "port": 443,
    "bool": True,
    "ip": "10.1.2.3",
    "net": "10.1.2.3",
    "bytes": b"\x00kube\xff",
    "list": ["a", "b"],
    "args": ["-n", "-e", "/bin/sh", "host"],
}

SEMANTICS = [
    # strings: '<' and friends compare as strcmp does (the grammar wants a number there)
    ("c.str > 9", True),
    ("c.str < 9", False),
    ("c.str icontains BEL", True),
    ("c.path pmatch (/usr/bin)", True),
    ("c.path pmatch (/usr/bi)", False),
    ("c.str glob 'ku*t'", True),
    ("c.str regex 'ku.*'", True),
    ("c.str regex 'ube'", False),  # the whole value must match
    # numbers, doubles
    ("c.int < 0", True),
    ("c.int in (-5, 5)", True),
    ("c.uint >= 7", True),
    ("c.dbl > 2", True),
    ("c.dbl < 3", True),
    ("c.dbl = 2", False),
    ("c.dbl in (2, 3)", False),
    # booleans, addresses, networks
    ("c.bool = true", True),
    ("c.bool != false", True),
    ("c.ip = 10.1.2.3", True),
    ("c.ip in (10.9.9.9, 10.1.2.3)", True),
    ("c.net = 10.0.0.0/8", True),
    ("c.net != 10.0.0.0/8", False),
    # byte buffers: bcontains/bstartswith take hex bytes
    ("c.bytes bcontains 6b756265", True),
    ("c.bytes bstartswith 006b", True),
    ("c.bytes bstartswith 6b", False),
    ("c.bytes contains kube", True),
    # lists
    ("c.list in (a, b, c)", True),
    ("c.list in (a)", False),
    ("c.list intersects (b, z)", True),
]


@pytest.mark.parametrize(("condition", "expected"), SEMANTICS)
def test_operator_semantics(condition: str, expected: bool) -> None:
    assert fires(condition, DOC) is expected


@pytest.mark.parametrize("op", sorted(set(OPS) - {"exists"}))
def test_a_value_that_cannot_be_extracted_fails_every_operator(op: str) -> None:
    condition = _check("c.str", op) if op in ACCEPTED["c.str"] else _check("c.bytes", op)
    assert not fires(condition, {})
    assert fires(f"not {condition}", {})


# --- operator modifiers ---------------------------------------------------------------------

# 'op oneof (...)': exactly one value passes; 'anyof': at least one; 'allof': every one.
MODIFIER_CASES = [
    ("= oneof (kubelet, bash)", True),
    ("= oneof (bash, sh)", False),
    ("= oneof (kubelet, kubelet)", False),
    ("= anyof (kubelet, bash)", True),
    ("= anyof (bash, sh)", False),
    ("= allof (kubelet)", True),
    ("= allof (kubelet, bash)", False),
    ("= allof (kubelet, kubelet)", True),
    ("!= oneof (kubelet, kubelet, bash)", True),
    ("!= oneof (bash, sh)", False),  # both differ: that is two
    ("!= anyof (kubelet, bash)", True),
    ("!= anyof (kubelet)", False),
    ("!= allof (bash, sh)", True),
    ("!= allof (kubelet, bash)", False),
    ("contains oneof (kube, bash)", True),
    ("contains oneof (kube, let)", False),
    ("contains anyof (kube, let)", True),
    ("contains allof (kube, let)", True),
    ("contains allof (kube, bash)", False),
    ("icontains oneof (KUBE, BASH)", True),
    ("icontains anyof (BASH, SH)", False),
    ("icontains allof (KUBE, LET)", True),
    ("startswith oneof (ku, bash)", True),
    ("startswith oneof (ku, kub)", False),
    ("startswith anyof (bash, kub)", True),
    ("startswith allof (ku, kub)", True),
    ("startswith allof (ku, bash)", False),
    ("endswith oneof (let, sh)", True),
    ("endswith anyof (sh, bash)", False),
    ("endswith allof (let, elet)", True),
    ("glob oneof (ku*, bash)", True),
    ("glob oneof (ku*, *let)", False),
    ("glob anyof (ku*, *let)", True),
    ("glob allof (ku*, *let)", True),
    ("glob allof (ku*, sh*)", False),
    ("iglob oneof (KU*, BASH)", True),
    ("iglob allof (KU*, *LET)", True),
    ("regex oneof (ku.*, b.*)", True),
    ("regex oneof (ku.*, .*let)", False),
    ("regex anyof (b.*, .*let)", True),
    ("regex allof (ku.*, .*let)", True),
    ("regex allof (ku.*, b.*)", False),
    # an empty list holds for no modifier
    ("= oneof ()", False),
    ("= anyof ()", False),
    ("= allof ()", False),
    ("!= oneof ()", False),
    ("!= anyof ()", False),
    ("!= allof ()", False),
]


@pytest.mark.parametrize(("rest", "expected"), MODIFIER_CASES)
def test_modifiers_with_each_string_operator(rest: str, expected: bool) -> None:
    assert fires(f"c.str {rest}", DOC) is expected


TYPED_MODIFIER_CASES = [
    ("c.int = anyof (1, -5)", True),
    ("c.int != allof (1, 2)", True),
    ("c.uint = oneof (7, 7)", False),
    ("c.port = anyof (http, https)", True),
    ("c.ip = oneof (10.1.2.3, 10.9.9.9)", True),
    ("c.ip != allof (10.9.9.9, 10.8.8.8)", True),
    ("c.bytes bcontains anyof (6b756265, 7878)", True),
    ("c.bytes bstartswith allof (00, 006b)", True),
    ("toupper(c.str) = oneof (KUBELET, BASH)", True),
    ("toupper(c.str) != allof (KUBELET, BASH)", False),
]


@pytest.mark.parametrize(("condition", "expected"), TYPED_MODIFIER_CASES)
def test_modifiers_on_other_types_and_transformed_values(condition: str, expected: bool) -> None:
    assert fires(condition, DOC) is expected


def test_a_modifier_over_a_missing_value_is_false() -> None:
    assert not fires("c.str != allof (a, b)", {})


# --- transformers -------------------------------------------------------------------------

TRANSFORMER_CASES = [
    ("tolower(c.str) = kubelet", {"str": "KubeLet"}, True),
    ("toupper(c.path) = /USR/BIN", {"path": "/usr/bin"}, True),
    ("basename(c.path) = kubelet", {}, True),
    ('b64(c.str) = "kube"', {"str": "a3ViZQ=="}, True),
    ("b64(c.str) exists", {"str": "not base64!"}, False),
    ("len(c.str) = 7", {}, True),
    ("len(c.list) = 2", {}, True),
    ("len(c.bytes) = 6", {}, True),
    ('join("/", c.list) = a/b', {}, True),
    ('join("-", (c.str, "x", c.list)) = kubelet-x-a-b', {}, True),
    ('concat(c.str, ":", c.path) = kubelet:/usr/bin/kubelet', {}, True),
    ("concat(c.str, c.path) exists", {"path": None}, False),  # c.path missing
    ('getopt(c.args, "ne:") intersects (n, e, "/bin/sh")', {}, True),
    ('getopt(c.args, "ne:")[e] = "/bin/sh"', {}, True),
    ('getopt(c.args, "ne:")[x] exists', {}, False),
    ('getopt(c.args, "e:") intersects ("?")', {}, True),  # -n is not in the optstring
    ('getopt(("-abc", "v"), "abc:") intersects (a, b, c, v)', {}, True),
    ('getopt(("-x", "--", "-y"), "xy") intersects (y)', {}, False),
    ('len(getopt(c.args, "ne:")) = 3', {}, True),
    ("c.str = tolower(c.str)", {}, True),
]


@pytest.mark.parametrize(("condition", "doc", "expected"), TRANSFORMER_CASES)
def test_transformers(condition: str, doc: dict[str, Any], expected: bool) -> None:
    assert fires(condition, {**DOC, **doc} if doc else DOC) is expected


# Which value types each transformer takes (libsinsp's transform_type).
# A per-value transformer takes a list of a type it takes: each item is transformed.
TRANSFORMER_TYPES = {
    "tolower": {"c.str", "c.path", "c.list"},
    "toupper": {"c.str", "c.path", "c.list"},
    "basename": {"c.str", "c.path", "c.list"},
    "b64": {"c.str", "c.path", "c.bytes", "c.list"},
    "len": {"c.str", "c.path", "c.bytes", "c.list"},
}
TYPE_CASES = [(t, f) for t in TRANSFORMER_TYPES for f in VALUE]


@pytest.mark.parametrize(("name", "field"), TYPE_CASES, ids=[f"{t}({f})" for t, f in TYPE_CASES])
def test_transformer_input_types(name: str, field: str) -> None:
    condition = f"{name}({field}) exists"
    if field in TRANSFORMER_TYPES[name]:
        _engine(condition)
        return
    ftype = SOURCE.fields.get(field).type  # type: ignore[union-attr]
    assert error(condition) == (
        f"{at(condition, name)}: error: rule 'r': transformer '{name}' does not support "
        f"{ftype.value} field '{field}'"
    )


TRANSFORMER_ERRORS = [
    (
        'getopt(c.str, "n") exists',
        "c.str",
        "the first argument of getopt() must be a list "
        "field or a (...) list, 'c.str' is a single value",
    ),
    (
        "getopt(c.args, c.list) exists",
        "c.list",
        "the second argument of getopt() must be a single value, 'c.list' is a list",
    ),
    (
        'getopt(c.args, "n")[""] exists',
        "getopt",
        "the argument of getopt() must be a single option character, not ''",
    ),
    (
        "tolower(c.str)[a] exists",
        "tolower",
        "transformer 'tolower' does not take an argument ('[a]')",
    ),
    ("concat(c.str, c.int) exists", "c.int", "concat() takes strings, 'c.int' is int64"),
    (
        'join(c.list, ("a")) exists',
        "c.list",
        "the separator of join() must be a single value, 'c.list' is a list",
    ),
]


@pytest.mark.parametrize(("condition", "token", "message"), TRANSFORMER_ERRORS)
def test_transformer_type_errors(condition: str, token: str, message: str) -> None:
    assert error(condition) == f"{at(condition, token)}: error: rule 'r': {message}"


ARITY_ERRORS = [
    ("getopt(c.args) exists", "getopt() takes two arguments: a list of arguments and an optstring"),
    (
        'getopt("-n", "n") exists',
        "the first argument of getopt() must be a list field or a (...) list",
    ),
    ("concat(c.str) exists", "concat() takes two or more arguments"),
    ('join(",", "a") exists', "the second argument of join() must be a list field or a (...) list"),
]


@pytest.mark.parametrize(("condition", "message"), ARITY_ERRORS)
def test_transformer_arity_errors(condition: str, message: str) -> None:
    assert error(condition) == f"c.yaml:4:5: error: in rule 'r': {message}"


# --- values: port service names, doubles ---------------------------------------------------

PORT_CASES = [
    ("c.port = https", True),  # looked up as getservbyname(3) does
    ("c.port = 443", True),
    ("c.port != https", False),
    ("c.port in (http, ssh)", False),
    ("c.port in (ssh, https)", True),
    ("c.port > 442", True),
]


@pytest.mark.parametrize(("condition", "expected"), PORT_CASES)
def test_port_service_names(condition: str, expected: bool) -> None:
    assert fires(condition, DOC) is expected


@pytest.mark.parametrize("value", ["no-such-service", "0x50", "-1", "80.0"])
def test_a_port_constant_is_digits_or_a_service_name(value: str) -> None:
    condition = f"c.port = {value}"
    assert error(condition) == (
        f"{at(condition, value)}: error: rule 'r': '{value}' is not a valid port value for "
        "'c.port' (a number or a service name)"
    )


@pytest.mark.parametrize("value", ["1.0", "2.5", "0x1", "1e3"])
def test_double_constants_are_whole_decimal_numbers(value: str) -> None:
    condition = f"c.dbl = {value}"
    assert error(condition) == (
        f"{at(condition, value)}: error: rule 'r': '{value}' is not a valid double value for "
        "'c.dbl' (Falco reads only whole numbers for double fields)"
    )


def test_double_values_keep_their_fraction() -> None:
    assert fires("c.dbl > 2 and c.dbl < 3", {"dbl": 2.5})
    assert fires("c.dbl = 3", {"dbl": 3.0})
    assert not fires("c.dbl = 3", {"dbl": 3.000001})


# --- integer constants, as libsinsp's sscanf("%ld%c")-style number parser reads them ---------

INTEGER_CASES = [
    ("c.int = +5", 5, True),  # a sign is part of the number
    ("c.int = 007", 7, True),  # decimal, leading zeros and all (not octal)
    ('c.int = " 5"', 5, True),  # blanks before the number are skipped
    ("c.int = -5", -5, True),
    ("c.int = 99999999999999999999", 2**63 - 1, True),  # saturated, not refused
    ("c.uint = -1", 2**64 - 1, True),  # unsigned: -N is 2**64 - N
    ("c.uint > -1", 7, False),  # ... so nothing is above -1
    ("c.uint < -1", 7, True),
    ("c.dbl = 4294967298", 2.0, True),  # a double's constant is a 32-bit int, cut to width
]


@pytest.mark.parametrize(("condition", "value", "expected"), INTEGER_CASES)
def test_integer_constants_read_as_libsinsp_reads_them(
    condition: str, value: int, expected: bool
) -> None:
    field = condition.split()[0][2:]
    assert fires(condition, {field: value}) is expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("c.int", "0x2a"),  # hexadecimal: Falco reads the 0 and refuses the rest
        ("c.int", "1.0"),
        ("c.int", "1e3"),
        ("c.int", "1_000"),
        ("c.int", "'5 '"),  # nothing may follow the number, not even a blank
        ("c.int", "''"),
        ("c.int", "'٣'"),  # only ASCII digits
        ("c.uint", "0x10"),
        ("c.uint", "2.0"),
    ],
)
def test_integer_constants_falco_refuses(field: str, value: str) -> None:
    condition = f"{field} = {value}"
    ftype = SOURCE.fields.get(field).type  # type: ignore[union-attr]
    assert error(condition) == (
        f"{at(condition, value)}: error: rule 'r': '{value.strip(chr(39))}' is not a valid "
        f"{ftype.value} value for '{field}'"
    )


def test_integer_constants_in_lists_and_modifiers_are_read_the_same_way() -> None:
    assert fires("c.int in (+1, 007)", {"int": 7})
    assert fires("c.int = anyof (+1, 007)", {"int": 7})
    condition = "c.int in (1, 0x2)"
    assert error(condition) == (
        f"{at(condition, '0x2')}: error: rule 'r': '0x2' is not a valid int64 value for 'c.int'"
    )

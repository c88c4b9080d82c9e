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
from typedsource import TYPED, at, engine, load_error, matches

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
    "t.str": set(OPS) - {"bcontains", "bstartswith"},
    "t.path": set(OPS) - {"bcontains", "bstartswith"},
    "t.int": _NUMERIC,
    "t.uint": _NUMERIC,
    "t.dbl": _NUMERIC,
    "t.port": _NUMERIC,
    "t.bool": _EQUALITY,
    "t.ip": _EQUALITY,
    "t.net": _EQUALITY,
    "t.bytes": _EQUALITY | {"contains", "startswith", "endswith", "bcontains", "bstartswith"},
    "t.list": {"in", "intersects", "exists"},
}
VALUE = {
    "t.str": "a",
    "t.path": "/a",
    "t.int": "1",
    "t.uint": "1",
    "t.dbl": "1",
    "t.port": "80",
    "t.bool": "true",
    "t.ip": "10.0.0.1",
    "t.net": "10.0.0.0/8",
    "t.bytes": "6162",
    "t.list": "a",
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
        engine(condition)
        return
    ftype = TYPED.fields.get(field).type  # type: ignore[union-attr]
    if field == "t.list":
        message = f"list field '{field}' only supports 'exists', 'in' and 'intersects'"
    else:
        message = f"operator '{op}' is not supported for {ftype.value} field '{field}'"
    assert load_error(condition) == f"{at(condition, field)}: error: rule 'r': {message}"


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
    ("t.str > 9", True),
    ("t.str < 9", False),
    ("t.str icontains BEL", True),
    ("t.path pmatch (/usr/bin)", True),
    ("t.path pmatch (/usr/bi)", False),
    ("t.str glob 'ku*t'", True),
    ("t.str regex 'ku.*'", True),
    ("t.str regex 'ube'", False),  # the whole value must match
    # numbers, doubles
    ("t.int < 0", True),
    ("t.int in (-5, 5)", True),
    ("t.uint >= 7", True),
    ("t.dbl > 2", True),
    ("t.dbl < 3", True),
    ("t.dbl = 2", False),
    ("t.dbl in (2, 3)", False),
    # booleans, addresses, networks
    ("t.bool = true", True),
    ("t.bool != false", True),
    ("t.ip = 10.1.2.3", True),
    ("t.ip in (10.9.9.9, 10.1.2.3)", True),
    ("t.net = 10.0.0.0/8", True),
    ("t.net != 10.0.0.0/8", False),
    # byte buffers: bcontains/bstartswith take hex bytes
    ("t.bytes bcontains 6b756265", True),
    ("t.bytes bstartswith 006b", True),
    ("t.bytes bstartswith 6b", False),
    ("t.bytes contains kube", True),
    # lists
    ("t.list in (a, b, c)", True),
    ("t.list in (a)", False),
    ("t.list intersects (b, z)", True),
]


@pytest.mark.parametrize(("condition", "expected"), SEMANTICS)
def test_operator_semantics(condition: str, expected: bool) -> None:
    assert matches(condition, DOC) is expected


@pytest.mark.parametrize("op", sorted(set(OPS) - {"exists"}))
def test_a_value_that_cannot_be_extracted_fails_every_operator(op: str) -> None:
    condition = _check("t.str", op) if op in ACCEPTED["t.str"] else _check("t.bytes", op)
    assert not matches(condition, {})
    assert matches(f"not {condition}", {})


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
    assert matches(f"t.str {rest}", DOC) is expected


TYPED_MODIFIER_CASES = [
    ("t.int = anyof (1, -5)", True),
    ("t.int != allof (1, 2)", True),
    ("t.uint = oneof (7, 7)", False),
    ("t.port = anyof (http, https)", True),
    ("t.ip = oneof (10.1.2.3, 10.9.9.9)", True),
    ("t.ip != allof (10.9.9.9, 10.8.8.8)", True),
    ("t.bytes bcontains anyof (6b756265, 7878)", True),
    ("t.bytes bstartswith allof (00, 006b)", True),
    ("toupper(t.str) = oneof (KUBELET, BASH)", True),
    ("toupper(t.str) != allof (KUBELET, BASH)", False),
]


@pytest.mark.parametrize(("condition", "expected"), TYPED_MODIFIER_CASES)
def test_modifiers_on_other_types_and_transformed_values(condition: str, expected: bool) -> None:
    assert matches(condition, DOC) is expected


def test_a_modifier_over_a_missing_value_is_false() -> None:
    assert not matches("t.str != allof (a, b)", {})


# --- transformers -------------------------------------------------------------------------

TRANSFORMER_CASES = [
    ("tolower(t.str) = kubelet", {"str": "KubeLet"}, True),
    ("toupper(t.path) = /USR/BIN", {"path": "/usr/bin"}, True),
    ("basename(t.path) = kubelet", {}, True),
    ('b64(t.str) = "kube"', {"str": "a3ViZQ=="}, True),
    ("b64(t.str) exists", {"str": "not base64!"}, False),
    ("len(t.str) = 7", {}, True),
    ("len(t.list) = 2", {}, True),
    ("len(t.bytes) = 6", {}, True),
    ('join("/", t.list) = a/b', {}, True),
    ('join("-", (t.str, "x", t.list)) = kubelet-x-a-b', {}, True),
    ('concat(t.str, ":", t.path) = kubelet:/usr/bin/kubelet', {}, True),
    ("concat(t.str, t.path) exists", {"path": None}, False),  # t.path missing
    ('getopt(t.args, "ne:") intersects (n, e, "/bin/sh")', {}, True),
    ('getopt(t.args, "ne:")[e] = "/bin/sh"', {}, True),
    ('getopt(t.args, "ne:")[x] exists', {}, False),
    ('getopt(t.args, "e:") intersects ("?")', {}, True),  # -n is not in the optstring
    ('getopt(("-abc", "v"), "abc:") intersects (a, b, c, v)', {}, True),
    ('getopt(("-x", "--", "-y"), "xy") intersects (y)', {}, False),
    ('len(getopt(t.args, "ne:")) = 3', {}, True),
    ("t.str = tolower(t.str)", {}, True),
]


@pytest.mark.parametrize(("condition", "doc", "expected"), TRANSFORMER_CASES)
def test_transformers(condition: str, doc: dict[str, Any], expected: bool) -> None:
    assert matches(condition, {**DOC, **doc} if doc else DOC) is expected


# Which value types each transformer takes (libsinsp's transform_type).
# A per-value transformer takes a list of a type it takes: each item is transformed.
TRANSFORMER_TYPES = {
    "tolower": {"t.str", "t.path", "t.list"},
    "toupper": {"t.str", "t.path", "t.list"},
    "basename": {"t.str", "t.path", "t.list"},
    "b64": {"t.str", "t.path", "t.bytes", "t.list"},
    "len": {"t.str", "t.path", "t.bytes", "t.list"},
}
TYPE_CASES = [(t, f) for t in TRANSFORMER_TYPES for f in VALUE]


@pytest.mark.parametrize(("name", "field"), TYPE_CASES, ids=[f"{t}({f})" for t, f in TYPE_CASES])
def test_transformer_input_types(name: str, field: str) -> None:
    condition = f"{name}({field}) exists"
    if field in TRANSFORMER_TYPES[name]:
        engine(condition)
        return
    ftype = TYPED.fields.get(field).type  # type: ignore[union-attr]
    assert load_error(condition) == (
        f"{at(condition, name)}: error: rule 'r': transformer '{name}' does not support "
        f"{ftype.value} field '{field}'"
    )


TRANSFORMER_ERRORS = [
    (
        'getopt(t.str, "n") exists',
        "t.str",
        "the first argument of getopt() must be a list "
        "field or a (...) list, 't.str' is a single value",
    ),
    (
        "getopt(t.args, t.list) exists",
        "t.list",
        "the second argument of getopt() must be a single value, 't.list' is a list",
    ),
    (
        'getopt(t.args, "n")[""] exists',
        "getopt",
        "the argument of getopt() must be a single option character, not ''",
    ),
    (
        "tolower(t.str)[a] exists",
        "tolower",
        "transformer 'tolower' does not take an argument ('[a]')",
    ),
    ("concat(t.str, t.int) exists", "t.int", "concat() takes strings, 't.int' is int64"),
    (
        'join(t.list, ("a")) exists',
        "t.list",
        "the separator of join() must be a single value, 't.list' is a list",
    ),
]


@pytest.mark.parametrize(("condition", "token", "message"), TRANSFORMER_ERRORS)
def test_transformer_type_errors(condition: str, token: str, message: str) -> None:
    assert load_error(condition) == f"{at(condition, token)}: error: rule 'r': {message}"


ARITY_ERRORS = [
    ("getopt(t.args) exists", "getopt() takes two arguments: a list of arguments and an optstring"),
    (
        'getopt("-n", "n") exists',
        "the first argument of getopt() must be a list field or a (...) list",
    ),
    ("concat(t.str) exists", "concat() takes two or more arguments"),
    ('join(",", "a") exists', "the second argument of join() must be a list field or a (...) list"),
]


@pytest.mark.parametrize(("condition", "message"), ARITY_ERRORS)
def test_transformer_arity_errors(condition: str, message: str) -> None:
    assert load_error(condition) == f"t.yaml:4:5: error: in rule 'r': {message}"


# --- values: port service names, doubles ---------------------------------------------------

PORT_CASES = [
    ("t.port = https", True),  # looked up as getservbyname(3) does
    ("t.port = 443", True),
    ("t.port != https", False),
    ("t.port in (http, ssh)", False),
    ("t.port in (ssh, https)", True),
    ("t.port > 442", True),
]


@pytest.mark.parametrize(("condition", "expected"), PORT_CASES)
def test_port_service_names(condition: str, expected: bool) -> None:
    assert matches(condition, DOC) is expected


@pytest.mark.parametrize("value", ["no-such-service", "0x50", "-1", "80.0"])
def test_a_port_constant_is_digits_or_a_service_name(value: str) -> None:
    condition = f"t.port = {value}"
    assert load_error(condition) == (
        f"{at(condition, value)}: error: rule 'r': '{value}' is not a valid port value for "
        "'t.port' (a number or a service name)"
    )


@pytest.mark.parametrize("value", ["1.0", "2.5", "0x1", "1e3"])
def test_double_constants_are_whole_decimal_numbers(value: str) -> None:
    condition = f"t.dbl = {value}"
    assert load_error(condition) == (
        f"{at(condition, value)}: error: rule 'r': '{value}' is not a valid double value for "
        "'t.dbl' (Falco reads only whole numbers for double fields)"
    )


def test_double_values_keep_their_fraction() -> None:
    assert matches("t.dbl > 2 and t.dbl < 3", {"dbl": 2.5})
    assert matches("t.dbl = 3", {"dbl": 3.0})
    assert not matches("t.dbl = 3", {"dbl": 3.000001})


# --- integer constants, as libsinsp's sscanf("%ld%c")-style number parser reads them ---------

INTEGER_CASES = [
    ("t.int = +5", 5, True),  # a sign is part of the number
    ("t.int = 007", 7, True),  # decimal, leading zeros and all (not octal)
    ('t.int = " 5"', 5, True),  # blanks before the number are skipped
    ("t.int = -5", -5, True),
    ("t.int = 99999999999999999999", 2**63 - 1, True),  # saturated, not refused
    ("t.uint = -1", 2**64 - 1, True),  # unsigned: -N is 2**64 - N
    ("t.uint > -1", 7, False),  # ... so nothing is above -1
    ("t.uint < -1", 7, True),
    ("t.dbl = 4294967298", 2.0, True),  # a double's constant is a 32-bit int, cut to width
]


@pytest.mark.parametrize(("condition", "value", "expected"), INTEGER_CASES)
def test_integer_constants_read_as_libsinsp_reads_them(
    condition: str, value: int, expected: bool
) -> None:
    field = condition.split()[0][2:]
    assert matches(condition, {field: value}) is expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("t.int", "0x2a"),  # hexadecimal: Falco reads the 0 and refuses the rest
        ("t.int", "1.0"),
        ("t.int", "1e3"),
        ("t.int", "1_000"),
        ("t.int", "'5 '"),  # nothing may follow the number, not even a blank
        ("t.int", "''"),
        ("t.int", "'٣'"),  # only ASCII digits
        ("t.uint", "0x10"),
        ("t.uint", "2.0"),
    ],
)
def test_integer_constants_falco_refuses(field: str, value: str) -> None:
    condition = f"{field} = {value}"
    ftype = TYPED.fields.get(field).type  # type: ignore[union-attr]
    assert load_error(condition) == (
        f"{at(condition, value)}: error: rule 'r': '{value.strip(chr(39))}' is not a valid "
        f"{ftype.value} value for '{field}'"
    )


def test_integer_constants_in_lists_and_modifiers_are_read_the_same_way() -> None:
    assert matches("t.int in (+1, 007)", {"int": 7})
    assert matches("t.int = anyof (+1, 007)", {"int": 7})
    condition = "t.int in (1, 0x2)"
    assert load_error(condition) == (
        f"{at(condition, '0x2')}: error: rule 'r': '0x2' is not a valid int64 value for 't.int'"
    )

"""Field transformers (tolower, toupper, b64, basename, len, join, concat, getopt): their values,
nesting, use on the right-hand side and in outputs, and the errors they raise.

Expected values follow libsinsp's filter_transformer unit tests.
"""

from __future__ import annotations

from typing import Any

import pytest
from typedsource import at, engine, load_error, matches

# --- tolower, toupper -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "value"),
    [
        ("tolower(t.str) = hello", "HELLO"),
        ("tolower(t.str) = 'not excited'", "NoT eXcItED"),
        ("tolower(t.str) = one_1234", "ONE_1234"),
        ("tolower(t.str) = ''", ""),
        ("toupper(t.str) = HELLO", "hello"),
        ("toupper(t.str) = EXCITED", "eXcItED"),
        ("toupper(t.str) contains ELL", "hello"),
        ("tolower(t.path) startswith /usr/bin", "/USR/BIN/LS"),
    ],
)
def test_case_transformers(condition: str, value: str) -> None:
    field = condition[condition.index("(") + 3 : condition.index(")")]
    assert matches(condition, {field: value})


def test_case_transformers_apply_to_each_item_of_a_list() -> None:
    doc = {"list": ["HELLO", "wOrLd"]}
    assert matches("tolower(t.list) in (hello, world)", doc)
    assert not matches("t.list in (hello, world)", doc)
    assert matches("toupper(t.list) intersects (WORLD)", doc)
    assert matches("tolower(t.list) in (x)", {"list": []})  # an empty list stays a list


# --- basename -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/home/ubuntu/hello.txt", "hello.txt"),
        ("/usr/local/bin/cat", "cat"),
        ("/", ""),
        ("/hello/", ""),
        ("hello", "hello"),
        ("", ""),
        ("a/b", "b"),
    ],
)
def test_basename(path: str, name: str) -> None:
    assert matches(f"basename(t.path) = '{name}'", {"path": path})
    assert matches(f"basename(t.str) = '{name}'", {"str": path})


def test_basename_on_a_syscall_path() -> None:
    doc = {"evt.type": "open", "fd.name": "/tmp/file_to_run"}
    assert matches("basename(fd.name) = file_to_run", doc, "syscall")
    assert not matches("basename(fd.name) = /tmp/file_to_run", doc, "syscall")


# --- b64 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("aGVsbG8=", "hello"),
        ("d29ybGQgIQ==", "world !"),
        ("ay4=", "k."),
        ("ay4", "k."),  # padding is optional
        ("aw==", "k"),
        ("aw", "k"),
        ("", ""),
    ],
)
def test_b64_decodes(encoded: str, decoded: str) -> None:
    assert matches(f"b64(t.str) = '{decoded}'", {"str": encoded})


@pytest.mark.parametrize("garbage", ["!!!", "a", "a===", "aGV sbG8=", "aGVs=bG8"])
def test_b64_of_invalid_input_cannot_be_extracted(garbage: str) -> None:
    doc = {"str": garbage}
    assert not matches("b64(t.str) exists", doc)
    assert not matches("b64(t.str) != x", doc)
    assert matches("not b64(t.str) = x", doc)


def test_b64_on_a_byte_buffer_gives_bytes() -> None:
    assert matches("b64(t.bytes) bstartswith 68656c6c6f", {"bytes": b"aGVsbG8gd29ybGQ="})
    assert not matches("b64(t.bytes) exists", {"bytes": b"\x01\x02"})


# --- len ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "doc"),
    [
        ("len(t.str) = 22", {"str": "/home/ubuntu/hello.txt"}),
        ("len(t.str) = 1", {"str": "/"}),
        ("len(t.str) = 0", {"str": ""}),
        ("len(t.str) = 3", {"str": "é."}),  # bytes, as Falco counts them
        ("len(t.str) > 5", {"str": "123456"}),
        ("len(t.list) = 2", {"list": ["a", "b"]}),
        ("len(t.list) = 0", {"list": []}),
        ("len(t.nums) = 5", {"nums": [1, 2, 3, 4, 5]}),
        ("len(t.bytes) = 6", {"bytes": b"\x01\x02\x03\x04\x05\x06"}),
        ("len(t.path) = 16", {"path": "/tmp/file_to_run"}),
    ],
)
def test_len(condition: str, doc: dict[str, Any]) -> None:
    assert matches(condition, doc)


def test_len_of_a_missing_field_is_missing() -> None:
    assert not matches("len(t.list) = 0", {})
    assert not matches("len(t.str) >= 0", {})


def test_len_on_a_syscall_list_field() -> None:
    doc = {"evt.type": "open", "fd.types": ["ipv4", "file"]}
    assert matches("len(fd.types) = 2", doc, "syscall")
    assert not matches("len(fd.types) = 0", doc, "syscall")


# --- join ---------------------------------------------------------------------------------

FILE = {"path": "/tmp/file_to_run", "other": "/tmp", "list": ["a", "b", "c"], "int": 1}
JOIN_CASES = [
    ('join("-", t.list) = a-b-c', True),
    ('join("", t.list) = abc', True),
    ('join("-", (t.path, t.other)) = /tmp/file_to_run-/tmp', True),
    ("join(t.path, (t.path, t.other)) = /tmp/file_to_run/tmp/file_to_run/tmp", True),
    ('join("-", ("aaa", "bbb")) = aaa-bbb', True),
    ('join("->", ("aaa")) = aaa', True),
    ('join("->", (t.path, "aaa", t.other)) = /tmp/file_to_run->aaa->/tmp', True),
    ('join("->", (toupper(t.path), "aaa")) = /TMP/FILE_TO_RUN->aaa', True),
    (
        'join("-", (t.other, join("->", ("aaa", toupper(t.path))))) = /tmp-aaa->/TMP/FILE_TO_RUN',
        True,
    ),
    ('join(",", ("aaa", "bbb")) = "aaa,bbb"', True),
    ('join(",", ("aaa", "bbb")) = "aaa-bbb"', False),
    ('join(",", (t.int, t.int)) = "1,1"', True),
    ('join(",", ()) = ""', True),
    ('join(",", ()) = ","', False),
    ('join("+", (t.list, "d")) = a+b+c+d', True),
]


@pytest.mark.parametrize(("condition", "expected"), JOIN_CASES)
def test_join(condition: str, expected: bool) -> None:
    assert matches(condition, FILE) is expected


def test_join_with_a_missing_value_is_missing() -> None:
    assert not matches('join("-", (t.path, t.str)) exists', FILE)
    assert not matches("join(t.str, t.list) exists", FILE)
    assert not matches('join("-", t.nums) exists', FILE)


# --- concat -------------------------------------------------------------------------------

CONCAT_CASES = [
    ("concat(t.path, t.other) = /tmp/file_to_run/tmp", True),
    ('concat("aaa", "bbb") = aaabbb', True),
    ('concat("aaa", "bbb", "ccc") = aaabbbccc', True),
    ('concat(t.path, "aaa") = /tmp/file_to_runaaa', True),
    ('concat(t.path, "aaa", t.other) = /tmp/file_to_runaaa/tmp', True),
    ('concat(toupper(t.path), "aaa") = /TMP/FILE_TO_RUNaaa', True),
    ('concat(t.other, concat("aaa", toupper(t.path))) = /tmpaaa/TMP/FILE_TO_RUN', True),
    ('concat("aaa", "bbb") = "aaa-bbb"', False),
    ("concat(t.path, t.str) exists", False),  # t.str is missing
]


@pytest.mark.parametrize(("condition", "expected"), CONCAT_CASES)
def test_concat(condition: str, expected: bool) -> None:
    assert matches(condition, FILE) is expected


# --- getopt -------------------------------------------------------------------------------

# getopt(args, optstring): the short options of args as getopt(3) reads them.
GETOPT_CASES = [
    ('getopt(("-n", ""), "n") intersects (n)', True),
    ('getopt(("-t", "hello"), "t:") intersects (t, hello)', True),
    ('getopt(("-nt", "hello"), "nt:") intersects (n, t, hello)', True),
    ('getopt(("-thello"), "t:") intersects (t, hello)', True),
    ('getopt(("-n"), "n") intersects (t)', False),
    # '--' ends the options; a word that is not an option ends them too
    ('getopt(("-n", "--", "-t"), "nt:") intersects (t)', False),
    ('getopt(("--", "-n"), "n") intersects (n)', False),
    ('getopt(("arg1", "-n"), "n") intersects (n)', False),
    ('getopt(("-", "-n"), "n") intersects (n)', False),
    # an option not in the optstring is '?'; long options are skipped
    ('getopt(("-x", "-n"), "n") intersects ("?")', True),
    ('getopt(("-x", "-n"), "n") intersects (x)', False),
    ('getopt(("--exec", "-n"), "e:n") intersects (n)', True),
    ('getopt(("--exec"), "e:") intersects ("?")', False),
    # an option missing its value yields '' in place of its letter
    ('getopt(("-t"), "t:") intersects ("")', True),
    ('getopt(("-t"), "t:") intersects (t)', False),
    ('getopt(("-t"), ":t:") intersects (":")', False),
    ('getopt(("-lpe", "/bin/sh"), "lpe:") intersects ("/bin/sh")', True),
    ('getopt(("-l", "-p", "8080", "-e", "/bin/sh"), "lp:e:") intersects ("8080")', True),
    ('getopt(("-n", "-t"), "") intersects (n)', False),
    # the [x] form: the last value of option x, its letter for an option without value
    ('getopt(("-n", "-t", "hello"), "nt:")[t] = hello', True),
    ('getopt(("-n", "-t", "hello"), "nt:")[t] = n', False),
    ('getopt(("-n", "-t", "hello"), "nt:")[n] = n', True),
    ('getopt(("-t", "v1", "-t", "v2"), "t:")[t] = v2', True),
    ('getopt(("-t?"), "t:")[t] = "?"', True),
    ('getopt(("-t"), "t:")[t] = ""', True),
    ('getopt(("-t", "v1", "-t"), "t:")[t] = v1', False),
    ('getopt(("-n"), "nt:")[t] != ""', False),  # absent: the value is missing
    ('getopt(("-n"), "nt:")[t] exists', False),
    # from fields: the arguments as a list field, the optstring as a field
    ('getopt(t.list, "e:")[e] = /bin/sh', True),
    ("getopt(t.list, t.str) intersects (e)", True),
    ('len(getopt(t.list, "le:")) = 3', True),
]


@pytest.mark.parametrize(("condition", "expected"), GETOPT_CASES)
def test_getopt(condition: str, expected: bool) -> None:
    assert matches(condition, {"list": ["-l", "-e", "/bin/sh", "x"], "str": "e:"}) is expected


def test_getopt_of_a_missing_field_is_missing() -> None:
    assert not matches('getopt(t.list, "e:") intersects ("?")', {})
    assert matches('not getopt(t.list, "e:")[e] exists', {})


def test_getopt_in_an_output() -> None:
    eng = engine("t.list exists", output="'shell=%getopt(t.list, \"e:\")[e]'")
    [alert] = eng.evaluate({"list": ["-e", "/bin/sh"]}, "t")
    assert alert.message == "shell=/bin/sh"
    assert alert.output_fields == {"t.list": ["-e", "/bin/sh"]}


GETOPT_ERRORS = [
    (
        'getopt(t.str, "n") intersects (n)',
        "t.str",
        "the first argument of getopt() must be a list field or a (...) list, "
        "'t.str' is a single value",
    ),
    (
        "getopt(t.list, t.list2) intersects (n)",
        "t.list2",
        "the second argument of getopt() must be a single value, 't.list2' is a list",
    ),
    ('getopt(t.nums, "n") intersects (n)', "t.nums", "getopt() takes strings, 't.nums' is uint64"),
    (
        'getopt(t.list, "n")[""] = n',
        "getopt",
        "the argument of getopt() must be a single option character, not ''",
    ),
    (
        'getopt(t.list, "n")[nt] = n',
        "getopt",
        "the argument of getopt() must be a single option character, not 'nt'",
    ),
    ("tolower(t.str)[x] = y", "tolower", "transformer 'tolower' does not take an argument ('[x]')"),
    (
        'getopt(t.list, "n") = n',
        "getopt",
        "list field 'getopt(t.list, 'n')' only supports 'exists', 'in' and 'intersects'",
    ),
]


@pytest.mark.parametrize(("condition", "token", "message"), GETOPT_ERRORS)
def test_getopt_errors(condition: str, token: str, message: str) -> None:
    assert load_error(condition) == f"{at(condition, token)}: error: rule 'r': {message}"


GETOPT_PARSE_ERRORS = [
    (
        "getopt(t.list) intersects (n)",
        "getopt() takes two arguments: a list of arguments and an optstring",
    ),
    (
        'getopt(t.list, "n", "x") intersects (n)',
        "getopt() takes two arguments: a list of arguments and an optstring",
    ),
    (
        'getopt("-n", "n") intersects (n)',
        "the first argument of getopt() must be a list field or a (...) list",
    ),
]


@pytest.mark.parametrize(("condition", "message"), GETOPT_PARSE_ERRORS)
def test_getopt_arity_errors(condition: str, message: str) -> None:
    assert load_error(condition) == f"t.yaml:4:5: error: in rule 'r': {message}"


def test_a_list_where_getopt_takes_a_single_value() -> None:
    condition = 'getopt(("-n"), ("n")) intersects (n)'
    where = at(condition, '("n")')
    assert load_error(condition) == (
        f"{where}: error: in rule 'r': "
        "a parenthesised list can only be the first argument of getopt()"
    )


# --- nesting and the right-hand side ------------------------------------------------------

NESTED_CASES = [
    ('toupper(join("-", (t.path, t.other))) = /TMP/FILE_TO_RUN-/TMP', True),
    ('tolower(join("-", ("AAA", "BBB"))) = aaa-bbb', True),
    ('len(join("-", (t.path, t.other))) = 21', True),
    ('len(join("-", ("aaa", "bbb"))) = 7', True),
    ('b64(join("W", ("YWFhL", "JiYg"))) = "aaa-bbb"', True),
    ('toupper(tolower(join("-", (t.path, t.other)))) = /TMP/FILE_TO_RUN-/TMP', True),
    ('toupper(join("-", (t.path, t.other))) startswith /TMP', True),
    ('len(join("-", (t.path, t.other))) < 22', True),
    ("len(concat(t.path, t.other)) = 20", True),
    ('b64(concat("YWFh", "YmJi")) = "aaabbb"', True),
    ("toupper(tolower(concat(t.path, t.other))) = /TMP/FILE_TO_RUN/TMP", True),
    ("basename(toupper(t.path)) = FILE_TO_RUN", True),
    ("len(basename(t.path)) = 11", True),
    ("len(tolower(t.list)) = 3", True),
]


@pytest.mark.parametrize(("condition", "expected"), NESTED_CASES)
def test_nested_transformers(condition: str, expected: bool) -> None:
    assert matches(condition, FILE) is expected


RHS_CASES = [
    ("t.str = tolower(t.other)", {"str": "abc", "other": "ABC"}, True),
    ("tolower(t.str) = tolower(t.other)", {"str": "aBc", "other": "AbC"}, True),
    ("t.str = val(t.other)", {"str": "abc", "other": "ABC"}, False),
    ("tolower(t.str) = val(t.other)", {"str": "ABC", "other": "abc"}, True),
    ("t.str contains basename(t.path)", {"str": "x-cat-y", "path": "/bin/cat"}, True),
    ("t.int = len(t.str)", {"int": 3, "str": "abc"}, True),
    ("t.str = concat(t.other, t.other)", {"str": "abab", "other": "ab"}, True),
    ("t.str in tolower(t.list)", {"str": "b", "list": ["A", "B"]}, True),
]


@pytest.mark.parametrize(("condition", "doc", "expected"), RHS_CASES)
def test_transformers_on_the_right_hand_side(
    condition: str, doc: dict[str, Any], expected: bool
) -> None:
    assert matches(condition, doc) is expected


def test_val_takes_a_field_not_a_transformer() -> None:
    condition = "t.str = val(tolower(t.other))"
    assert load_error(condition) == (
        f"{at(condition, 'val(')}: error: in rule 'r': "
        "val() takes exactly one field, like val(proc.pname)"
    )


# --- errors -------------------------------------------------------------------------------

ERROR_CASES = [
    ("tolower(t.int) = x", "tolower", "transformer 'tolower' does not support int64 field 't.int'"),
    (
        "toupper(t.bool) = x",
        "toupper",
        "transformer 'toupper' does not support bool field 't.bool'",
    ),
    (
        "basename(t.bytes) = x",
        "basename",
        "transformer 'basename' does not support bytebuf field 't.bytes'",
    ),
    ("b64(t.ip) = x", "b64", "transformer 'b64' does not support ipaddr field 't.ip'"),
    ("len(t.int) = 1", "len", "transformer 'len' does not support int64 field 't.int'"),
    ("len(t.bool) = 1", "len", "transformer 'len' does not support bool field 't.bool'"),
    ("tolower(t.nope) = x", "t.nope", "unknown field 't.nope' for source 't'"),
    ("concat(t.str, t.int) = x", "t.int", "concat() takes strings, 't.int' is int64"),
    ('concat(t.list, "a") = x', "t.list", "concat() takes strings, 't.list' is a list"),
    (
        'join(t.list, ("a", "b")) = x',
        "t.list",
        "the separator of join() must be a single value, 't.list' is a list",
    ),
    (
        "len(t.str) contains 1",
        "len",
        "operator 'contains' is not supported for uint64 field 'len(t.str)'",
    ),
    (
        "tolower(t.list) = x",
        "tolower",
        "list field 'tolower(t.list)' only supports 'exists', 'in' and 'intersects'",
    ),
]


@pytest.mark.parametrize(("condition", "token", "message"), ERROR_CASES)
def test_transformer_errors(condition: str, token: str, message: str) -> None:
    assert load_error(condition) == f"{at(condition, token)}: error: rule 'r': {message}"


PARSE_ERROR_CASES = [
    ('join("-") = x', "join() takes two arguments: a separator and a list"),
    ('join("-", "a", "b") = x', "join() takes two arguments: a separator and a list"),
    ('concat("aaa") = x', "concat() takes two or more arguments"),
    ("tolower(t.str, t.other) = x", "transformer 'tolower' takes exactly one field argument"),
    ('tolower("abc") = x', "transformer 'tolower' takes exactly one field argument"),
]


@pytest.mark.parametrize(("condition", "message"), PARSE_ERROR_CASES)
def test_transformer_arity_errors(condition: str, message: str) -> None:
    assert load_error(condition) == f"t.yaml:4:5: error: in rule 'r': {message}"


@pytest.mark.parametrize(
    "condition",
    ["tolower(proc.aname) = bash", "len(proc.aname) = 2", 'concat(proc.aname, "x") = y'],
)
def test_ancestor_fields_without_an_index_take_no_transformer(condition: str) -> None:
    assert load_error(condition, "syscall") == (
        f"{at(condition, 'proc.aname')}: error: rule 'r': field 'proc.aname' does not support "
        f"transformers ('{condition.split('(')[0]}')"
    )


def test_ancestor_fields_with_an_index_take_transformers() -> None:
    doc = {"evt.type": "execve", "proc.aname": ["cat", "BASH"]}
    assert matches("tolower(proc.aname[1]) = bash", doc, "syscall")


# --- in outputs ---------------------------------------------------------------------------


def test_transformers_in_outputs() -> None:
    eng = engine(
        "t.str exists",
        output="'%tolower(t.str) %len(t.list) %join(\",\", t.list) %basename(t.path)'",
    )
    [alert] = eng.evaluate({"str": "MiXeD", "list": ["a", "b"], "path": "/bin/ls"}, "t")
    assert alert.message == "mixed 2 a,b ls"
    # Falco keeps transformed values out of output_fields, but keeps the plain
    # fields they read, untransformed.
    assert alert.output_fields == {"t.str": "MiXeD", "t.list": ["a", "b"], "t.path": "/bin/ls"}


def test_a_transformer_over_a_missing_value_renders_na_in_outputs() -> None:
    eng = engine("t.int exists", output="'%toupper(t.str)|%b64(t.other)'")
    [alert] = eng.evaluate({"int": 1, "other": "!!!"}, "t")
    assert alert.message == "<NA>|<NA>"
    assert alert.output_fields == {"t.str": None, "t.other": "!!!"}

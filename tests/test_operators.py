"""Operators, modifiers, typed values and errors of the condition language, and the
evttype index, checked the way a user meets them: rules YAML -> compile_rules -> evaluate.

Expected results follow Falco's libsinsp (filter_compare.cpp, sinsp_filtercheck.cpp,
the cmp_operator_modifiers and pmatch unit tests).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typedsource import TYPED, at, engine, load_error, matches, rules_text

from lanner import RuleLoadErrors, builtin_sources, compile_rules, load_rules_text
from lanner.condition.index import infer
from lanner.condition.parser import parse_condition

# --- a field that cannot be extracted -----------------------------------------------------

MISSING_FIELD_CHECKS = [
    "t.str = abc",
    "t.str != abc",
    "t.str contains a",
    "t.str icontains a",
    "t.str startswith a",
    "t.str endswith a",
    "t.str glob *",
    "t.str iglob *",
    "t.str regex .*",
    "t.str in (a, b)",
    "t.str intersects (a, b)",
    "t.str pmatch (/)",
    "t.str < 100",
    "t.str != anyof (a, b)",
    "t.str != allof (a, b)",
    "t.int = 1",
    "t.int != 1",
    "t.int < 10",
    "t.int >= -10",
    "t.bool != true",
    "t.bool != false",
    "t.ip != 10.0.0.1",
    "t.net != 10.0.0.0/8",
    "t.bytes != abc",
    "t.bytes bcontains 00",
    "t.list in (a)",
    "t.list intersects (a)",
    "tolower(t.str) != x",
    "t.other != val(t.str)",
    "t.str != val(t.other)",
]


@pytest.mark.parametrize("check", MISSING_FIELD_CHECKS)
def test_a_missing_field_makes_every_comparison_false(check: str) -> None:
    doc = {"other": "x"}  # t.other exists, everything else is missing
    assert not matches(check, doc)
    assert matches(f"not ({check})", doc)


@pytest.mark.parametrize("check", ["t.str exists", "t.list exists", "t.int exists"])
def test_exists_is_false_only_for_missing_fields(check: str) -> None:
    assert not matches(check, {})
    assert matches(f"not {check}", {})
    assert matches(check, {"str": "", "list": [], "int": 0})


# --- string operators -------------------------------------------------------------------

STRING_CASES = [
    # condition, value of t.str, expected
    ("t.str = nginx", "nginx", True),
    ("t.str == nginx", "nginx", True),
    ("t.str = nginx", "nginx2", False),
    ("t.str = NGINX", "nginx", False),
    ("t.str != nginx", "nginx2", True),
    ("t.str != nginx", "nginx", False),
    ("t.str = ''", "", True),
    ("t.str contains gin", "nginx", True),
    ("t.str contains GIN", "nginx", False),
    ("t.str contains ''", "nginx", True),
    ("t.str icontains GIN", "nGiNx", True),
    ("t.str icontains xyz", "nginx", False),
    ("t.str startswith ngi", "nginx", True),
    ("t.str startswith gin", "nginx", False),
    ("t.str endswith inx", "nginx", True),
    ("t.str endswith ngi", "nginx", False),
    # strings order like strcmp
    ("t.str > 100", "abc", True),
    ("t.str < 100", "abc", False),
    ("t.str <= 2", "10", True),
    ("t.str >= 10", "10", True),
    # in / intersects with list literals; quoted items keep blanks and commas
    ("t.str in (bash, sh, zsh)", "sh", True),
    ("t.str in (bash, sh, zsh)", "s", False),
    ("t.str in ()", "sh", False),
    ('t.str in ("a b", "c,d")', "a b", True),
    ('t.str in ("a b", "c,d")', "c,d", True),
    ('t.str in ("a b", "c,d")', "c", False),
    ("t.str intersects (bash, sh)", "bash", True),
]


@pytest.mark.parametrize(("condition", "value", "expected"), STRING_CASES)
def test_string_operators(condition: str, value: str, expected: bool) -> None:
    assert matches(condition, {"str": value}) is expected


QUOTING_CASES = [
    ('t.str = "a b"', "a b"),
    ("t.str = 'a b'", "a b"),
    ('t.str = "say \\"hi\\""', 'say "hi"'),
    ("t.str = 'it\\'s'", "it's"),
    ('t.str = "it\'s"', "it's"),
    ('t.str = "tab\\there"', "tab\there"),
    ('t.str = "line\\nbreak"', "line\nbreak"),
    ('t.str = "back\\\\slash"', "back\\slash"),
    ("t.str = C:\\dir", "C:\\dir"),
    ('t.str = "(not) and or"', "(not) and or"),
    ("t.str = 'a=b'", "a=b"),
]


@pytest.mark.parametrize(("condition", "value"), QUOTING_CASES)
def test_quoted_values_and_escapes(condition: str, value: str) -> None:
    assert matches(condition, {"str": value})
    assert not matches(condition, {"str": value + "x"})


# --- glob, iglob, regex, pmatch -----------------------------------------------------------

GLOB_CASES = [
    ("t.str glob /etc/*", "/etc/passwd", True),
    ("t.str glob /etc/*", "/etc/ssh/sshd_config", True),  # '*' crosses '/'
    ("t.str glob /etc/*", "/etc", False),
    ("t.str glob *.conf", "/etc/nginx.conf", True),
    ("t.str glob /home/*/.ssh/*", "/home/bob/.ssh/id_rsa", True),
    ("t.str glob /home/*/.ssh/*", "/root/.ssh/id_rsa", False),
    ("t.str glob a?c", "abc", True),
    ("t.str glob a?c", "ac", False),
    ("t.str glob a[bc]d", "acd", True),
    ("t.str glob a[bc]d", "aed", False),
    ("t.str glob a[!bc]d", "aed", True),
    ("t.str glob a[!bc]d", "abd", False),
    ("t.str glob a[a-c]d", "abd", True),
    ("t.str glob a[[:digit:]]", "a7", True),
    ("t.str glob a[[:digit:]]", "ax", False),
    ("t.str glob a\\*", "a*", True),
    ("t.str glob a\\*", "ab", False),
    ("t.str glob a.c", "abc", False),  # '.' is literal in a glob
    ("t.str glob ABC", "abc", False),
    ("t.str iglob ABC", "abc", True),
    ("t.str iglob /ETC/*", "/etc/Passwd", True),
    ("t.str iglob a[B]c", "abc", True),
]


@pytest.mark.parametrize(("condition", "value", "expected"), GLOB_CASES)
def test_glob_is_fnmatch_without_flags(condition: str, value: str, expected: bool) -> None:
    assert matches(condition, {"str": value}) is expected


REGEX_CASES = [
    ("t.str regex 'ngin.'", "nginx", True),
    ("t.str regex 'gin'", "nginx", False),  # the whole value must match
    ("t.str regex '.*gin.*'", "nginx", True),
    ("t.str regex 'ngin'", "nginx", False),
    ("t.str regex '(a|ab)(c|bcd)'", "abcd", True),
    ("t.str regex '[0-9]+'", "2024", True),
    ("t.str regex '[0-9]+'", "20x24", False),
    ("t.str regex '[[:alpha:]]+'", "abc", True),
    ("t.str regex 'a.c'", "a\nc", False),  # '.' does not match a line break
    ("t.str regex 'A'", "a", False),
]


@pytest.mark.parametrize(("condition", "value", "expected"), REGEX_CASES)
def test_regex_matches_the_whole_value(condition: str, value: str, expected: bool) -> None:
    assert matches(condition, {"str": value}) is expected


PMATCH_PATH = "/opt/dir/subdir/file.txt"
PMATCH_CASES = [
    ("(/opt/dir)", True),
    ("(/opt/dir/subdir)", True),
    ("(/opt/dir2)", False),
    ("(/opt/di)", False),  # whole components only
    ("(/opt/dir, /opt/dir2)", True),
    ("(/opt/dir3, /opt/dir2)", False),
    ("(/opt/dir/)", True),
    ("(/)", True),
    ("(/opt/*)", True),
    ("(/opt/*/subdir)", True),
    ("(/opt/di?/subdir)", True),
    ("(/opt/dii?/subdir)", False),
    ("(/opt/di[r]/subdir)", True),
    ("(/opt/di[!r]/subdir)", False),
    ("(/opt/*/subdir2)", False),
    ("(/opt/*/*)", True),
    ("(/opt/*/*/subsubdir)", False),
    ("(/opt/dir/subdir/file.txt/more)", False),
]


@pytest.mark.parametrize(("prefixes", "expected"), PMATCH_CASES)
def test_pmatch_matches_path_prefixes(prefixes: str, expected: bool) -> None:
    assert matches(f"t.path pmatch {prefixes}", {"path": PMATCH_PATH}) is expected


def test_pmatch_compares_components_not_characters() -> None:
    assert matches("t.path pmatch (/etc)", {"path": "/etc"})
    assert not matches("t.path pmatch (/etc)", {"path": "/etcd/x"})
    assert matches("t.path pmatch (/etc)", {"path": "//etc//passwd"})


# --- modifiers ----------------------------------------------------------------------------

# From libsinsp's cmp_operator_modifiers tests, on proc.name = "myexe".
MODIFIER_CASES = [
    ("= oneof (myexe, bash)", True),
    ("= oneof (myexe)", True),
    ("= oneof (bash, sh)", False),
    ("= oneof (myexe, myexe)", False),
    ("= anyof (myexe, bash)", True),
    ("= anyof (bash, sh)", False),
    ("== anyof (myexe, myexe)", True),
    ("= allof (myexe)", True),
    ("= allof (myexe, bash)", False),
    ("= allof (myexe, myexe)", True),
    ("!= oneof (myexe, myexe, bash)", True),
    ("!= oneof (myexe, myexe)", False),
    ("!= oneof (bash, sh)", False),
    ("!= anyof (bash, sh)", True),
    ("!= anyof (myexe, bash)", True),
    ("!= allof (bash, sh)", True),
    ("!= allof (myexe, bash)", False),
    ("contains oneof (myex, bash)", True),
    ("contains oneof (my, exe)", False),
    ("contains anyof (my, exe)", True),
    ("contains allof (my, exe)", True),
    ("contains allof (myex, bash)", False),
    ("icontains allof (MY, EXE)", True),
    ("icontains oneof (MY, EXE)", False),
    ("startswith oneof (my, mye)", False),
    ("startswith anyof (my, bash)", True),
    ("startswith allof (my, mye)", True),
    ("endswith oneof (exe, sh)", True),
    ("endswith allof (exe, yexe)", True),
    ("endswith allof (exe, sh)", False),
    ("glob oneof (my*, *exe)", False),
    ("glob allof (my*, *exe)", True),
    ("iglob anyof (MY*, BASH)", True),
    ("regex oneof (my.*, b.*)", True),
    ("regex allof (my.*, .*exe)", True),
    ("regex anyof (b.*, sh.*)", False),
    ("= oneof ()", False),
    ("= anyof ()", False),
    ("= allof ()", False),
    ("!= allof ()", False),
]


@pytest.mark.parametrize(("rest", "expected"), MODIFIER_CASES)
def test_modifiers(rest: str, expected: bool) -> None:
    assert matches(f"t.str {rest}", {"str": "myexe"}) is expected


def test_modifiers_on_a_transformed_value_and_in_compound_conditions() -> None:
    doc = {"str": "myexe"}
    assert matches("toupper(t.str) = oneof (MYEXE, BASH)", doc)
    assert not matches("toupper(t.str) != allof (MYEXE, BASH)", doc)
    assert matches("t.str = oneof (myexe) and t.str != allof (bash, sh)", doc)
    assert not matches("t.str = oneof (myexe) and t.str != allof (myexe, bash)", doc)


def test_modifier_values_are_typed_like_the_field() -> None:
    assert matches("t.int = anyof (1, +2, 3)", {"int": 2})
    assert not matches("t.int != allof (1, 2)", {"int": 2})


# --- numbers, booleans, addresses, buffers ------------------------------------------------

NUMERIC_CASES = [
    ("t.int = 42", 42, True),
    ("t.int = 42", 43, False),
    ("t.int != 42", 43, True),
    ("t.int = +42", 42, True),
    ("t.int = -2", -2, True),
    ("t.int < 0", -2, True),
    ("t.int > -3", -2, True),
    ("t.int >= -2", -2, True),
    ("t.int <= -3", -2, False),
    ("t.int < 16", 15, True),
    ("t.int in (1, 2, 016)", 16, True),  # decimal, leading zeros and all, as in Falco
    ("t.int in (1, 2, 3)", 4, False),
    ("t.int intersects (4)", 4, True),
    ("t.uint > 4294967295", 4294967296, True),
    ("t.pid = 1", 1, True),
]


@pytest.mark.parametrize(("condition", "value", "expected"), NUMERIC_CASES)
def test_numeric_values(condition: str, value: int, expected: bool) -> None:
    field = condition.split()[0][2:]
    assert matches(condition, {field: value}) is expected


def test_numbers_compare_as_numbers_not_text() -> None:
    assert matches("t.int > 9", {"int": 10})  # as text, "10" < "9"
    assert matches("t.str > 9", {"str": "10"}) is False  # a string field compares as text


BOOL_CASES = [
    ("t.bool = true", True, True),
    ("t.bool = true", False, False),
    ("t.bool = false", False, True),
    ("t.bool != true", False, True),
    ("t.bool in (true)", True, True),
]


@pytest.mark.parametrize(("condition", "value", "expected"), BOOL_CASES)
def test_booleans(condition: str, value: bool, expected: bool) -> None:
    assert matches(condition, {"bool": value}) is expected


IP_CASES = [
    ("t.ip = 10.0.0.1", "10.0.0.1", True),
    ("t.ip = 10.0.0.1", "10.0.0.2", False),
    ("t.ip != 10.0.0.1", "10.0.0.2", True),
    ("t.ip in (10.0.0.1, 10.0.0.2)", "10.0.0.2", True),
    ("t.ip = ::1", "::1", True),
    ("t.ip = 2001:db8::1", "2001:0db8:0:0::1", True),
    ("t.ip = 10.0.0.1", "::1", False),
    ("t.net = 10.0.0.0/8", "10.1.2.3", True),
    ("t.net = 10.0.0.0/8", "11.1.2.3", False),
    ("t.net != 10.0.0.0/8", "11.1.2.3", True),
    ("t.net != 10.0.0.0/8", "10.1.2.3", False),
    ("t.net in (192.168.0.0/16, 172.16.0.0/12)", "172.20.0.1", True),
    ("t.net in (192.168.0.0/16, 172.16.0.0/12)", "10.0.0.1", False),
    ("t.net = 2001:db8::/32", "2001:db8::1", True),
    ("t.net = 2001:db8::/32", "10.0.0.1", False),
]


@pytest.mark.parametrize(("condition", "value", "expected"), IP_CASES)
def test_addresses_and_networks(condition: str, value: str, expected: bool) -> None:
    field = condition.split()[0][2:]
    assert matches(condition, {field: value}) is expected


def test_syscall_network_fields_take_cidrs() -> None:
    conn = {"evt.type": "connect", "fd.cip": "10.0.0.5", "fd.sip": "192.168.1.7"}
    assert matches("fd.snet in (192.168.0.0/16)", conn, "syscall")
    assert not matches("fd.snet in (10.0.0.0/8)", conn, "syscall")
    assert matches("fd.cnet = 10.0.0.0/8", conn, "syscall")
    assert matches("fd.sip = 192.168.1.7", conn, "syscall")


BYTES_CASES = [
    ("t.bytes bcontains 0203", True),
    ("t.bytes bcontains 0302", False),
    ("t.bytes bcontains 6162", True),
    ("t.bytes bstartswith 0102", True),
    ("t.bytes bstartswith 02", False),
    ("t.bytes contains ab", True),
    ("t.bytes startswith ab", False),
    ("t.bytes endswith bc", True),
    ("t.bytes = abc", False),
]


@pytest.mark.parametrize(("condition", "expected"), BYTES_CASES)
def test_byte_buffers(condition: str, expected: bool) -> None:
    assert matches(condition, {"bytes": b"\x01\x02\x03abc"}) is expected


def test_bcontains_on_the_syscall_data_buffer() -> None:
    doc = {"evt.type": "read", "evt.buffer": b"\xca\xfe\xba\xbe\x00\x00"}
    assert matches("evt.buffer bcontains cafebabe", doc, "syscall")
    assert matches("evt.buffer bcontains CAFEBABE", doc, "syscall")
    assert not matches("evt.buffer bcontains cafebabf", doc, "syscall")


# --- list-valued fields -------------------------------------------------------------------

LIST_CASES = [
    ("t.list in (a, b, c)", ["a", "b"], True),  # every element in the set
    ("t.list in (a, c)", ["a", "b"], False),
    ("t.list in (a)", [], True),
    ("t.list intersects (b, z)", ["a", "b"], True),
    ("t.list intersects (y, z)", ["a", "b"], False),
    ("t.list intersects (a)", [], False),
    ("t.list exists", [], True),
    ("t.nums in (1, 2, 3)", None, True),
    ("t.nums intersects (03)", None, True),
    ("t.nums in (1)", None, False),
]


@pytest.mark.parametrize(("condition", "items", "expected"), LIST_CASES)
def test_list_fields(condition: str, items: list[str] | None, expected: bool) -> None:
    assert matches(condition, {"list": items, "nums": [1, 3]}) is expected


@pytest.mark.parametrize("op", ["= a", "!= a", "contains a", "startswith a", "pmatch (/a)"])
def test_list_fields_only_take_exists_in_and_intersects(op: str) -> None:
    condition = f"t.list {op}"
    assert load_error(condition) == (
        f"{at(condition, 't.list')}: error: rule 'r': "
        "list field 't.list' only supports 'exists', 'in' and 'intersects'"
    )


# --- fields on the right-hand side --------------------------------------------------------

FIELD_RHS_CASES = [
    ("t.str = val(t.other)", {"str": "a", "other": "a"}, True),
    ("t.str = val(t.other)", {"str": "a", "other": "b"}, False),
    ("t.str != val(t.other)", {"str": "a", "other": "b"}, True),
    ("t.str contains val(t.other)", {"str": "abc", "other": "b"}, True),
    ("t.str startswith val(t.other)", {"str": "abc", "other": "ab"}, True),
    ("t.str endswith val(t.other)", {"str": "abc", "other": "ab"}, False),
    ("t.str icontains val(t.other)", {"str": "ABC", "other": "b"}, True),
    ("t.str glob val(t.other)", {"str": "abc", "other": "a*"}, True),
    ("t.int < val(t.uint)", {"int": 1, "uint": 2}, True),
    ("t.int = val(t.pid)", {"int": 7, "pid": 7}, True),
    ("t.str in val(t.list)", {"str": "b", "list": ["a", "b"]}, True),
    ("t.str in val(t.list)", {"str": "c", "list": ["a", "b"]}, False),
    ("t.list in val(t.list2)", {"list": ["a"], "list2": ["a", "b"]}, True),
    ("t.list intersects val(t.list2)", {"list": ["c"], "list2": ["a", "b"]}, False),
    ("t.ip = val(t.ip2)", {"ip": "::1", "ip2": "0::1"}, True),
    # without val(), a field name on the right is just text
    ("t.str = t.other", {"str": "a", "other": "a"}, False),
    ("t.str = t.other", {"str": "t.other", "other": "a"}, True),
    ("t.str = val(t.other)", {"str": "a"}, False),
    ("tolower(t.str) = val(t.other)", {"str": "ABC", "other": "abc"}, True),
    ("t.other = tolower(t.str)", {"str": "ABC", "other": "abc"}, True),
]


@pytest.mark.parametrize(("condition", "doc", "expected"), FIELD_RHS_CASES)
def test_field_on_the_right_hand_side(condition: str, doc: dict[str, Any], expected: bool) -> None:
    assert matches(condition, doc) is expected


# --- fields holding several values (syscall) ---------------------------------------------

PROC = {"evt.type": "execve", "proc.name": "cat", "proc.aname": ["cat", "bash", "sshd", "init"]}
ANCESTOR_CASES = [
    ("proc.aname = sshd", True),  # any ancestor
    ("proc.aname = cat", False),  # the process itself is not its own ancestor
    ("proc.aname in (nginx, sshd)", True),
    ("proc.aname != sshd", True),  # some ancestor is not sshd
    ("proc.aname startswith ss", True),
    ("proc.aname[2] = sshd", True),
    ("proc.aname[2] != sshd", False),
    ("proc.aname[0] = cat", True),
    ("proc.aname=sshd and proc.name != sshd", True),
]


@pytest.mark.parametrize(("condition", "expected"), ANCESTOR_CASES)
def test_ancestor_fields_match_any_ancestor(condition: str, expected: bool) -> None:
    assert matches(condition, PROC, "syscall") is expected


def test_an_ancestor_check_is_false_without_ancestors() -> None:
    alone = {"evt.type": "execve", "proc.name": "init", "proc.aname": ["init"]}
    assert not matches("proc.aname != sshd", alone, "syscall")
    assert not matches("proc.aname = init", alone, "syscall")


CONN = {"evt.type": "connect", "fd.cip": "10.0.0.5", "fd.sip": "93.184.216.34", "fd.cport": 40000}
EITHER_END_CASES = [
    ("fd.ip = 10.0.0.5", True),
    ("fd.ip = 93.184.216.34", True),
    ("fd.ip = 1.1.1.1", False),
    ("fd.ip != 10.0.0.5", False),  # '!=' needs both ends to differ
    ("fd.ip != 1.1.1.1", True),
    ("fd.net = 10.0.0.0/8", True),
    ("fd.net != 10.0.0.0/8", False),
    ('fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8"', True),
    ("fd.port = 40000", True),
    ("fd.port in (443, 40000)", True),
    ("fd.port != 40000", False),
]


@pytest.mark.parametrize(("condition", "expected"), EITHER_END_CASES)
def test_either_end_fields(condition: str, expected: bool) -> None:
    assert matches(condition, CONN, "syscall") is expected


def test_loopback_connection_is_excluded_like_upstream_rules() -> None:
    local = {"evt.type": "connect", "fd.cip": "127.0.0.1", "fd.sip": "127.0.0.1"}
    assert not matches('fd.net != "127.0.0.0/8"', local, "syscall")


# --- errors ---------------------------------------------------------------------------------

ERROR_CASES = [
    # condition, token the location points at, message
    ("t.int = abc", "abc", "'abc' is not a valid int64 value for 't.int'"),
    ("t.int in (1, x2)", "x2", "'x2' is not a valid int64 value for 't.int'"),
    ("t.int = 1.5", "1.5", "'1.5' is not a valid int64 value for 't.int'"),
    ("t.bool = yes", "yes", "'yes' is not a valid bool value for 't.bool'"),
    ("t.ip = 10.0.0.300", "10.0", "'10.0.0.300' is not a valid ipaddr value for 't.ip'"),
    ("t.ip in (10.0.0.0/8)", "10.0", "'10.0.0.0/8' is not a valid ipaddr value for 't.ip'"),
    ("t.net = nowhere", "nowhere", "'nowhere' is not a valid ipnet value for 't.net'"),
    ("t.bool > 0", "t.bool", "operator '>' is not supported for bool field 't.bool'"),
    ("t.ip < 1", "t.ip", "operator '<' is not supported for ipaddr field 't.ip'"),
    ("t.bytes > 1", "t.bytes", "operator '>' is not supported for bytebuf field 't.bytes'"),
    ("t.int contains 1", "t.int", "operator 'contains' is not supported for int64 field 't.int'"),
    ("t.int glob 1*", "t.int", "operator 'glob' is not supported for int64 field 't.int'"),
    ("t.int pmatch (/a)", "t.int", "operator 'pmatch' is not supported for int64 field 't.int'"),
    (
        "t.bool startswith t",
        "t.bool",
        "operator 'startswith' is not supported for bool field 't.bool'",
    ),
    ("t.net contains 10", "t.net", "operator 'contains' is not supported for ipnet field 't.net'"),
    (
        "t.str bcontains 00",
        "t.str",
        "operator 'bcontains' is not supported for string field 't.str'",
    ),
    ("t.bytes regex a", "t.bytes", "operator 'regex' is not supported for bytebuf field 't.bytes'"),
    ("t.bytes bcontains zz", "zz", "'bcontains' takes hex bytes, 'zz' is not hex"),
    ("t.bytes bstartswith 123", "123", "'bstartswith' takes hex bytes, '123' is not hex"),
    ("t.str regex '[a'", "'[a'", "invalid regex '[a': missing ]: [a"),
    ("t.str regex 'a(b'", "'a(b'", "invalid regex 'a(b': missing ): a(b"),
    ("t.str regex \\d+", "\\d+", "invalid regex '\\d+': invalid escape sequence: \\d"),
    ("t.nope = 1", "t.nope", "unknown field 't.nope' for source 't'"),
    ("t.str = val(t.nope)", "t.nope", "unknown field 't.nope' for source 't'"),
    ("t.int = val(t.str)", "t.int", "'t.int' (int64) cannot be compared with 't.str' (string)"),
    ("t.str regex val(t.other)", "t.str", "operator 'regex' does not support a field on its right"),
    (
        "t.str pmatch val(t.list)",
        "t.str",
        "operator 'pmatch' does not support a field on its right",
    ),
    (
        "t.str = val(t.list)",
        "t.str",
        "list field 't.list' only supports 'exists', 'in' and 'intersects'",
    ),
    ("t.net = val(t.ip)", "t.net", "field 't.net' cannot be compared with another field"),
    ("t.int = anyof (1, a)", "a)", "'a' is not a valid int64 value for 't.int'"),
]


@pytest.mark.parametrize(("condition", "token", "message"), ERROR_CASES)
def test_compile_errors_point_at_the_token(condition: str, token: str, message: str) -> None:
    assert load_error(condition) == f"{at(condition, token)}: error: rule 'r': {message}"


def test_errors_in_the_syscall_source() -> None:
    condition = "evt.type = open and proc.pid = abc"
    assert load_error(condition, "syscall") == (
        f"{at(condition, 'abc')}: error: rule 'r': 'abc' is not a valid pid value for 'proc.pid'"
    )
    condition = "proc.aname = val(proc.name)"
    assert load_error(condition, "syscall") == (
        f"{at(condition, 'proc.aname')}: error: rule 'r': "
        "field 'proc.aname' cannot be compared with another field"
    )


def test_an_error_in_a_later_line_of_a_condition_points_at_that_line() -> None:
    text = (
        "- rule: r\n"
        "  desc: test rule\n"
        "  condition: >-\n"
        "    t.str = a and\n"
        "    t.int = abc\n"
        "  output: hit\n"
        "  priority: WARNING\n"
        "  source: t\n"
    )
    with pytest.raises(RuleLoadErrors) as info:
        compile_rules(load_rules_text(text, name="t.yaml"), sources=[TYPED])
    assert str(info.value.errors[0]) == (
        "t.yaml:5:13: error: rule 'r': 'abc' is not a valid int64 value for 't.int'"
    )


def test_strings_compare_with_ordering_operators_as_falco_does() -> None:
    # libsinsp compares strings with strcmp for <, <=, > and >=; not an error.
    assert matches("t.str < 5", {"str": "10"})
    assert not matches("t.str < 5", {"str": "6"})


# --- evttype index ------------------------------------------------------------------------

TYPES = ["open", "openat", "execve", "connect"]

INFER_CASES = [
    # condition, event types the rule may run on (None: a missing evt.type)
    ("evt.type = open", {"open"}),
    ("evt.type in (open, openat)", {"open", "openat"}),
    ("evt.type intersects (open)", {"open"}),
    ("evt.type != open", {"openat", "execve", "connect"}),
    ("not evt.type = open", {"openat", "execve", "connect", None}),
    ("not evt.type != open", {"open", None}),
    ("not evt.type in (open, execve)", {"openat", "connect", None}),
    ("evt.type exists", set(TYPES)),
    ("not evt.type exists", {None}),
    ("evt.type = open and proc.name = cat", {"open"}),
    ("evt.type = open or evt.type = execve", {"open", "execve"}),
    ("evt.type in (open, openat) and evt.type != open", {"openat"}),
    ("evt.type = open and evt.type = execve", set()),
    ("evt.type = open or proc.name = cat", {*TYPES, None}),
    ("not proc.name = cat", {*TYPES, None}),
    ("not (evt.type = open and proc.name = cat)", {*TYPES, None}),
    ("not (evt.type = open or proc.name = cat)", {"openat", "execve", "connect", None}),
    ("not (evt.type = open or evt.type = execve)", {"openat", "connect", None}),
    ("evt.type startswith open", {*TYPES, None}),
    ("evt.type = anyof (open, execve)", {*TYPES, None}),
    ("evt.type = val(proc.name)", {*TYPES, None}),
    ("tolower(evt.type) = open", {*TYPES, None}),
]


@pytest.mark.parametrize(("condition", "admitted"), INFER_CASES)
def test_evttype_inference(condition: str, admitted: set[str | None]) -> None:
    found = infer(parse_condition(condition), "evt.type")
    assert {t for t in [*TYPES, None] if found.admits(t)} == admitted


def test_rules_without_an_evttype_get_the_falco_warning() -> None:
    eng = engine("proc.name = cat", "syscall")
    assert [w.code for w in eng.warnings] == ["no-evttype"]
    assert engine("evt.type = open and proc.name = cat", "syscall").warnings == []


UNINDEXED = replace(builtin_sources()["syscall"], index_fields=())
_LEAVES = [
    *[f"evt.type = {t}" for t in TYPES],
    *[f"evt.type != {t}" for t in TYPES],
    "evt.type in (open, execve)",
    "evt.type in (openat)",
    "evt.type exists",
    "evt.type startswith open",
    "proc.name = cat",
    "proc.name != cat",
    "proc.name exists",
]
_conditions = st.recursive(
    st.sampled_from(_LEAVES),
    lambda sub: st.one_of(
        st.builds(lambda c: f"not ({c})", sub),
        st.builds(lambda a, b: f"({a}) and ({b})", sub, sub),
        st.builds(lambda a, b: f"({a}) or ({b})", sub, sub),
    ),
    max_leaves=6,
)
_EVENTS = [
    {"evt.type": t, "proc.name": n} if t else {"proc.name": n}
    for t in [*TYPES, None]
    for n in ("cat", "sh")
] + [{"evt.type": "open"}, {}]


@settings(max_examples=150, deadline=None)
@given(_conditions)
def test_the_index_never_hides_a_matching_rule(condition: str) -> None:
    text = rules_text(condition, source="syscall")
    indexed = compile_rules(load_rules_text(text, name="t.yaml"), match="all")
    plain = compile_rules(load_rules_text(text, name="t.yaml"), sources=[UNINDEXED], match="all")
    for doc in _EVENTS:
        assert bool(indexed.evaluate(doc, "syscall")) == bool(plain.evaluate(doc, "syscall")), doc


# --- port service names and doubles (syscall) ----------------------------------------------

HTTPS = {"evt.type": "connect", "fd.cip": "10.0.0.5", "fd.sip": "10.0.0.9"}
HTTPS |= {"fd.cport": 40000, "fd.sport": 443}
PORT_NAME_CASES = [
    ("fd.sport = https", True),  # a service name stands for its port, as getservbyname(3)
    ("fd.sport = 443", True),
    ("fd.sport != https", False),
    ("fd.sport in (http, ssh)", False),
    ("fd.sport in (http, https)", True),
    ("fd.port in (ssh, https)", True),  # either end
    ("fd.port = https and fd.cport > 1024", True),
    ("fd.sport = anyof (http, https)", True),
]


@pytest.mark.parametrize(("condition", "expected"), PORT_NAME_CASES)
def test_port_fields_take_service_names(condition: str, expected: bool) -> None:
    assert matches(condition, HTTPS, "syscall") is expected


@pytest.mark.parametrize("value", ["no-such-service", "0x1bb", "-1", "443.0"])
def test_a_port_is_a_number_or_a_service_name(value: str) -> None:
    condition = f"fd.sport = {value}"
    assert load_error(condition, "syscall") == (
        f"{at(condition, value)}: error: rule 'r': '{value}' is not a valid port value for "
        "'fd.sport' (a number or a service name)"
    )


CPU = {"evt.type": "procinfo", "thread.cpu": 2.5}
DOUBLE_CASES = [
    ("thread.cpu > 2", True),
    ("thread.cpu < 3", True),
    ("thread.cpu >= 3", False),
    ("thread.cpu = 2", False),
    ("thread.cpu != 2", True),
    ("thread.cpu in (2, 3)", False),
    ("thread.cpu intersects (2, 3)", False),
    ("thread.cpu exists", True),
]


@pytest.mark.parametrize(("condition", "expected"), DOUBLE_CASES)
def test_double_fields_compare_as_numbers(condition: str, expected: bool) -> None:
    assert matches(condition, CPU, "syscall") is expected


def test_a_whole_double_equals_its_integer() -> None:
    assert matches("thread.cpu = 2", {**CPU, "thread.cpu": 2.0}, "syscall")
    assert matches("thread.cpu in (1, 2)", {**CPU, "thread.cpu": 2.0}, "syscall")


@pytest.mark.parametrize("value", ["1.0", "1.5", "0x10"])
def test_double_constants_are_whole_decimal_numbers_as_in_falco(value: str) -> None:
    condition = f"thread.cpu = {value}"
    assert load_error(condition, "syscall") == (
        f"{at(condition, value)}: error: rule 'r': '{value}' is not a valid double value for "
        "'thread.cpu' (Falco reads only whole numbers for double fields)"
    )


@pytest.mark.parametrize("op", ["contains", "startswith", "glob", "regex", "icontains"])
def test_double_fields_take_only_numeric_operators(op: str) -> None:
    condition = f"thread.cpu {op} 1"
    assert load_error(condition, "syscall") == (
        f"{at(condition, 'thread.cpu')}: error: rule 'r': operator '{op}' is not supported "
        "for double field 'thread.cpu'"
    )

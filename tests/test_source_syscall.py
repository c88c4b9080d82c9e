"""The syscall source: its field table and extraction over sensor records."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lanner.errors import FieldArgumentError
from lanner.event import Event
from lanner.fields import Arg, FieldType
from lanner.sources.generic import generic_fields
from lanner.sources.syscall import (
    FLAG_ANY_ANCESTOR,
    FLAG_DOTTED_ARG,
    FLAG_EITHER_END,
    SYSCALL_EVENT_TYPES,
    syscall_fields,
    syscall_source,
)

SRC = syscall_source()
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "falco"
RULE_FILES = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")
CLASSES = ("evt", "proc", "thread", "user", "group", "fd", "fs", "container", "k8s", "syscall")

# A field name (class prefix checked below) with its optional [arg]; not part of a path
# or a dotted host name such as a registry in an image name.
FIELD_TOKEN = re.compile(
    r"(?<![\w./-])%?([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?:\[([^\]]*)\])?(?![/\w.-])"
)

RECORD: dict[str, Any] = {
    "evt.type": "openat",
    "evt.rawtime": 1_700_000_000_123_456_789,
    "evt.hostname": "node-1",
    "evt.rawres": 3,
    "evt.arg": {"fd": "3(<f>/etc/shadow)", "dirfd": "-100(AT_FDCWD)", "name": "/etc/shadow"},
    "proc.name": "cat",
    "proc.exe": "cat",
    "proc.args": ["-n", "/etc/shadow"],
    "proc.aname": ["cat", "bash", "sshd", "systemd"],
    "proc.apid": [4242, 4000, 812, 1],
    "proc.env": {"HOME": "/root", "LANG": "C"},
    "fd.name": "/etc/shadow",
    "fd.type": "file",
    "fd.cip": "10.0.0.5",
    "fd.sip": "93.184.216.34",
    "container.id": "3ad7b26ded6d",
    "container.mount": [
        {"source": "/proc", "dest": "/host/proc", "mode": "ro", "rdwr": False},
        {"source": "/var/run/docker.sock", "dest": "/run/docker.sock", "rdwr": True},
    ],
}


def x(doc: Any, name: str, arg: str | None = None) -> Any:
    """Extract ``name[arg]`` from ``doc`` as the engine would."""
    field = SRC.fields.get(name)
    assert field is not None, f"no field {name}"
    return field.extractor(arg)(Event(doc, SRC))


def _rule_texts(path: Path) -> list[str]:
    texts: list[str] = []
    for item in yaml.safe_load(path.read_text()) or []:
        for key in ("condition", "output"):
            if isinstance(item.get(key), str):
                texts.append(item[key])
        for exc in item.get("exceptions") or []:
            fields = exc.get("fields")
            texts.extend(fields if isinstance(fields, list) else [fields] if fields else [])
    return texts


def _upstream_texts() -> list[str]:
    if not CORPUS.is_dir():
        pytest.skip("upstream Falco rules not available")
    return [t for f in RULE_FILES for t in _rule_texts(CORPUS / f)]


# --- the table -----------------------------------------------------------------------


def test_every_field_the_upstream_syscall_rules_use_is_declared() -> None:
    problems: list[str] = []
    seen = 0
    for text in _upstream_texts():
        for m in FIELD_TOKEN.finditer(text):
            name, arg = m.group(1), m.group(2)
            if name.split(".")[0] not in CLASSES:
                continue
            seen += 1
            found = SRC.fields.resolve(name, arg)  # as the compiler looks fields up
            if found is None:
                problems.append(f"{m.group(0)}: not declared")
                continue
            row, arg = found
            try:
                row.extractor(arg)
            except FieldArgumentError as exc:
                problems.append(f"{m.group(0)}: {exc}")
    assert seen > 500  # the scan did find the rules' fields
    assert problems == []


def test_no_name_is_declared_twice_and_generic_rows_win() -> None:
    own = [f.name for f in syscall_fields()]
    assert len(own) == len(set(own))
    generic = {f.name: f for f in generic_fields()}
    assert not generic.keys() & set(own)
    assert len(SRC.fields) == len(generic) + len(own)
    for name in generic:
        assert SRC.fields.get(name).desc == generic[name].desc  # type: ignore[union-attr]


def test_every_row_has_a_description_and_a_type() -> None:
    for f in SRC.fields:
        assert f.desc.strip(), f.name
        assert isinstance(f.type, FieldType), f.name


def test_the_common_field_classes_are_complete() -> None:
    for name in (
        "evt.type", "evt.arg", "evt.rawarg", "evt.res", "evt.rawres", "evt.buffer",
        "evt.is_open_read", "evt.abspath", "syscall.type", "proc.name", "proc.aname",
        "proc.apid", "proc.aexepath", "proc.cmdline", "proc.env", "proc.sname",
        "proc.is_exe_upper_layer", "proc.exe_ino.ctime", "thread.tid", "thread.cap_effective",
        "user.uid", "user.loginuid", "group.gid", "fd.name", "fd.sip", "fd.snet", "fd.types",
        "fd.nameraw", "fs.path.name", "fs.path.target", "container.id", "container.mount.dest",
        "container.image.repository", "container.privileged", "k8s.pod.name", "k8s.ns.name",
        "k8s.pod.label",
    ):  # fmt: skip
        assert name in SRC.fields, name


def test_types_follow_falco() -> None:
    t = {f.name: f.type for f in SRC.fields}
    assert t["evt.rawres"] is FieldType.INT
    assert t["proc.pid"].is_numeric and t["proc.vpid"].is_numeric
    assert t["user.uid"] is FieldType.UINT
    assert t["fd.num"] is FieldType.FD
    assert t["fd.sip"] is FieldType.IPADDR
    assert t["fd.snet"] is FieldType.IPNET
    assert t["fd.sport"] is FieldType.PORT
    assert t["evt.buffer"] is FieldType.BYTES
    assert t["proc.is_exe_from_memfd"] is FieldType.BOOL
    assert t["proc.duration"] is FieldType.RELTIME
    assert t["container.start_ts"] is FieldType.ABSTIME
    assert t["fd.name"].is_string and t["proc.exepath"].is_string


def test_argument_kinds() -> None:
    arg = {f.name: f.arg for f in SRC.fields}
    assert arg["proc.aname"] is Arg.INDEX_OPTIONAL
    assert arg["proc.env"] is Arg.KEY_OPTIONAL
    assert arg["evt.arg"] is Arg.KEY
    assert arg["container.mount.dest"] is Arg.KEY
    assert arg["proc.name"] is Arg.NONE
    with pytest.raises(FieldArgumentError):
        SRC.fields.get("proc.aname").extractor("two")  # type: ignore[union-attr]
    with pytest.raises(FieldArgumentError):
        SRC.fields.get("evt.arg").extractor(None)  # type: ignore[union-attr]
    with pytest.raises(FieldArgumentError):
        SRC.fields.get("proc.name").extractor("1")  # type: ignore[union-attr]


# --- extraction --------------------------------------------------------------------------


def test_ancestor_index_follows_falco_numbering() -> None:
    assert x(RECORD, "proc.aname", "0") == "cat"
    assert x(RECORD, "proc.aname", "1") == "bash"
    assert x(RECORD, "proc.aname", "2") == "sshd"
    assert x(RECORD, "proc.aname", "3") == "systemd"
    assert x(RECORD, "proc.aname", "4") is None
    assert x(RECORD, "proc.aname", "-1") is None
    assert x(RECORD, "proc.apid", "2") == 812


def test_ancestors_without_index_are_the_ancestors_only() -> None:
    assert x(RECORD, "proc.aname") == ("bash", "sshd", "systemd")
    assert x({"proc.aname": ["init"]}, "proc.aname") == ()
    assert FLAG_ANY_ANCESTOR in SRC.fields.get("proc.aname").flags  # type: ignore[union-attr]


def test_parent_fields_come_from_the_chain_unless_the_record_has_them() -> None:
    assert x(RECORD, "proc.pname") == "bash"
    assert x(RECORD, "proc.ppid") == 4000
    assert x(RECORD, "proc.pid") == 4242
    assert x({**RECORD, "proc.pname": "zsh"}, "proc.pname") == "zsh"
    # Without a chain, level 0 and 1 still come from the process's own fields.
    assert x({"proc.name": "cat", "proc.pname": "bash"}, "proc.aname", "1") == "bash"
    assert x({"proc.name": "cat"}, "proc.aname", "0") == "cat"


def test_a_missing_key_gives_none() -> None:
    # Only constants may have a value on an empty record.
    constants = {"evt.count", "container.info"}
    for f in syscall_fields():
        if f.name in constants:
            continue
        arg = {Arg.KEY: "x", Arg.INDEX: "1"}.get(f.arg)
        assert f.extractor(arg)(Event({}, SRC)) is None, f.name


def test_command_line_fields() -> None:
    assert x(RECORD, "proc.args") == "-n /etc/shadow"
    assert x(RECORD, "proc.args", "0") == "-n"
    assert x(RECORD, "proc.args", "5") is None
    assert x(RECORD, "proc.cmdline") == "cat -n /etc/shadow"
    assert x({"proc.name": "top", "proc.args": []}, "proc.cmdline") == "top"
    assert x(RECORD, "proc.exeline") == "cat -n /etc/shadow"
    assert x(RECORD, "proc.cmdnargs") == 2
    assert x(RECORD, "proc.cmdlenargs") == 13
    assert x({"proc.args": "-x y"}, "proc.args") == "-x y"


def test_environment() -> None:
    assert x(RECORD, "proc.env") == "HOME=/root LANG=C"
    assert x(RECORD, "proc.env", "HOME") == "/root"
    assert x(RECORD, "proc.env", "TERM") == ""  # Falco: unset variable is empty
    assert x({"proc.env": ["A=1", "B=x=y"]}, "proc.env", "B") == "x=y"
    chain = {"proc.aenv": [{"X": "0"}, {"Y": "p"}, {"X": "g"}]}
    assert x(chain, "proc.aenv", "X") == "g"  # nearest ancestor, not the process itself
    assert x(chain, "proc.aenv", "1") == "Y=p"


def test_event_arguments_by_name_position_and_dotted_name() -> None:
    assert x(RECORD, "evt.arg", "name") == "/etc/shadow"
    assert x(RECORD, "evt.arg", "0") == "3(<f>/etc/shadow)"
    assert x(RECORD, "evt.arg", "9") is None
    assert x(RECORD, "evt.arg", "nope") is None
    found = SRC.fields.resolve("evt.arg.name", None)
    assert found is not None
    row, arg = found
    assert row.name == "evt.arg" and arg == "name"
    assert row.extractor(arg)(Event(RECORD, SRC)) == "/etc/shadow"
    assert x({"evt.rawarg": {"res": -2}}, "evt.rawarg", "res") == -2


def test_the_registry_resolves_dotted_arguments() -> None:
    found = SRC.fields.resolve("evt.arg.flags", None)
    assert found is not None and found[0].name == "evt.arg" and found[1] == "flags"
    found = SRC.fields.resolve("evt.args", None)
    assert found is not None and found[0].name == "evt.args" and found[1] is None


def test_dotted_arguments_resolve_only_for_flagged_fields() -> None:
    assert SRC.fields.resolve("evt.type.is.open", None)[1] == "open"  # type: ignore[index]
    assert SRC.fields.resolve("thread.cgroup.cpuacct", None)[1] == "cpuacct"  # type: ignore[index]
    got = SRC.fields.resolve("k8s.pod.label.app.kubernetes.io", None)
    assert got is not None and got[0].name == "k8s.pod.label"
    assert got[1] == "app.kubernetes.io"
    assert SRC.fields.resolve("proc.aname.x", None) is None
    assert SRC.fields.resolve("proc.env.HOME", None) is None
    assert SRC.fields.resolve("evt.nosuch", None) is None
    assert FLAG_DOTTED_ARG not in SRC.fields.get("proc.env").flags  # type: ignore[union-attr]
    assert x(RECORD, "evt.type.is", "openat") == 1
    assert x(RECORD, "evt.type.is", "execve") == 0


@pytest.mark.parametrize(
    ("name", "kind", "directory", "filename"),
    [
        ("/etc/shadow", "file", "/etc", "shadow"),
        ("/shadow", "file", "/", "shadow"),
        ("/etc/", "file", "/etc/", "/etc/"),
        ("relative", "file", "/", "/"),
        ("/var/log", "directory", "/var/log", None),
        ("10.0.0.5:4242->93.184.216.34:443", "ipv4", None, None),
    ],
)
def test_fd_directory_and_filename_follow_falco(
    name: str, kind: str, directory: str | None, filename: str | None
) -> None:
    doc = {"fd.name": name, "fd.type": kind}
    assert x(doc, "fd.directory") == directory
    assert x(doc, "fd.filename") == filename


def test_either_end_fields() -> None:
    assert x(RECORD, "fd.ip") == ("10.0.0.5", "93.184.216.34")
    assert x({"fd.sip": "0.0.0.0"}, "fd.net") == ("0.0.0.0",)
    assert x({"fd.cport": 5000, "fd.sport": 443}, "fd.port") == (5000, 443)
    assert x(RECORD, "fd.snet") == "93.184.216.34"
    for name in ("fd.ip", "fd.net", "fd.port", "fd.proto"):
        assert FLAG_EITHER_END in SRC.fields.get(name).flags  # type: ignore[union-attr]


def test_container_mounts_by_glob_and_index() -> None:
    assert x(RECORD, "container.mount.dest", "/proc*") == "/host/proc"
    assert x(RECORD, "container.mount.dest", "/var/run/docker.sock") == "/run/docker.sock"
    assert x(RECORD, "container.mount.dest", "/etc") is None
    assert x(RECORD, "container.mount.source", "/run/*") == "/var/run/docker.sock"
    assert x(RECORD, "container.mount.rdwr", "1") == "true"
    assert x(RECORD, "container.mount", "0") == "/proc:/host/proc:ro:false:"
    assert x(RECORD, "container.mount", "7") is None
    assert x(RECORD, "container.mounts") == (
        "/proc:/host/proc:ro:false:,/var/run/docker.sock:/run/docker.sock::true:"
    )
    assert x(RECORD, "fd.containername") == "3ad7b26ded6d:/etc/shadow"


def test_list_and_keyed_fields() -> None:
    doc = {"fd.types": {0: "file", 1: "ipv4", 2: "file"}, "k8s.pod.label": {"app": "web"}}
    assert x(doc, "fd.types") == ("file", "ipv4")
    assert x(doc, "fd.types", "1") == ("ipv4",)
    assert x(doc, "fd.types", "5") is None
    assert x(doc, "k8s.pod.label", "app") == "web"
    assert x(doc, "k8s.pod.labels") == "app:web"
    assert x({"container.k8s.pod.label": {"a": "1"}}, "container.k8s.pod.labels") == ("a:1",)
    assert x({"thread.cgroup": {"cpu": "/x"}}, "thread.cgroup", "cpu") == "/x"


def test_record_values_pass_through() -> None:
    assert x(RECORD, "evt.type") == "openat"
    assert x(RECORD, "fd.sip") == "93.184.216.34"
    assert x({"evt.buffer": b"\xca\xfe"}, "evt.buffer") == b"\xca\xfe"
    assert x({"proc.is_exe_upper_layer": True}, "proc.is_exe_upper_layer") is True
    assert x(RECORD, "evt.failed") is False
    assert x({"evt.rawres": -13}, "evt.failed") is True
    assert x({"evt.rawres": -13}, "evt.count.error") == 1


def test_derived_durations_and_leaders() -> None:
    doc = {"evt.rawtime": 5_000, "proc.pid.ts": 1_000, "proc.vpgid": 7, "proc.vpid": 7}
    assert x(doc, "proc.duration") == 4_000
    assert x(doc, "proc.is_vpgid_leader") is True
    assert x({"proc.vpgid": 7, "proc.vpid": 8}, "proc.is_vpgid_leader") is False
    assert x({"thread.tid": 8, "proc.pid": 8}, "thread.ismain") is True


# --- the source -----------------------------------------------------------------------------


def test_source_wiring() -> None:
    assert SRC.name == "syscall"
    assert SRC.index_fields == ("evt.type",)
    assert SRC.event_time(RECORD) == 1_700_000_000_123_456_789
    assert SRC.event_time({}) is None
    assert SRC.event_time({"evt.rawtime": "soon"}) is None
    assert SRC.hostname(RECORD) == "node-1"
    assert SRC.hostname({}) is None
    assert x(RECORD, "evt.time") == "22:13:20.123456789"
    assert x(RECORD, "evt.rawtime") == 1_700_000_000_123_456_789
    assert x(RECORD, "evt.hostname") == "node-1"
    assert x(RECORD, "evt.source") == "syscall"


def test_event_type_names() -> None:
    for name in (
        "open", "openat", "openat2", "execve", "execveat", "connect", "accept4", "ptrace",
        "procexit", "container", "switch", "signaldeliver", "syscall", "memfd_create",
        "init_module", "finit_module", "userfaultfd", "setns", "unshare", "bpf",
    ):  # fmt: skip
        assert name in SYSCALL_EVENT_TYPES, name
    assert "opne" not in SYSCALL_EVENT_TYPES
    assert all(n == n.lower() and " " not in n for n in SYSCALL_EVENT_TYPES)


def test_every_event_type_the_upstream_rules_name_is_known() -> None:
    names: set[str] = set()
    for text in _upstream_texts():
        for m in re.finditer(r"evt\.type\s*(?:=|!=)\s*([a-z0-9_]+)", text):
            names.add(m.group(1))
        for m in re.finditer(r"evt\.type\s+(?:in|intersects)\s*\(([^)]*)\)", text):
            names.update(n.strip() for n in m.group(1).split(","))
    assert "execve" in names
    assert names - SYSCALL_EVENT_TYPES == set()


def test_args_truncation_is_a_bool_rules_can_test() -> None:
    from lanner import compile_rules, load_rules_text

    row = next(f for f in SRC.fields if f.name == "proc.is_args_truncated")
    assert row.type is FieldType.BOOL and "8 KiB" in row.desc
    engine = compile_rules(
        load_rules_text(
            "- rule: Cut\n  desc: cut argv\n  condition: evt.type = execve and"
            " proc.is_args_truncated = true\n  output: cut %proc.cmdline\n"
            "  priority: NOTICE\n  source: syscall\n"
        )
    )
    cut = {"evt.type": "execve", "proc.name": "bash", "proc.is_args_truncated": True}

    def fired(doc: dict[str, Any]) -> list[str]:
        return [a.rule for a in engine.evaluate(doc, "syscall")]

    assert fired(cut) == ["Cut"]
    assert fired(cut | {"proc.is_args_truncated": False}) == []
    # A record from a producer that does not say (an older sensor, a recording) is not cut.
    assert fired({k: v for k, v in cut.items() if k != "proc.is_args_truncated"}) == []

"""Reading recorded events from files for ``lanner scan``."""

from __future__ import annotations

import gzip
import inspect
import itertools
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from cli import readers
from cli.readers import BadInput, Record, count_inputs, read_paths

CT1 = {
    "eventVersion": "1.08",
    "eventTime": "2024-05-01T10:00:00Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateUser",
    "awsRegion": "us-east-1",
}
CT2 = {
    "eventVersion": "1.08",
    "eventTime": "2024-05-01T10:01:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "PutBucketPolicy",
    "awsRegion": "us-east-1",
}
K1 = {
    "kind": "Event",
    "apiVersion": "audit.k8s.io/v1",
    "level": "Metadata",
    "auditID": "a1",
    "stage": "ResponseComplete",
    "verb": "create",
    "objectRef": {"resource": "pods", "namespace": "default"},
}
K2 = {**K1, "auditID": "a2", "verb": "delete"}
DIGEST = {
    "awsAccountId": "111122223333",
    "digestStartTime": "2024-05-01T09:00:00Z",
    "digestEndTime": "2024-05-01T10:00:00Z",
    "logFiles": [],
}


@pytest.fixture(autouse=True, params=["orjson", "json"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the optional orjson decoder and with the standard one."""
    if request.param == "orjson":
        orjson = pytest.importorskip("orjson")
        monkeypatch.setattr(readers, "_loads", orjson.loads)
    else:
        monkeypatch.setattr(readers, "_loads", json.loads)
    return str(request.param)


def write(path: Path, data: str | bytes, *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def lines(*docs: Any) -> str:
    return "".join(json.dumps(d) + "\n" for d in docs)


def read(*paths: Path | str, source: str | None = None) -> list[Record | BadInput]:
    return list(read_paths(list(paths), source))


def summary(items: list[Record | BadInput]) -> list[tuple[str, ...]]:
    """What a user sees: where each item came from, and its source or error."""
    out: list[tuple[str, ...]] = []
    for item in items:
        if isinstance(item, Record):
            out.append((item.origin, item.source))
        else:
            out.append((item.origin, "BAD", item.message))
    return out


# -- CloudTrail -------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_cloudtrail_records_object_as_aws_delivers_it(tmp_path: Path, gz: bool) -> None:
    name = "trail.json.gz" if gz else "trail.json"
    path = write(tmp_path / name, json.dumps({"Records": [CT1, CT2]}), gz=gz)
    got = read(path)
    assert summary(got) == [
        (f"{path}:Records[0]", "aws_cloudtrail"),
        (f"{path}:Records[1]", "aws_cloudtrail"),
    ]
    assert [r.doc for r in got if isinstance(r, Record)] == [CT1, CT2]


@pytest.mark.parametrize("gz", [False, True])
def test_cloudtrail_pretty_printed_document(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "trail.json", json.dumps({"Records": [CT1, CT2]}, indent=2), gz=gz)
    assert summary(read(path)) == [
        (f"{path}:Records[0]", "aws_cloudtrail"),
        (f"{path}:Records[1]", "aws_cloudtrail"),
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_cloudtrail_json_array(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "events", json.dumps([CT1, CT2], indent=1), gz=gz)
    assert summary(read(path)) == [
        (f"{path}:[0]", "aws_cloudtrail"),
        (f"{path}:[1]", "aws_cloudtrail"),
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_cloudtrail_json_lines(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "events.json", lines(CT1, CT2), gz=gz)
    got = read(path)
    assert summary(got) == [(f"{path}:1", "aws_cloudtrail"), (f"{path}:2", "aws_cloudtrail")]
    assert got[1].doc == CT2  # type: ignore[union-attr]


def test_cloudtrail_detected_by_event_time_and_source(tmp_path: Path) -> None:
    doc = {"eventTime": "2024-05-01T10:00:00Z", "eventSource": "ec2.amazonaws.com"}
    path = write(tmp_path / "one.json", lines(doc, doc))
    assert [r.source for r in read(path) if isinstance(r, Record)] == ["aws_cloudtrail"] * 2


def test_awslogs_tree_sorted_with_digests_and_hidden_files_skipped(tmp_path: Path) -> None:
    base = tmp_path / "AWSLogs" / "111122223333"
    day1 = base / "CloudTrail" / "us-east-1" / "2024" / "05" / "01"
    day2 = base / "CloudTrail" / "us-east-1" / "2024" / "05" / "02"
    b = write(day1 / "111122223333_CloudTrail_us-east-1_20240501T1005Z_b.json.gz",
              json.dumps({"Records": [CT2]}), gz=True)  # fmt: skip
    a = write(day1 / "111122223333_CloudTrail_us-east-1_20240501T1000Z_a.json.gz",
              json.dumps({"Records": [CT1]}), gz=True)  # fmt: skip
    c = write(day2 / "111122223333_CloudTrail_us-east-1_20240502T0000Z_c.json.gz",
              json.dumps({"Records": [CT1, CT2]}), gz=True)  # fmt: skip
    digest_dir = base / "CloudTrail-Digest" / "us-east-1" / "2024" / "05" / "01"
    write(digest_dir / "111122223333_CloudTrail-Digest_us-east-1_x.json.gz",
          json.dumps(DIGEST), gz=True)  # fmt: skip
    # A digest that lost its telltale name is still recognised by its content.
    write(day2 / "renamed-digest.json", json.dumps(DIGEST))
    write(day1 / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    write(base / ".cache" / "junk.json", "not json")

    got = read(tmp_path / "AWSLogs")
    assert summary(got) == [
        (f"{a}:Records[0]", "aws_cloudtrail"),
        (f"{b}:Records[0]", "aws_cloudtrail"),
        (f"{c}:Records[0]", "aws_cloudtrail"),
        (f"{c}:Records[1]", "aws_cloudtrail"),
    ]
    # The three trail files and the renamed digest are opened; the named digest is not.
    assert count_inputs([tmp_path / "AWSLogs"]) == 4


def test_digest_named_explicitly_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "x_CloudTrail-Digest_y.json", json.dumps(DIGEST))
    assert read(path) == []
    assert count_inputs([path]) == 0


# -- Kubernetes audit ---------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_k8s_audit_json_lines_as_the_api_server_writes_them(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "audit.log", lines(K1, K2), gz=gz)
    got = read(path)
    assert summary(got) == [(f"{path}:1", "k8s_audit"), (f"{path}:2", "k8s_audit")]
    assert [r.doc["auditID"] for r in got if isinstance(r, Record)] == ["a1", "a2"]


@pytest.mark.parametrize("gz", [False, True])
def test_k8s_event_list(tmp_path: Path, gz: bool) -> None:
    doc = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [K1, K2]}
    path = write(tmp_path / "events.json", json.dumps(doc, indent=2), gz=gz)
    assert summary(read(path)) == [
        (f"{path}:items[0]", "k8s_audit"),
        (f"{path}:items[1]", "k8s_audit"),
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_k8s_single_event_document(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "event.json", json.dumps(K1, indent=2), gz=gz)
    assert summary(read(path)) == [(str(path), "k8s_audit")]


@pytest.mark.parametrize("gz", [False, True])
def test_k8s_json_array(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "events.json", json.dumps([K1, K2]), gz=gz)
    assert summary(read(path)) == [(f"{path}:[0]", "k8s_audit"), (f"{path}:[1]", "k8s_audit")]


def test_k8s_detected_by_kind_and_stage_without_api_version(tmp_path: Path) -> None:
    doc = {"kind": "Event", "stage": "ResponseComplete", "verb": "get"}
    path = write(tmp_path / "audit.log", lines(doc))
    assert summary(read(path)) == [(str(path), "k8s_audit")]


# -- both sources, and sources given -------------------------------------------------


def test_both_sources_detected_in_one_directory(tmp_path: Path) -> None:
    trail = write(tmp_path / "a-trail.json.gz", json.dumps({"Records": [CT1]}), gz=True)
    audit = write(tmp_path / "b-audit.log", lines(K1, K2))
    mixed = write(tmp_path / "c-mixed.jsonl", lines(CT2, K1, {"hello": "world"}))
    assert summary(read(tmp_path)) == [
        (f"{trail}:Records[0]", "aws_cloudtrail"),
        (f"{audit}:1", "k8s_audit"),
        (f"{audit}:2", "k8s_audit"),
        (f"{mixed}:1", "aws_cloudtrail"),
        (f"{mixed}:2", "k8s_audit"),
        (f"{mixed}:3", "BAD", "cannot tell the source of this record; use --source"),
    ]


def test_given_source_is_not_sniffed_but_wrappers_are_unwrapped(tmp_path: Path) -> None:
    trail = write(tmp_path / "trail.json", json.dumps({"Records": [K1, {"x": 1}]}))
    elist = write(tmp_path / "list.json", json.dumps({"kind": "EventList", "items": [CT1]}))
    got = read(trail, elist, source="aws_cloudtrail")
    assert summary(got) == [
        (f"{trail}:Records[0]", "aws_cloudtrail"),
        (f"{trail}:Records[1]", "aws_cloudtrail"),
        (f"{elist}:items[0]", "aws_cloudtrail"),
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_generic_json_array_lines_and_single_doc(tmp_path: Path, gz: bool) -> None:
    arr = write(tmp_path / "arr.json", json.dumps([{"a": 1}, {"a": 2}], indent=2), gz=gz)
    jl = write(tmp_path / "lines.json", lines({"a": 3}, {"a": 4}), gz=gz)
    one = write(tmp_path / "one.json", json.dumps({"a": {"b": [5]}}, indent=2), gz=gz)
    got = read(arr, jl, one, source="json")
    assert summary(got) == [
        (f"{arr}:[0]", "json"),
        (f"{arr}:[1]", "json"),
        (f"{jl}:1", "json"),
        (f"{jl}:2", "json"),
        (str(one), "json"),
    ]
    assert [r.doc for r in got if isinstance(r, Record)][-1] == {"a": {"b": [5]}}


def test_syscall_json_lines(tmp_path: Path) -> None:
    evts = [
        {"evt.type": "execve", "proc.name": "bash", "proc.pid": 42},
        {"evt.type": "openat", "fd.name": "/etc/shadow", "proc.pid": 42},
    ]
    path = write(tmp_path / "sys.jsonl", lines(*evts), gz=True)
    got = read(path, source="syscall")
    assert summary(got) == [(f"{path}:1", "syscall"), (f"{path}:2", "syscall")]
    assert [r.doc for r in got if isinstance(r, Record)] == evts


def test_concatenated_pretty_printed_documents_as_jq_prints_them(tmp_path: Path) -> None:
    text = json.dumps(CT1, indent=2) + "\n" + json.dumps(K1, indent=2) + "\n"
    path = write(tmp_path / "jq-out.json", text)
    second_line = json.dumps(CT1, indent=2).count("\n") + 2
    assert summary(read(path)) == [
        (f"{path}:1", "aws_cloudtrail"),
        (f"{path}:{second_line}", "k8s_audit"),
    ]


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf"
    jl = write(tmp_path / "bom.jsonl", bom + lines(K1, K2).encode())
    doc = write(tmp_path / "bom.json", bom + b"\n" + json.dumps([K1], indent=2).encode())
    assert summary(read(jl, doc)) == [
        (f"{jl}:1", "k8s_audit"),
        (f"{jl}:2", "k8s_audit"),
        (f"{doc}:[0]", "k8s_audit"),
    ]


def test_blank_lines_are_tolerated_and_line_numbers_are_physical(tmp_path: Path) -> None:
    text = "\n  \n" + json.dumps(K1) + "\n\n\r\n" + json.dumps(K2) + "\r\n\t\n"
    path = write(tmp_path / "audit.log", text)
    assert summary(read(path)) == [(f"{path}:3", "k8s_audit"), (f"{path}:6", "k8s_audit")]


# -- errors never stop the scan -------------------------------------------------------


def test_missing_path_is_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    good = write(tmp_path / "audit.log", lines(K1))
    missing = tmp_path / "nope.json"
    assert summary(read(missing, good)) == [
        (str(missing), "BAD", "cannot open: no such file or directory"),
        (str(good), "k8s_audit"),
    ]
    assert count_inputs([missing, good]) == 1


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.json", lines(K1))
    path.chmod(0)
    try:
        assert summary(read(path)) == [(str(path), "BAD", "cannot open: permission denied")]
    finally:
        path.chmod(0o600)


def test_bad_json_lines_are_reported_one_each_and_good_lines_still_read(tmp_path: Path) -> None:
    text = json.dumps(K1) + "\n" + '{"kind": "Event" "verb": "get"}\n' + "{oops\n" + json.dumps(K2)
    path = write(tmp_path / "audit.log", text)
    got = summary(read(path))
    assert [g[:2] for g in got] == [
        (f"{path}:1", "k8s_audit"),
        (f"{path}:2", "BAD"),
        (f"{path}:3", "BAD"),
        (f"{path}:4", "k8s_audit"),
    ]
    assert got[1][2].startswith("not JSON: ")
    assert got[1][2].endswith(" at column 18")
    assert got[2][2].startswith("not JSON: ")
    assert got[2][2].endswith(" at column 2")


def test_line_that_is_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "audit.log", lines(K1).encode() + b'{"verb": "g\xffet"}\n')
    assert summary(read(path))[1] == (
        f"{path}:2",
        "BAD",
        "not UTF-8 text: byte 0xff at column 12 (invalid start byte)",
    )


def test_broken_whole_document_is_one_error_with_its_position(tmp_path: Path) -> None:
    text = json.dumps({"Records": [CT1, CT2]}, indent=2)
    cut = text.rindex("}", 0, len(text) - 5)
    path = write(tmp_path / "trail.json", text[:cut] + "}, ]}")  # a trailing comma
    got = read(path)
    assert len(got) == 1
    assert isinstance(got[0], BadInput)
    assert got[0].origin == str(path)
    assert got[0].message.startswith("not JSON: ")
    assert " at line " in got[0].message


@pytest.mark.parametrize("bad", [[1, "two", None, [3], True], "just a string", 42])
def test_record_that_is_not_an_object(tmp_path: Path, bad: Any) -> None:
    path = write(tmp_path / "bad.json", json.dumps(bad) + "\n" + json.dumps(K1) + "\n")
    got = summary(read(path))
    assert got[-1] == (f"{path}:2", "k8s_audit")
    if isinstance(bad, list):
        assert got[:-1] == [
            (f"{path}:1:[0]", "BAD", "record is not a JSON object (it is a number)"),
            (f"{path}:1:[1]", "BAD", "record is not a JSON object (it is a string)"),
            (f"{path}:1:[2]", "BAD", "record is not a JSON object (it is null)"),
            (f"{path}:1:[3]", "BAD", "record is not a JSON object (it is an array)"),
            (f"{path}:1:[4]", "BAD", "record is not a JSON object (it is a boolean)"),
        ]
    else:
        kind = "a string" if isinstance(bad, str) else "a number"
        assert got[:-1] == [(f"{path}:1", "BAD", f"record is not a JSON object (it is {kind})")]


def test_record_that_is_not_an_object_in_cloudtrail_records(tmp_path: Path) -> None:
    path = write(tmp_path / "t.json.gz", json.dumps({"Records": [CT1, "x", CT2]}), gz=True)
    assert summary(read(path)) == [
        (f"{path}:Records[0]", "aws_cloudtrail"),
        (f"{path}:Records[1]", "BAD", "record is not a JSON object (it is a string)"),
        (f"{path}:Records[2]", "aws_cloudtrail"),
    ]


@pytest.mark.parametrize(
    "content", [b"", b"\n\n  \n", b"\xef\xbb\xbf\n", gzip.compress(b""), gzip.compress(b"\n")]
)
def test_empty_file_yields_nothing(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "empty.json", content)
    assert read(path) == []
    assert count_inputs([path]) == 1


def test_file_that_is_not_json_is_one_error(tmp_path: Path) -> None:
    readme = write(tmp_path / "README", "These are our audit logs.\nDo not delete.\n")
    audit = write(tmp_path / "audit.log", lines(K1))
    assert summary(read(tmp_path)) == [
        (str(readme), "BAD", "not JSON: the file starts with 'These are our audit logs'"),
        (str(audit), "k8s_audit"),
    ]


def test_truncated_gzip_of_json_lines_yields_the_good_prefix_then_one_error(
    tmp_path: Path,
) -> None:
    events = [{**K1, "auditID": f"id-{i}", "pad": "x" * (i % 97)} for i in range(3000)]
    whole = gzip.compress(lines(*events).encode())
    cut = whole[: len(whole) // 2]
    path = write(tmp_path / "audit.log.gz", cut)
    after = write(tmp_path / "zz-after.log", lines(K2))

    got = read(path, after)
    records = [r for r in got if isinstance(r, Record) and r.origin.startswith(str(path))]
    errors = [r for r in got if isinstance(r, BadInput)]
    assert len(records) > 100
    # The prefix is exactly the first events, in order, each at its own line.
    assert [r.doc for r in records] == events[: len(records)]
    assert records[-1].origin == f"{path}:{len(records)}"
    assert errors == [
        BadInput(
            f"{path}:{len(records) + 1}",
            f"truncated gzip stream after {len(cut)} bytes (the file is incomplete)",
        )
    ]
    assert summary(got[-1:]) == [(str(after), "k8s_audit")]


def test_truncated_gzip_of_whole_document_is_one_error(tmp_path: Path) -> None:
    doc = json.dumps({"Records": [CT1, CT2] * 200}, indent=2)
    whole = gzip.compress(doc.encode())
    path = write(tmp_path / "trail.json.gz", whole[: len(whole) - 40])
    assert read(path) == [
        BadInput(
            str(path),
            f"truncated gzip stream after {len(whole) - 40} bytes (the file is incomplete)",
        )
    ]


def test_corrupt_gzip_is_reported(tmp_path: Path) -> None:
    body = bytearray(gzip.compress(lines(*([K1] * 500)).encode()))
    body[40:60] = b"\xff" * 20
    path = write(tmp_path / "audit.log.gz", bytes(body))
    got = read(path)
    assert isinstance(got[-1], BadInput)
    assert got[-1].message.startswith("corrupt gzip stream: ")
    assert all(isinstance(r, Record) for r in got[:-1])


# -- laziness ---------------------------------------------------------------------------


def test_read_paths_is_a_lazy_generator(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    stream = read_paths([path])
    assert inspect.isgenerator(stream)
    # Nothing was looked at yet: the file can appear after the call.
    write(path, lines(K1))
    assert summary(list(stream)) == [(str(path), "k8s_audit")]


@pytest.mark.parametrize("gz", [False, True])
def test_a_huge_json_lines_file_is_streamed(tmp_path: Path, gz: bool) -> None:
    line = json.dumps({**K1, "pad": "p" * 900}) + "\n"
    copies = 20_000  # about 20 MB of JSON lines
    path = tmp_path / ("huge.log.gz" if gz else "huge.log")
    opener = gzip.open if gz else open
    with opener(path, "wt") as out:
        for _ in range(copies):
            out.write(line)

    tracemalloc.start()
    try:
        first = list(itertools.islice(read_paths([path]), 3))
        _, peak_first = tracemalloc.get_traced_memory()
        count = sum(1 for _ in read_paths([path]))
        _, peak_all = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary(first) == [(f"{path}:{i}", "k8s_audit") for i in (1, 2, 3)]
    assert count == copies
    # Were the file loaded whole, 20 MB would show up here.
    assert peak_first < 2_000_000
    assert peak_all < 2_000_000


def test_directory_walk_passes_over_docs_and_scripts(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# recorded logs\n")
    (tmp_path / "make.py").write_text("print('hi')\n")
    (tmp_path / "audit.log").write_text(
        json.dumps(
            {
                "apiVersion": "audit.k8s.io/v1",
                "kind": "Event",
                "auditID": "a",
                "stage": "ResponseComplete",
            }
        )
        + "\n"
    )
    items = list(read_paths([tmp_path]))
    assert [type(i).__name__ for i in items] == ["Record"]
    # Named explicitly, a file is read whatever its name, and a bad one is reported.
    explicit = list(read_paths([tmp_path / "README.md"]))
    assert len(explicit) == 1 and isinstance(explicit[0], BadInput)


# -- one record never blinds a file ------------------------------------------------------


def _nested(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


BIG_400 = (
    '{"eventVersion":"1.08","eventTime":"2024-05-01T10:02:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","n":'
    + "4" * 400
    + "}"
)


@pytest.mark.parametrize("layout", ["one-line", "pretty", "json-lines"])
def test_a_400_digit_integer_is_read_and_the_file_is_not_dropped(
    tmp_path: Path, layout: str
) -> None:
    # orjson refuses integers past 64 bits: the whole file used to be one bad input.
    if layout == "json-lines":
        text = lines(CT1) + BIG_400 + "\n" + lines(CT2)
        where = [f"{{p}}:{n}" for n in (1, 2, 3)]
    else:
        docs = ",".join([json.dumps(CT1), BIG_400, json.dumps(CT2)])
        text = '{"Records": [' + docs + "]}"
        if layout == "pretty":
            text = '{"Records": [\n' + docs.replace(",{", ",\n{") + "\n]}"
        where = [f"{{p}}:Records[{i}]" for i in range(3)]
    path = write(tmp_path / "trail.json", text)
    got = read(path)
    assert summary(got) == [(w.format(p=path), "aws_cloudtrail") for w in where]
    assert got[1].doc["n"] == int("4" * 400)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (_nested(1000), "record refused: nests deeper than 64 levels"),
        (_nested(100), "record refused: nests deeper than 64 levels"),
        ('{"n":' + "5" * 5000 + "}", "record refused: a number has more than 4,300 digits"),
    ],
    ids=["1000-deep", "100-deep", "5000-digits"],
)
@pytest.mark.parametrize("layout", ["one-line", "pretty", "json-lines", "array", "concatenated"])
def test_a_record_the_bounds_refuse_is_one_bad_input_at_its_place(
    tmp_path: Path, layout: str, bad: str, reason: str
) -> None:
    good1, good2 = json.dumps(CT1), json.dumps(CT2)
    if layout == "json-lines":
        text, where = f"{good1}\n{bad}\n{good2}\n", ["{p}:1", "{p}:2", "{p}:3"]
    elif layout == "concatenated":  # as `jq .` prints them
        text = json.dumps(CT1, indent=2) + "\n" + bad + "\n" + json.dumps(CT2, indent=2) + "\n"
        where = ["{p}:1", "{p}:8", "{p}:9"]
    elif layout == "array":
        text, where = f"[{good1},\n{bad},\n{good2}]", ["{p}:[0]", "{p}:[1]", "{p}:[2]"]
    else:
        sep = ",\n" if layout == "pretty" else ","
        text = '{"Records": [' + ("\n" if layout == "pretty" else "")
        text += sep.join([good1, bad, good2]) + "]}"
        where = [f"{{p}}:Records[{i}]" for i in range(3)]
    path = write(tmp_path / "trail.json", text)
    assert summary(read(path)) == [
        (where[0].format(p=path), "aws_cloudtrail"),
        (where[1].format(p=path), "BAD", reason),
        (where[2].format(p=path), "aws_cloudtrail"),
    ]


def test_a_single_event_too_deep_is_one_bad_input(tmp_path: Path) -> None:
    doc = dict(CT1, requestParameters=json.loads(_nested(100)))
    path = write(tmp_path / "one.json", json.dumps(doc, indent=2))
    assert summary(read(path)) == [
        (str(path), "BAD", "record refused: nests deeper than 64 levels")
    ]


# -- EventBridge envelopes ----------------------------------------------------------------


def _envelope(detail: dict[str, Any], detail_type: str = "AWS API Call via CloudTrail") -> Any:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "aws.cloudtrail" if "Call" in detail_type else "aws.signin",
        "account": "123456789012",
        "time": detail["eventTime"],
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


@pytest.mark.parametrize("source", [None, "aws_cloudtrail"])
def test_eventbridge_cloudtrail_envelopes_are_unwrapped(tmp_path: Path, source: str | None) -> None:
    signin = {**CT1, "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin"}
    path = write(
        tmp_path / "eb.json",
        lines(_envelope(CT1), _envelope(signin, "AWS Console Sign In via CloudTrail")),
    )
    got = read(path, source=source)
    assert summary(got) == [(f"{path}:1", "aws_cloudtrail"), (f"{path}:2", "aws_cloudtrail")]
    assert [r.doc for r in got if isinstance(r, Record)] == [CT1, signin]


def test_lanner_scan_alerts_on_an_eventbridge_stop_logging(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import main

    event = json.loads(
        (
            Path(__file__).parent / "aws" / "data" / "cloudtrail" / "eventbridge_stop_logging.json"
        ).read_text()
    )
    path = write(tmp_path / "eb.json", json.dumps(event, indent=2))
    for args in (["--source", "aws_cloudtrail"], []):
        done = CliRunner().invoke(main, ["scan", "--json", *args, str(path)])
        alerts = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert [a["rule"] for a in alerts] == ["AWS CloudTrail Trail Stopped Or Deleted"], args


def test_the_depth_limit_is_boundedjsons_exactly(tmp_path: Path) -> None:
    from lanner import boundedjson

    def nest(levels: int) -> Any:  # `levels` as boundedjson counts them (the leaf is one)
        doc: Any = 1
        for _ in range(levels - 2):
            doc = {"a": doc}
        return {**CT1, "x": doc}

    path = write(
        tmp_path / "t.json", lines(nest(boundedjson.MAX_DEPTH), nest(boundedjson.MAX_DEPTH + 1))
    )
    assert summary(read(path)) == [
        (f"{path}:1", "aws_cloudtrail"),
        (f"{path}:2", "BAD", "record refused: nests deeper than 64 levels"),
    ]


def test_broken_json_after_a_refused_value_is_one_bad_input(tmp_path: Path) -> None:
    # The decoder stops at the deep value first; the fallback then meets the breakage.
    path = write(tmp_path / "t.json", '{"Records": [' + _nested(1000) + "], [1]: 2}")
    ((origin, bad, message),) = summary(read(path))
    assert (origin, bad) == (str(path), "BAD")
    assert message == "record refused: nests deeper than 64 levels"


# -- bounds: what no file can make the reader hold or do ------------------------------


SMALL = readers.ReadLimits(line=1_000, document=10_000, gzip_ratio=20, gzip_floor=50_000)


def read_within(path: Path, limits: readers.ReadLimits = SMALL) -> list[Record | BadInput]:
    return list(read_paths([path], limits=limits))


@pytest.mark.parametrize("gz", [False, True])
def test_a_line_too_long_is_skipped_counted_and_the_next_lines_read(
    tmp_path: Path, gz: bool
) -> None:
    long = {**K1, "auditID": "long", "pad": "x" * 1_500}
    size = len(json.dumps(long))
    path = write(tmp_path / "audit.log", lines(K1, long, K2), gz=gz)
    assert summary(read_within(path)) == [
        (f"{path}:1", "k8s_audit"),
        (f"{path}:2", "BAD", f"line too long ({size:,} bytes; at most 1,000): skipped"),
        (f"{path}:3", "k8s_audit"),
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_a_line_without_end_stops_the_file_at_the_document_bound(tmp_path: Path, gz: bool) -> None:
    # /dev/zero, or a bomb of one endless line: read in pieces, never held, and given up.
    path = write(tmp_path / "audit.log", lines(K1) + "{" + "x" * 30_000, gz=gz)
    assert summary(read_within(path)) == [
        (f"{path}:1", "k8s_audit"),
        (f"{path}:2", "BAD", "a line goes on past 10,000 bytes: the rest of the file is not read"),
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_a_document_too_large_is_not_read(tmp_path: Path, gz: bool) -> None:
    path = write(tmp_path / "trail.json", json.dumps({"Records": [CT1] * 100}, indent=2), gz=gz)
    assert summary(read_within(path)) == [
        (str(path), "BAD", "document too large (more than 10,000 bytes): not read")
    ]
    # Within the bound it is read whole.
    roomy = readers.ReadLimits(line=1_000, document=100_000)
    assert len(read_within(path, roomy)) == 100


def test_a_first_line_longer_than_a_document_ends_the_file(tmp_path: Path) -> None:
    # The first line may be a whole document (CloudTrail's one line): its bound is that.
    path = write(tmp_path / "audit.log", lines({**K1, "pad": "x" * 12_000}, K2))
    assert summary(read_within(path)) == [
        (str(path), "BAD", "a line goes on past 10,000 bytes: the rest of the file is not read")
    ]


def test_a_gzip_bomb_is_read_up_to_its_budget_then_cut(tmp_path: Path) -> None:
    # Lines that compress a thousand times over: real logs compress ten to thirty times.
    body = lines(K1) + "\n" * 5_000_000
    path = write(tmp_path / "bomb.log.gz", body, gz=True)
    budget = max(SMALL.gzip_floor, SMALL.gzip_ratio * path.stat().st_size)
    tracemalloc.start()
    try:
        got = read_within(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert budget < len(body)
    assert summary(got)[0] == (f"{path}:1", "k8s_audit")
    ((origin, bad, message),) = summary(got)[1:]
    assert bad == "BAD" and origin.startswith(f"{path}:")
    assert message == (
        f"gzip stream decompressed past {budget:,} bytes, the bound for this file "
        "(20 times its size, at least 50,000): the rest is not read (a gzip bomb?)"
    )
    # Stopped near the budget: the blank lines after it were never decompressed.
    assert int(origin.rsplit(":", 1)[1]) < budget + 10
    assert peak < 1_000_000


def test_a_plain_file_has_no_budget_only_line_bounds(tmp_path: Path) -> None:
    # What a plain file holds is on the disk already: only its lines are bounded.
    path = write(tmp_path / "audit.log", lines(*([K1] * 500)))
    assert len(read_within(path)) == 500


def test_lanner_scan_counts_and_reports_a_line_cut_from_a_compressed_recording(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from cli.main import main

    event = {"evt.type": "openat", "fd.name": "/etc/shadow", "proc.name": "cat"}
    rules = write(
        tmp_path / "rules.yaml",
        "- rule: Shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n"
        "  output: read (proc=%proc.name)\n  priority: WARNING\n  source: syscall\n",
    )
    huge = {**event, "pad": "x" * readers.LIMITS.line}  # past the default bound, by a little
    path = write(tmp_path / "capture", lines(event, huge, event), gz=True)
    result = CliRunner().invoke(main, ["scan", "-r", str(rules), "--source", "syscall", str(path)])
    assert result.exit_code == 1
    assert result.stdout.count("Warning read (proc=cat)") == 2
    size = len(json.dumps(huge))
    assert (
        f"{path}:2: bad input: line too long ({size:,} bytes; at most 16,777,216): skipped"
        in result.stderr
    )
    assert "scanned 2 events (syscall: 2); 2 alerts; 1 bad input(s)" in result.stderr

"""The pre-filter: from the loaded rules, whether any can match an event of which only the
event's own fields are known (``Engine.prefilter``, ``lanner.condition.prefilter``).

It must never refuse an event some rule matches (a property test checks that on random
conditions and documents, against the engine's own evaluation), and it must refuse what
no rule can match: opening /etc/hostname under Falco's stable rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lanner import Engine, compile_rules, load_rules, load_rules_text

ROOT = Path(__file__).resolve().parent.parent
STABLE = ROOT.parent / "shared" / "corpus" / "falco" / "falco_rules.yaml"
BUNDLED = ROOT / "rules" / "syscall_rules.yaml"

# What a producer knows before the process part (the sensor's choice is sensor.enrich's
# EARLY_FIELDS; the core takes any set).
EARLY = [
    "evt.type",
    "evt.arg",
    "evt.rawarg",
    "evt.res",
    "evt.rawres",
    "evt.failed",
    "evt.is_open_read",
    "evt.is_open_write",
    "fd.num",
    "fd.type",
    "fd.typechar",
    "fd.name",
    "fd.directory",
    "fd.filename",
    "fd.nameraw",
    "fd.sip",
    "fd.sport",
    "fd.l4proto",
]


def engine(conditions: dict[str, str], *, lists: str = "", exceptions: str = "") -> Engine:
    rules = [lists]
    for i, (name, cond) in enumerate(conditions.items()):
        rules.append(
            f"- rule: {name}\n  desc: d\n  condition: {cond}\n  output: 'r{i} %fd.name'\n"
            f"  priority: WARNING\n  source: syscall\n{exceptions if i == 0 else ''}"
        )
    return compile_rules(load_rules_text("\n".join(rules)), match="all")


def opening(path: str, *, flags: str = "O_RDONLY", fd: int = 3, **more: Any) -> dict[str, Any]:
    """The early part of an openat document, as the sensor gives it."""
    return {
        "evt.type": "openat",
        "evt.rawtime": 1_700_000_000_000_000_000,
        "evt.arg": {"fd": str(fd), "name": path, "flags": flags},
        "evt.rawarg": {"fd": fd, "name": path},
        "evt.res": "SUCCESS" if fd >= 0 else "ENOENT",
        "evt.rawres": fd,
        "evt.failed": fd < 0,
        "evt.is_open_read": "O_RDONLY" in flags or "O_RDWR" in flags,
        "evt.is_open_write": "O_WRONLY" in flags or "O_RDWR" in flags,
        "fd.num": fd,
        "fd.type": "file",
        "fd.typechar": "f",
        "fd.name": path,
        "fd.nameraw": path,
        **more,
    }


def can_match(eng: Engine, doc: dict[str, Any]) -> bool:
    return eng.prefilter("syscall", EARLY).can_match(doc)


# --- what must pass ---------------------------------------------------------------------


def test_a_rule_on_process_fields_only_lets_every_event_of_its_type_through() -> None:
    eng = engine({"cat opens": "evt.type = openat and proc.name = cat"})
    assert can_match(eng, opening("/etc/hostname"))
    assert eng.prefilter("syscall", EARLY).undecided == ("cat opens",)
    # ...but not events of other types: the engine's evt.type index still applies
    assert not can_match(eng, {"evt.type": "close", "fd.num": 3})


def test_a_negation_over_unknown_fields_lets_through_what_it_may_not_exclude() -> None:
    # not (unknown and known): the process may not be sshd, so /etc/shadow may match
    eng = engine({"r": "evt.type = openat and not (proc.name = sshd and fd.name = /etc/shadow)"})
    assert can_match(eng, opening("/etc/shadow"))
    assert can_match(eng, opening("/etc/hostname"))
    # not (unknown or known): the known part alone rules /etc/shadow out
    eng = engine({"r": "evt.type = openat and not (proc.name = sshd or fd.name = /etc/shadow)"})
    assert not can_match(eng, opening("/etc/shadow"))
    assert can_match(eng, opening("/etc/hostname"))


def test_an_exception_is_a_negation_like_any_other() -> None:
    exceptions = (
        "  exceptions:\n"
        "    - name: trusted\n      fields: [proc.name, fd.name]\n"
        "      values: [[sshd, /etc/shadow]]\n"
        "    - name: never_passwd\n      fields: [fd.name]\n      values: [[/etc/passwd]]\n"
    )
    eng = engine({"r": "evt.type = openat and fd.name startswith /etc/"}, exceptions=exceptions)
    assert can_match(eng, opening("/etc/shadow"))  # sshd is excepted, others are not
    assert not can_match(eng, opening("/etc/passwd"))  # excepted whoever opens it
    assert not can_match(eng, opening("/tmp/x"))


def test_list_operators_and_transformers_over_known_fields_are_decided() -> None:
    eng = engine(
        {
            "in": "evt.type = openat and fd.name in (sensitive)",
            "pmatch": "evt.type = openat and fd.name pmatch (/root/.ssh)",
            "lower": "evt.type = openat and tolower(fd.filename) = id_rsa",
            "glob": "evt.type = openat and fd.nameraw glob '*../*../*'",
        },
        lists="- list: sensitive\n  items: [/etc/shadow, /etc/sudoers]\n",
    )
    assert not can_match(eng, opening("/etc/hostname"))
    assert can_match(eng, opening("/etc/sudoers"))
    assert can_match(eng, opening("/root/.ssh/authorized_keys"))
    assert can_match(eng, opening("/home/a/.ssh/ID_RSA"))
    assert can_match(eng, opening("/srv/www/../../etc/hostname"))


def test_list_fields_and_transformers_over_unknown_fields_let_everything_through() -> None:
    for cond in (
        "evt.type = openat and proc.aname in (sshd)",
        "evt.type = openat and basename(proc.exe) = cat",
        "evt.type = openat and fd.name = val(proc.cwd)",
        "evt.type = openat and fd.name exists and proc.aname[2] = sshd",
    ):
        assert can_match(engine({"r": cond}), opening("/etc/hostname")), cond


def test_a_rule_without_evt_type_is_decided_on_its_other_fields() -> None:
    eng = engine({"shadow": "fd.name = /etc/shadow"})
    assert not can_match(eng, opening("/etc/hostname"))
    assert can_match(eng, {"evt.type": "close", "fd.num": 3, "fd.name": "/etc/shadow"})
    # and one on process fields alone: every event, whatever its type
    eng = engine({"cat": "proc.name = cat"})
    assert can_match(eng, opening("/etc/hostname"))
    assert can_match(eng, {"evt.type": "getuid"})


def test_an_event_the_test_cannot_read_is_let_through() -> None:
    eng = engine({"r": "evt.type = openat and evt.arg.flags contains O_TRUNC"})
    assert not can_match(eng, opening("/var/log/x"))
    assert can_match(eng, opening("/var/log/x", flags="O_WRONLY|O_TRUNC"))
    broken = opening("/var/log/x")
    broken["evt.arg"] = "not a mapping"  # the extractor raises on it
    assert can_match(eng, broken)


def test_no_rule_for_the_source_matches_nothing() -> None:
    eng = compile_rules(
        load_rules_text(
            "- rule: r\n  desc: d\n  condition: ct.name = StopLogging\n  output: o\n"
            "  priority: WARNING\n  source: aws_cloudtrail\n"
        )
    )
    assert not can_match(eng, opening("/etc/shadow"))


# --- what must be refused: Falco's stable rules, and ours -------------------------------


@pytest.mark.parametrize("path", [STABLE, BUNDLED], ids=["stable", "bundled"])
def test_opening_etc_hostname_is_refused_and_etc_shadow_is_not(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not present")
    eng = compile_rules(load_rules([str(path)]))
    pf = eng.prefilter("syscall", EARLY)
    assert not pf.can_match(opening("/etc/hostname", flags="O_RDONLY|O_CLOEXEC"))
    assert not pf.can_match(opening("/usr/lib/x86_64-linux-gnu/libc.so.6"))
    assert not pf.can_match({"evt.type": "openat", **opening("/tmp/a", flags="O_WRONLY|O_CREAT")})
    assert pf.can_match(opening("/etc/shadow"))
    # the rules on execve test the process: every execve goes through
    assert pf.can_match({"evt.type": "execve", "evt.rawres": 0, "evt.res": "SUCCESS"})
    # the same rules, evaluated on the whole document, agree
    doc = {**opening("/etc/shadow"), "proc.name": "cat", "proc.exe": "cat", "user.name": "root"}
    assert eng.evaluate(doc, "syscall")


def test_a_skipped_event_counts_as_evaluated_and_keeps_event_numbers() -> None:
    cond = "evt.type = openat and fd.name = /etc/shadow"
    with_filter, without = engine({"r": cond}), engine({"r": cond})
    pf = with_filter.prefilter("syscall", EARLY)
    for doc in (opening("/etc/hostname"), opening("/etc/motd")):
        assert not pf.can_match(doc)
        pf.skip()
        assert without.evaluate(doc, "syscall") == []
    shadow = opening("/etc/shadow")
    assert pf.can_match(shadow)
    (a,) = with_filter.evaluate(dict(shadow), "syscall")
    (b,) = without.evaluate(dict(shadow), "syscall")
    assert with_filter.stats.events == without.stats.events == 3
    assert (a.rule, a.output, a.uuid) == (b.rule, b.output, b.uuid)
    # evt.num, as a rule prints it, is the engine's count of events
    eng = compile_rules(
        load_rules_text(
            "- rule: n\n  desc: d\n  condition: fd.name = /etc/shadow\n  output: 'n=%evt.num'\n"
            "  priority: WARNING\n  source: syscall\n"
        )
    )
    pf = eng.prefilter("syscall", EARLY)
    pf.skip()
    pf.skip()
    assert [x.message for x in eng.evaluate(shadow, "syscall")] == ["n=3"]


# --- never refuses what a rule matches --------------------------------------------------

# Conditions over known fields (fd.name, evt.rawres) and unknown ones (proc.name,
# user.uid), with every connective; documents over the same fields.
_KNOWN = ["fd.name = /etc/shadow", "fd.name startswith /etc", "evt.rawres < 0", "fd.name exists"]
_UNKNOWN = ["proc.name = cat", "proc.name in (cat, sh)", "user.uid = 0", "proc.name exists"]


def _conditions() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(_KNOWN + _UNKNOWN)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda a: f"not ({a})", inner),
            st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
            st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
        ),
        max_leaves=6,
    )


_docs = st.fixed_dictionaries(
    {
        "fd.name": st.sampled_from(["/etc/shadow", "/etc/hostname", "/tmp/x", None]),
        "evt.rawres": st.sampled_from([3, -2, None]),
        "proc.name": st.sampled_from(["cat", "sh", "vim", None]),
        "user.uid": st.sampled_from([0, 1000, None]),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_conditions(), _docs)
def test_the_filter_never_refuses_an_event_a_rule_matches(
    cond: str, fields: dict[str, Any]
) -> None:
    eng = engine({"r": f"evt.type = openat and ({cond})"})
    full = {"evt.type": "openat", **{k: v for k, v in fields.items() if v is not None}}
    early = {k: v for k, v in full.items() if not k.startswith(("proc.", "user."))}
    if eng.evaluate(full, "syscall"):
        assert can_match(eng, early), (cond, full)

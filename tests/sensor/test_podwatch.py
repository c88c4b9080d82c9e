"""PodWatch against a fake Kubernetes API server on 127.0.0.1 over real TLS (``fakeapi``).

Each test drives the server (pods created, changed, deleted, bookmarks, history forgotten,
connections cut, wrong CA, refusals) and checks what the sensor then knows about a
container (``lookup``), what it sent (token, field selector, versions), and its ``stats``.
Waiting is for a condition, with a generous deadline; nothing asserts how long it took.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeapi import FakeApi, Pki, Request, make_pki, start_api
from fakeproc import DOCKER_ID, make_tree

import lanner
from sensor.enrich import Enricher
from sensor.events import EXEC, FORK, RawEvent
from sensor.k8smeta import ContainerMeta
from sensor.podwatch import PodWatch, bounded_lines

STABLE = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "falco" / "falco_rules.yaml"

NODE = "ip-10-0-1-23.ec2.internal"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.first.sig"
NGINX_ID = "a1" * 32
ENVOY_ID = "b2" * 32
INIT_ID = "c3" * 32
BACKUP_ID = "d4" * 32
OTHER_NODE_ID = "e5" * 32
DIGEST = "sha256:" + "9f" * 32


def container(name: str, *, privileged: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": "x"}
    if privileged is not None:
        out["securityContext"] = {"privileged": privileged, "runAsNonRoot": not privileged}
    return out


def cstatus(name: str, image: str, cid: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "image": image, "ready": cid is not None}
    if cid is not None:
        out["containerID"] = f"containerd://{cid}"
        out["imageID"] = f"{image.rsplit(':', 1)[0]}@{DIGEST}"
    return out


def pod(
    name: str,
    uid: str,
    *,
    ns: str = "shop",
    node: str = NODE,
    labels: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    **more: list[dict[str, Any]],
) -> dict[str, Any]:
    init = more.get("initContainers", [])
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": ns, "uid": uid, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": containers or [], "initContainers": init},
        "status": {
            "phase": "Running",
            "containerStatuses": statuses or [],
            "initContainerStatuses": more.get("initContainerStatuses", []),
        },
    }


WEB = pod(
    "web-7d9c6b5f4-x2kqz",
    "uid-web",
    labels={"app": "web", "app.kubernetes.io/name": "nginx"},
    containers=[container("nginx"), container("envoy", privileged=True)],
    statuses=[
        cstatus("nginx", "docker.io/library/nginx:1.27", NGINX_ID),
        cstatus("envoy", f"registry.local:5000/mesh/envoy:v1.30@{DIGEST}", ENVOY_ID),
    ],
    initContainers=[container("migrate", privileged=False)],
    initContainerStatuses=[cstatus("migrate", "ghcr.io/acme/migrate:3", INIT_ID)],
)
ELSEWHERE = pod(
    "db-0",
    "uid-db",
    node="ip-10-0-9-99.ec2.internal",
    containers=[container("postgres")],
    statuses=[cstatus("postgres", "docker.io/library/postgres:16", OTHER_NODE_ID)],
)


def backup(cid: str | None, **labels: str) -> dict[str, Any]:
    """The backup job's pod: pending (no container id yet) or started."""
    return pod(
        "backup-28877760-q8w2p",
        "uid-backup",
        ns="ops",
        labels={"job-name": "backup", **labels},
        containers=[container("backup")],
        statuses=[cstatus("backup", "docker.io/acme/backup-agent:2.4", cid)],
    )


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def api(pki: Pki) -> Iterator[FakeApi]:
    api, stop = start_api(pki)
    api.put(WEB)
    api.put(ELSEWHERE)
    yield api
    stop()


@pytest.fixture
def token(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def open_watch(api: FakeApi, pki: Pki, token: Path) -> Iterator[Callable[..., PodWatch]]:
    """Started PodWatches on ``api``, closed after the test; fast backoff."""
    made: list[PodWatch] = []

    def make(**kw: Any) -> PodWatch:
        options: dict[str, Any] = {
            "token_path": str(token),
            "ca_path": pki.ca,
            "timeout_s": 5.0,
            "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05,
            **kw,
        }
        w = PodWatch(api.url, NODE, **options)
        made.append(w)
        w.start()
        return w

    yield make
    for w in made:
        w.close()


def until(cond: Callable[[], Any], what: str, watch: PodWatch | None = None) -> Any:
    """Wait for ``cond`` to hold (a deadline against hanging, not a timing check)."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError(f"never: {what}" + (f" (stats {watch.stats()})" if watch else ""))


def watches(api: FakeApi) -> list[Request]:
    return api.seen(lambda r: r.query.get("watch") == "1")


def lists(api: FakeApi) -> list[Request]:
    return api.seen(lambda r: "watch" not in r.query)


# --- list, then watch -----------------------------------------------------------------------


def test_lists_this_nodes_pods_then_watches_from_the_list_version(
    api: FakeApi, open_watch: Callable[..., PodWatch]
) -> None:
    w = open_watch()
    nginx = until(lambda: w.lookup(NGINX_ID), "nginx known", w)
    assert nginx == ContainerMeta(
        name="nginx",
        image="docker.io/library/nginx:1.27",
        image_repository="docker.io/library/nginx",
        image_tag="1.27",
        image_digest=None,
        image_id=f"docker.io/library/nginx@{DIGEST}",
        pod_name="web-7d9c6b5f4-x2kqz",
        pod_namespace="shop",
        pod_uid="uid-web",
        pod_labels={"app": "web", "app.kubernetes.io/name": "nginx"},
        privileged=False,
    )
    envoy = w.lookup(ENVOY_ID)
    assert envoy is not None and envoy.privileged is True
    assert (envoy.image_repository, envoy.image_tag, envoy.image_digest) == (
        "registry.local:5000/mesh/envoy",
        "v1.30",
        DIGEST,
    )
    init = w.lookup(INIT_ID)
    assert init is not None and init.name == "migrate" and init.privileged is False
    # Another node's pod is not this sensor's business.
    assert w.lookup(OTHER_NODE_ID) is None
    until(lambda: watches(api), "a watch opened", w)
    (first,) = lists(api)
    assert first.path == "/api/v1/pods"
    assert first.query["fieldSelector"] == f"spec.nodeName={NODE}"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    (watch,) = watches(api)
    assert watch.query["fieldSelector"] == f"spec.nodeName={NODE}"
    assert watch.query["resourceVersion"] == str(api.rv)
    assert watch.query["allowWatchBookmarks"] == "true"
    assert int(watch.query["timeoutSeconds"]) > 0
    assert watch.headers["Authorization"] == f"Bearer {TOKEN}"
    assert w.stats() == {
        "pods": 1,
        "containers": 3,
        "lists": 1,
        "relists": 0,
        "watches": 1,
        "reconnects": 0,
        "events": 0,
        "bookmarks": 0,
        "errors": 0,
    }


def test_added_modified_deleted_pods(api: FakeApi, open_watch: Callable[..., PodWatch]) -> None:
    w = open_watch()
    until(lambda: watches(api), "a watch opened", w)
    # The job's pod is scheduled: its container has no id until it starts.
    api.put(backup(None))
    until(lambda: w.stats()["pods"] == 2, "the pending pod seen", w)
    assert w.lookup(BACKUP_ID) is None
    # It starts (MODIFIED with the container id), and is relabelled.
    api.put(backup(BACKUP_ID))
    found = until(lambda: w.lookup(BACKUP_ID), "the started container", w)
    assert (found.pod_name, found.pod_namespace, found.name) == (
        "backup-28877760-q8w2p",
        "ops",
        "backup",
    )
    assert (found.image_repository, found.image_tag) == ("docker.io/acme/backup-agent", "2.4")
    api.put(backup(BACKUP_ID, team="ops"))
    until(lambda: getattr(w.lookup(BACKUP_ID), "pod_labels", {}).get("team"), "the label", w)
    # A pod on another node changes: nothing of it arrives.
    api.put(pod("db-0", "uid-db", node="ip-10-0-9-99.ec2.internal", labels={"x": "y"}))
    # The web pod goes away: its containers are no longer known.
    api.delete("uid-web")
    until(lambda: w.lookup(NGINX_ID) is None, "web forgotten", w)
    assert w.lookup(ENVOY_ID) is None and w.lookup(BACKUP_ID) is not None
    stats = w.stats()
    assert (stats["events"], stats["pods"], stats["containers"]) == (4, 1, 1)
    assert (stats["errors"], stats["relists"], stats["reconnects"]) == (0, 0, 0)


def test_pages_of_the_list_are_followed(api: FakeApi, open_watch: Callable[..., PodWatch]) -> None:
    api.put(backup(BACKUP_ID))
    w = open_watch(page_size=1)
    until(lambda: watches(api), "a watch opened", w)
    assert w.lookup(NGINX_ID) is not None and w.lookup(BACKUP_ID) is not None
    pages = lists(api)
    assert [r.query["limit"] for r in pages] == ["1", "1"]
    assert "continue" not in pages[0].query and pages[1].query["continue"]
    assert w.stats()["lists"] == 1


# --- the watch protocol ----------------------------------------------------------------------


def test_a_bookmark_moves_the_version_a_reconnect_starts_from(
    api: FakeApi, open_watch: Callable[..., PodWatch]
) -> None:
    w = open_watch()
    until(lambda: watches(api), "a watch opened", w)
    at = api.bookmark()
    until(lambda: w.stats()["bookmarks"] == 1, "the bookmark", w)
    # The server ends the watch (its timeoutSeconds): the next one starts at the bookmark.
    api.end_watches()
    until(lambda: len(watches(api)) == 2, "a second watch", w)
    assert watches(api)[1].query["resourceVersion"] == str(at)
    stats = w.stats()
    assert (stats["reconnects"], stats["relists"], stats["errors"]) == (1, 0, 0)
    assert w.lookup(NGINX_ID) is not None


@pytest.mark.parametrize("as_http", [False, True], ids=["error-event", "http-status"])
def test_410_gone_lists_again(
    api: FakeApi, open_watch: Callable[..., PodWatch], as_http: bool
) -> None:
    api.gone_as_http = as_http
    w = open_watch()
    until(lambda: watches(api), "a watch opened", w)
    assert w.lookup(NGINX_ID) is not None
    # While the watch could not keep up, web went away and the backup pod came: no event
    # says so, and only a new list can tell.
    api.forget(delete=("uid-web",), put=(backup(BACKUP_ID),))
    until(lambda: w.stats()["relists"] == 1, "a relist", w)
    assert w.lookup(NGINX_ID) is None
    found = w.lookup(BACKUP_ID)
    assert found is not None and found.pod_namespace == "ops"
    assert len(lists(api)) == 2
    # and it watches on from the new list's version
    until(lambda: watches(api)[-1].query["resourceVersion"] == str(api.rv), "a new watch", w)
    assert w.stats()["errors"] == 0


def test_a_cut_connection_reconnects_with_a_fresh_token(
    api: FakeApi, open_watch: Callable[..., PodWatch], token: Path
) -> None:
    w = open_watch()
    until(lambda: watches(api), "a watch opened", w)
    token.write_text("eyJhbGciOiJSUzI1NiJ9.rotated.sig\n")  # the kubelet rotated it
    api.cut_watches()
    api.put(backup(BACKUP_ID))  # while the sensor is away or just back: not lost either way
    found = until(lambda: w.lookup(BACKUP_ID), "the pod added around the cut", w)
    assert found.pod_name == "backup-28877760-q8w2p"
    until(lambda: len(watches(api)) >= 2, "a second watch", w)
    again = watches(api)[1]
    assert again.headers["Authorization"] == "Bearer eyJhbGciOiJSUzI1NiJ9.rotated.sig"
    stats = w.stats()
    assert stats["relists"] == 0 and stats["reconnects"] >= 1
    assert stats["errors"] == 1  # the cut
    assert w.lookup(NGINX_ID) is not None


def test_a_broken_or_oversize_event_is_skipped_and_counted(
    api: FakeApi, open_watch: Callable[..., PodWatch], caplog: pytest.LogCaptureFixture
) -> None:
    w = open_watch(max_event_bytes=4096)
    until(lambda: watches(api), "a watch opened", w)
    api.raw(b"{not json")
    api.raw(b'{"type": "ADDED", "object": ' + b"[" * 2000 + b"]" * 2000 + b"}")  # too deep
    big = backup(BACKUP_ID, padding="x" * 8000)
    api.raw(json.dumps({"type": "ADDED", "object": big}).encode())
    api.raw(json.dumps({"type": "SURPRISE", "object": {}}).encode())
    other = copy.deepcopy(ELSEWHERE)
    other["spec"]["nodeName"] = NODE
    api.put(other)
    until(lambda: w.lookup(OTHER_NODE_ID), "the event after them", w)
    assert w.lookup(BACKUP_ID) is None
    stats = w.stats()
    assert (stats["errors"], stats["events"], stats["reconnects"]) == (4, 1, 0)
    messages = [r.getMessage() for r in caplog.records if r.name == "sensor.podwatch"]
    assert any("not JSON" in m for m in messages)
    assert any("nests deeper than" in m for m in messages)
    assert any("larger than 4096 bytes" in m for m in messages)


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        ([b'{"a":1}\n{"b"', b":2}\n"], [b'{"a":1}', b'{"b":2}']),
        ([b"12345678\n", b"123456789\nok\n"], [b"12345678", None, b"ok"]),
        ([b"1234", b"56789", b"0123", b"\nok\n"], [None, b"ok"]),  # cut mid-line, once
        ([b"123456789", b"\n", b"ok"], [None, b"ok"]),  # a last line without its newline
        ([b"\n\nok\n"], [b"", b"", b"ok"]),
    ],
)
def test_bounded_lines(pieces: list[bytes], expected: list[bytes | None]) -> None:
    feed = iter(pieces)
    assert list(bounded_lines(lambda _n: next(feed, b""), 8)) == expected


# --- what is refused ---------------------------------------------------------------------------


def test_a_server_the_ca_did_not_sign_never_gets_the_token(
    api: FakeApi, open_watch: Callable[..., PodWatch], pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    w = open_watch(ca_path=pki.other_ca)
    until(lambda: w.stats()["errors"] >= 3, "retries", w)
    assert w.lookup(NGINX_ID) is None
    assert api.seen(lambda r: True) == []  # no request reached it: no token was sent
    assert w.stats()["lists"] == 0 and w.stats()["pods"] == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "sensor.podwatch"]
    assert len(messages) == 1  # the same failure, logged once
    assert "certificate verify failed" in messages[0] and api.url in messages[0]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (403, 'pods is forbidden: User "system:serviceaccount:lanner:lanner-sensor" cannot list'),
        (401, "Unauthorized"),
        (500, "etcdserver: request timed out"),
    ],
)
def test_refusals_are_counted_logged_once_and_retried(
    api: FakeApi,
    open_watch: Callable[..., PodWatch],
    caplog: pytest.LogCaptureFixture,
    code: int,
    message: str,
) -> None:
    api.fail = (code, message)
    w = open_watch()
    until(lambda: w.stats()["errors"] >= 3, "retries", w)
    assert w.lookup(NGINX_ID) is None
    messages = [r.getMessage() for r in caplog.records if r.name == "sensor.podwatch"]
    assert len(messages) == 1
    assert f"HTTP {code}" in messages[0] and message in messages[0]
    # Once the permission is granted, the metadata appears.
    api.fail = None
    until(lambda: w.lookup(NGINX_ID), "nginx after the fix", w)


def test_a_missing_token_file_is_an_error_not_a_crash(
    api: FakeApi, open_watch: Callable[..., PodWatch], tmp_path: Path
) -> None:
    w = open_watch(token_path=str(tmp_path / "not-mounted"))
    until(lambda: w.stats()["errors"] >= 2, "retries", w)
    assert w.lookup(NGINX_ID) is None and api.seen(lambda r: True) == []
    (tmp_path / "not-mounted").write_text(TOKEN)
    until(lambda: w.lookup(NGINX_ID), "nginx once the token is there", w)


@pytest.mark.parametrize(
    ("url", "node", "says"),
    [
        ("http://127.0.0.1:6443", NODE, "must be https"),
        ("kubernetes.default.svc", NODE, "must be https"),
        ("https://kubernetes.default.svc", "", "node name is empty"),
    ],
)
def test_what_cannot_work_is_refused_at_once(url: str, node: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        PodWatch(url, node, token_path=None, ca_path=None)


def test_close_stops_the_watch(api: FakeApi, open_watch: Callable[..., PodWatch]) -> None:
    w = open_watch()
    until(lambda: watches(api), "a watch opened", w)
    w.close()
    assert not [t for t in threading.enumerate() if t.name == "lanner-podwatch" and t.is_alive()]
    assert w.lookup(NGINX_ID) is not None  # what it knew stays readable


# --- into the documents -----------------------------------------------------------------------

DEBUGFS_POD = pod(
    "node-debugger-ip-10-0-1-23-x7k2p",
    "uid-debugger",
    ns="default",
    containers=[container("debugger", privileged=True)],
    statuses=[cstatus("debugger", "docker.io/library/busybox:1.36", DOCKER_ID)],
)


def spawn_debugfs(tmp_path: Path, watch: PodWatch) -> dict[str, Any]:
    """debugfs run by the shell in the container ``DOCKER_ID`` (fakeproc's tree)."""
    root = make_tree(tmp_path)
    e = Enricher(
        str(root),
        hostname="node-1",
        passwd_path=str(tmp_path / "passwd"),
        group_path=str(tmp_path / "group"),
        metadata=watch.lookup,
    )
    ts = 1_700_000_100_000_000_000

    def ev(pid: int, kind: str, res: int | None, comm: str, **args: Any) -> Any:
        return e.handle(RawEvent(ts + pid, kind, pid, pid, 0, 0, comm, res, args))

    assert ev(700, FORK, None, "bash", child_pid=701, child_tid=701) is None
    assert ev(701, EXEC, None, "debugfs", filename="/usr/sbin/debugfs") is None
    doc = ev(
        701, "execve", 0, "debugfs", filename="/usr/sbin/debugfs", argv=["debugfs", "/dev/sda1"]
    )
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("privileged", [True, False, None], ids=["privileged", "not", "unset"])
def test_privileged_reaches_the_document_and_the_stable_rule(
    api: FakeApi, open_watch: Callable[..., PodWatch], tmp_path: Path, privileged: bool | None
) -> None:
    debugger = copy.deepcopy(DEBUGFS_POD)
    debugger["spec"]["containers"] = [container("debugger", privileged=privileged)]
    api.put(debugger)
    w = open_watch()
    until(lambda: w.lookup(DOCKER_ID), "the debugger container", w)
    doc = spawn_debugfs(tmp_path, w)
    assert doc["container.privileged"] is bool(privileged)
    assert doc["k8s.pod.name"] == "node-debugger-ip-10-0-1-23-x7k2p"
    if not STABLE.is_file():
        pytest.skip("upstream corpus (../shared) not available")
    engine = lanner.compile_rules(lanner.load_rules([STABLE]), match="all")
    fired = [a.rule for a in engine.evaluate(doc, "syscall")]
    assert ("Debugfs Launched in Privileged Container" in fired) is bool(privileged)


def test_without_metadata_privileged_stays_unknown(tmp_path: Path) -> None:
    w = PodWatch("https://127.0.0.1:1", NODE, token_path=None, ca_path=None)  # never started
    assert "container.privileged" not in spawn_debugfs(tmp_path, w)

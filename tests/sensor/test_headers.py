"""Which kernel header tree the sensor compiles against (sensor/headers.py), on trees laid
out in tmp dirs as Debian, Amazon Linux and a kernel build leave them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sensor.headers import (
    BCC_ENV,
    ENV_OVERRIDE,
    HeadersNotFound,
    HeaderTree,
    find_headers,
    installed_trees,
    resolve_tree,
)

RELEASE = "6.18.44-test"


def _touch(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def debian(usr_src: Path, version: str, flavour: str = "amd64", arch: str = "x86") -> Path:
    """Debian's split pair: linux-headers-<v>-<flavour> (generated headers, a Makefile that
    includes the other) and linux-headers-<v>-common (the rest); the first is returned."""
    common = usr_src / f"linux-headers-{version}-common"
    build = usr_src / f"linux-headers-{version}-{flavour}"
    _touch(common / "include/linux/kconfig.h", "/* kconfig */")
    (common / f"arch/{arch}/include/asm").mkdir(parents=True)
    _touch(common / "Makefile")
    _touch(build / "Makefile", f"include {common}/Makefile\n")
    _touch(build / "include/generated/autoconf.h")
    _touch(
        build / "include/generated/utsrelease.h",
        f'#define UTS_RELEASE "{version}-{flavour}"\n',
    )
    (build / "include/generated/uapi/linux").mkdir(parents=True)
    (build / f"arch/{arch}/include/generated/asm").mkdir(parents=True)
    (build / f"arch/{arch}/include/generated/uapi/asm").mkdir(parents=True)
    return build


def merged(root: Path, release: str, arch: str = "x86") -> Path:
    """One directory holding everything (kernel-devel, an unpacked kheaders)."""
    _touch(root / "include/linux/kconfig.h")
    _touch(root / "include/generated/autoconf.h")
    _touch(root / "include/generated/utsrelease.h", f'#define UTS_RELEASE "{release}"\n')
    (root / f"arch/{arch}/include/generated").mkdir(parents=True)
    (root / f"arch/{arch}/include/asm").mkdir(parents=True)
    return root


@pytest.fixture
def host(tmp_path: Path) -> dict[str, Path]:
    """Empty /lib/modules, /usr/src and no kheaders: add what a test needs."""
    paths = {
        "modules": tmp_path / "lib/modules",
        "usr_src": tmp_path / "usr/src",
        "kheaders": tmp_path / "sys/kernel/kheaders.tar.xz",
    }
    paths["modules"].mkdir(parents=True)
    paths["usr_src"].mkdir(parents=True)
    return paths


def _find(
    host: dict[str, Path], env: dict[str, str] | None = None, machine: str = "x86_64"
) -> HeaderTree:
    return find_headers(RELEASE, machine, environ=env if env is not None else {}, **host)


def test_debian_headers_compile_through_the_common_tree_and_the_generated_dirs(
    host: dict[str, Path],
) -> None:
    build = debian(host["usr_src"], "6.1.0-57")
    tree = _find(host)
    assert tree.origin == "installed" and tree.path == build
    # libbcc compiles inside BCC_KERNEL_SOURCE: the tree with include/linux/kconfig.h...
    assert tree.source == host["usr_src"] / "linux-headers-6.1.0-57-common"
    # ...and the generated headers (autoconf.h, asm wrappers) come in as -I flags.
    assert f"-I{build}/include" in tree.cflags
    assert f"-I{build}/arch/x86/include/generated" in tree.cflags
    assert f"-I{build}/arch/x86/include/generated/uapi" in tree.cflags
    assert f"-I{build}/include/generated/uapi" in tree.cflags
    assert not any("uapi" in f and "generated" not in f for f in tree.cflags)  # absent dirs
    assert tree.release == "6.1.0-57-amd64"
    assert tree.describe(RELEASE) == (
        f"the installed headers in {build} (6.1.0-57-amd64 headers, kernel {RELEASE})"
    )


def test_newest_installed_version_wins_by_number_not_by_text(host: dict[str, Path]) -> None:
    debian(host["usr_src"], "6.9.0-1")
    newest = debian(host["usr_src"], "6.12.0-1")
    debian(host["usr_src"], "6.1.0-57")
    assert _find(host).path == newest
    assert [p.name for p in installed_trees(host["usr_src"])] == [
        "linux-headers-6.12.0-1-amd64",
        "linux-headers-6.9.0-1-amd64",
        "linux-headers-6.1.0-57-amd64",
    ]


def test_kernel_devel_trees_are_found_too(host: dict[str, Path]) -> None:
    tree_dir = merged(host["usr_src"] / "kernels/6.1.100-amzn2023.x86_64", "6.1.100-amzn2023")
    tree = _find(host)
    assert (tree.path, tree.source, tree.cflags) == (tree_dir, tree_dir, ())


def test_another_architecture_is_passed_over(host: dict[str, Path]) -> None:
    arm = debian(host["usr_src"], "6.12.0-1", flavour="arm64", arch="arm64")
    older = debian(host["usr_src"], "6.1.0-57")
    assert _find(host).path == older
    assert _find(host, machine="aarch64").path == arm


def test_a_half_tree_is_not_a_tree(host: dict[str, Path]) -> None:
    build = debian(host["usr_src"], "6.1.0-57")
    common = host["usr_src"] / "linux-headers-6.1.0-57-common"
    (common / "include/linux/kconfig.h").unlink()  # the -common package is missing
    with pytest.raises(
        HeadersNotFound, match=re.escape("no source tree with include/linux/kconfig.h")
    ):
        resolve_tree(build, "x86")
    with pytest.raises(HeadersNotFound, match=re.escape("has no include/generated/autoconf.h")):
        resolve_tree(common, "x86")  # the common half alone has no generated headers


def test_the_nodes_own_tree_comes_first_and_libbcc_finds_it_itself(
    host: dict[str, Path],
) -> None:
    debian(host["usr_src"], "6.12.0-1")
    node = debian(host["usr_src"], "6.1.0-57")
    kdir = host["modules"] / RELEASE
    kdir.mkdir()
    (kdir / "build").symlink_to(node)
    (kdir / "source").symlink_to(host["usr_src"] / "linux-headers-6.1.0-57-common")
    tree = _find(host)
    assert (tree.origin, tree.path, tree.source, tree.cflags) == ("host", kdir / "build", None, ())
    assert tree.describe(RELEASE).startswith(f"the node's headers in {kdir / 'build'} -> {node} (")


def test_a_node_build_link_without_its_source_is_completed_from_its_makefile(
    host: dict[str, Path],
) -> None:
    node = debian(host["usr_src"], "6.1.0-57")
    (host["modules"] / RELEASE).mkdir()
    (host["modules"] / RELEASE / "build").symlink_to(node)
    tree = _find(host)
    assert tree.origin == "host"
    assert tree.source == host["usr_src"] / "linux-headers-6.1.0-57-common"
    assert f"-I{host['modules'] / RELEASE / 'build'}/include" in tree.cflags


def test_a_stale_node_build_dir_falls_through_to_the_installed_headers(
    host: dict[str, Path],
) -> None:
    (host["modules"] / RELEASE / "build").mkdir(parents=True)  # left over, empty
    installed = debian(host["usr_src"], "6.1.0-57")
    assert _find(host).path == installed


def test_kheaders_is_the_last_resort(host: dict[str, Path]) -> None:
    _touch(host["kheaders"])
    tree = _find(host)
    assert (tree.origin, tree.source) == ("kheaders", None)
    assert "kernel's own headers" in tree.describe(RELEASE)
    debian(host["usr_src"], "6.1.0-57")
    assert _find(host).origin == "installed"


def test_no_headers_anywhere_says_what_to_install(host: dict[str, Path]) -> None:
    debian(host["usr_src"], "6.12.0-1", flavour="arm64", arch="arm64")  # of no use here
    with pytest.raises(HeadersNotFound) as e:
        _find(host)
    msg = str(e.value)
    assert msg.startswith("no kernel headers to compile the probes against: ")
    assert f"none at {host['modules']}/{RELEASE}/build" in msg
    assert f"none under {host['usr_src']}" in msg
    assert "apt-get install linux-headers-amd64" in msg
    assert ENV_OVERRIDE in msg


def test_the_override_wins_and_a_wrong_one_is_an_error_not_a_fallback(
    host: dict[str, Path], tmp_path: Path
) -> None:
    debian(host["usr_src"], "6.12.0-1")
    mine = merged(tmp_path / "mine", "6.6.0-custom")
    tree = _find(host, {ENV_OVERRIDE: str(mine)})
    assert (tree.origin, tree.source, tree.cflags) == (ENV_OVERRIDE, mine, ())
    assert tree.describe(RELEASE).endswith(
        f"in {mine} (${ENV_OVERRIDE}) (6.6.0-custom headers, kernel {RELEASE})"
    )
    with pytest.raises(
        HeadersNotFound, match="^" + re.escape(f"{ENV_OVERRIDE}={tmp_path}/nope is not a kernel")
    ):
        _find(host, {ENV_OVERRIDE: str(tmp_path / "nope")})
    # bcc's own variable is honoured the same way, and a split tree there works too.
    split = debian(tmp_path / "src", "6.1.0-57")
    tree = _find(host, {BCC_ENV: str(split)})
    assert tree.origin == BCC_ENV and tree.source == tmp_path / "src/linux-headers-6.1.0-57-common"


def test_apply_points_libbcc_at_the_tree_or_leaves_it_its_own_lookup(tmp_path: Path) -> None:
    env = {BCC_ENV: "/stale"}
    HeaderTree(tmp_path, "installed", tmp_path / "common").apply(env)
    assert env == {BCC_ENV: str(tmp_path / "common")}
    HeaderTree(tmp_path, "host").apply(env)
    assert env == {}


def test_a_second_choice_in_one_process_does_not_take_its_own_setting_for_the_users(
    host: dict[str, Path],
) -> None:
    debian(host["usr_src"], "6.1.0-57")
    env: dict[str, str] = {}
    first = _find(host, env)
    first.apply(env)
    assert env[BCC_ENV] == str(first.source)
    assert _find(host, env) == first  # "installed" again, not "$BCC_KERNEL_SOURCE"

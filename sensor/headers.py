"""Which kernel header tree bcc compiles the probes against, chosen when the sensor starts.

bcc compiles ``bpf/sensor.bpf.c`` with the clang inside libbcc, against a kernel header
tree. The probes read only tracepoint arguments, BPF helpers and BTF-typed helpers, never
a kernel structure laid out by those headers, so any recent tree compiles them: a node
needs no headers package of its own when the sensor brings one (the image installs
Debian's; this is what lets it run on EKS AL2023 and Bottlerocket nodes alike).

In order (the first that holds a usable tree wins):

1. ``LANNER_KERNEL_HEADERS`` (or libbcc's own ``BCC_KERNEL_SOURCE``), when set: that tree
   or an error naming it.
2. The host's ``/lib/modules/<release>/build`` (with ``source`` beside it), as libbcc
   finds it by default: the node's own headers when it has them.
3. Installed header packages: ``/usr/src/linux-headers-*`` (Debian, Ubuntu) and
   ``/usr/src/kernels/*`` (Amazon Linux, Fedora), newest version first.
4. The kernel's own headers, ``/sys/kernel/kheaders.tar.xz`` (CONFIG_IKHEADERS), which
   libbcc unpacks into ``$TMPDIR`` itself.

What libbcc (0.26, src/cc/frontends/clang/loader.cc) needs: with ``BCC_KERNEL_SOURCE`` set
it runs clang *inside* that one directory with relative include paths
(``include``, ``arch/<arch>/include``, their ``uapi`` and ``generated`` dirs) and
``-include ./include/linux/kconfig.h``, and when that file is missing it falls back to
kheaders. Only ``/lib/modules/<release>`` may be split into ``build`` (the generated
headers) and ``source`` (the rest). Debian's packages are split that way
(``linux-headers-<v>-amd64`` holds ``include/generated``, ``arch/x86/include/generated``
and a Makefile that includes ``linux-headers-<v>-common``'s, which holds everything
else), so neither directory alone compiles: ``BCC_KERNEL_SOURCE`` names the common tree
and the build tree's generated directories are passed as ``-I`` flags (:attr:`HeaderTree.cflags`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENV_OVERRIDE",
    "HeaderTree",
    "HeadersNotFound",
    "find_headers",
    "installed_trees",
    "kernel_arch",
    "resolve_tree",
]

#: Our override: a header tree (merged, or a Debian-style build directory).
ENV_OVERRIDE = "LANNER_KERNEL_HEADERS"
#: libbcc's: the one directory it compiles in.
BCC_ENV = "BCC_KERNEL_SOURCE"

MODULES = Path("/lib/modules")
USR_SRC = Path("/usr/src")
KHEADERS = Path("/sys/kernel/kheaders.tar.xz")

# The build tree's directories libbcc itself adds for a split /lib/modules/<release>
# (kbuild_helper.cc), in its order; only those that exist are passed. They come after
# libbcc's own relative paths here, which changes nothing: what they hold (autoconf.h,
# asm-offsets.h, the asm-generic wrappers) has no namesake in the source tree.
_BUILD_INCLUDES = (
    "arch/{arch}/include",
    "arch/{arch}/include/generated/uapi",
    "arch/{arch}/include/generated",
    "include",
    "arch/{arch}/include/uapi",
    "include/uapi",
    "include/generated",
    "include/generated/uapi",
)
_KCONFIG = "include/linux/kconfig.h"
_AUTOCONF = "include/generated/autoconf.h"
_UTSRELEASE = "include/generated/utsrelease.h"
_MAKEFILE_INCLUDE = re.compile(r"^\s*include\s+(\S+)/Makefile\s*$", re.MULTILINE)
_UTS = re.compile(r'#define\s+UTS_RELEASE\s+"([^"]*)"')


# What apply() last put in BCC_KERNEL_SOURCE: the next find_headers in this process (a
# second Capture) must not take the sensor's own choice for the user's.
_applied: str | None = None


class HeadersNotFound(Exception):
    """No usable header tree; the message says what was looked at and what to install."""


def kernel_arch(machine: str) -> str:
    """The kernel's name for ``uname -m``'s architecture (its ``arch/`` directory)."""
    if machine in ("x86_64", "i386", "i686"):
        return "x86"
    if machine.startswith("aarch64"):
        return "arm64"
    return machine


def _debian_arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


@dataclass(frozen=True, slots=True)
class HeaderTree:
    """A header tree libbcc can compile against, and how to tell it to."""

    #: Where the tree was found, as the user would name it (a symlink is kept as is).
    path: Path
    #: "host" (/lib/modules/<release>), "installed" (/usr/src), "kheaders", or the
    #: environment variable that named it.
    origin: str
    #: The directory with include/linux/kconfig.h, for BCC_KERNEL_SOURCE; None leaves
    #: libbcc to its own lookup (/lib/modules/<release>, then kheaders).
    source: Path | None = None
    #: -I flags for a split tree's generated headers.
    cflags: tuple[str, ...] = ()
    #: The kernel release the headers were generated for (UTS_RELEASE), when they say.
    release: str | None = None

    def apply(self, environ: MutableMapping[str, str]) -> None:
        """Points libbcc at this tree: it reads BCC_KERNEL_SOURCE at each compile."""
        global _applied
        if self.source is None:
            environ.pop(BCC_ENV, None)
            _applied = None
        else:
            environ[BCC_ENV] = _applied = str(self.source)

    def describe(self, kernel_release: str) -> str:
        """``the installed headers in /usr/src/... (6.1.0-57-amd64 headers, kernel 6.18.4)``."""
        if self.origin == "kheaders":
            return f"the kernel's own headers ({self.path}, unpacked by bcc)"
        where = {"host": "the node's headers", "installed": "the installed headers"}.get(
            self.origin, "the headers"
        )
        where += f" in {self.path}"
        try:
            target = self.path.resolve()
        except (OSError, RuntimeError):
            target = self.path
        if target != self.path:
            where += f" -> {target}"
        if self.origin not in ("host", "installed"):
            where += f" (${self.origin})"
        if self.release and self.release != kernel_release:
            return f"{where} ({self.release} headers, kernel {kernel_release})"
        return f"{where} (kernel {kernel_release})"


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except OSError:
        return False


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except OSError:
        return False


def _read(p: Path) -> str | None:
    try:
        return p.read_text(errors="replace")
    except (OSError, ValueError):
        return None


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def _uts_release(build: Path) -> str | None:
    m = _UTS.search(_read(build / _UTSRELEASE) or "")
    return m.group(1) if m else None


def _source_candidates(build: Path, hints: Iterable[Path]) -> Iterator[Path]:
    """Where the rest of a split tree may be: the build tree itself (a merged tree), the
    given hints, a ``source`` link (``make O=`` build trees) and the tree the build tree's
    Makefile includes (Debian's ``include /usr/src/linux-headers-<v>-common/Makefile``)."""
    yield build
    yield from hints
    yield build / "source"
    m = _MAKEFILE_INCLUDE.search(_read(build / "Makefile") or "")
    if m:
        yield build / m.group(1)  # an absolute path replaces build


def resolve_tree(
    build: Path, arch: str, hints: Iterable[Path] = ()
) -> tuple[Path, tuple[str, ...]]:
    """The source directory and extra -I flags that make ``build`` compile, or
    :class:`HeadersNotFound` saying what is missing.

    ``build`` must hold the generated headers of a configured kernel for ``arch``
    (include/generated/autoconf.h, arch/<arch>/include/generated); the source directory,
    ``build`` itself or one found from it, include/linux/kconfig.h.
    """
    if not _is_file(build / _AUTOCONF):
        raise HeadersNotFound(f"{build} has no {_AUTOCONF}")
    if not _is_dir(build / f"arch/{arch}/include/generated"):
        raise HeadersNotFound(
            f"{build} has no arch/{arch}/include/generated (another architecture?)"
        )
    for source in _source_candidates(build, hints):
        if not _is_file(source / _KCONFIG) or not _is_dir(source / f"arch/{arch}/include"):
            continue
        if _same(source, build):
            return source, ()
        flags = tuple(
            f"-I{build / d.format(arch=arch)}"
            for d in _BUILD_INCLUDES
            if _is_dir(build / d.format(arch=arch))
        )
        return source, flags
    raise HeadersNotFound(
        f"{build} has generated headers but no source tree with {_KCONFIG} "
        "(a Debian -common package, a `source` link, or a Makefile including one)"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", name))


def installed_trees(usr_src: Path | None = None) -> list[Path]:
    """Header packages' build trees under ``usr_src``, newest version first: Debian's and
    Ubuntu's ``linux-headers-*`` (their ``-common`` halves are reached from these) and
    ``kernels/*`` (kernel-devel on Amazon Linux and Fedora)."""
    usr_src = USR_SRC if usr_src is None else usr_src
    found: list[Path] = []
    for parent, prefix in ((usr_src, "linux-headers-"), (usr_src / "kernels", "")):
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        found += [
            parent / n
            for n in names
            if n.startswith(prefix) and "-common" not in n and _is_dir(parent / n)
        ]
    return sorted(found, key=lambda p: _version_key(p.name), reverse=True)


def _host_tree(release: str, modules: Path) -> Path | None:
    """The tree libbcc uses without BCC_KERNEL_SOURCE, if it compiles: ``source`` when
    both ``build`` and ``source`` are directories, else ``build``."""
    kdir = modules / release
    build, source = kdir / "build", kdir / "source"
    kpath = source if _is_dir(build) and _is_dir(source) else build
    if _is_file(kpath / _KCONFIG) and _is_file(build / _AUTOCONF):
        return build
    return None


def find_headers(
    release: str,
    machine: str,
    *,
    environ: MutableMapping[str, str] | None = None,
    modules: Path | None = None,
    usr_src: Path | None = None,
    kheaders: Path | None = None,
) -> HeaderTree:
    """The header tree to compile against for kernel ``release`` on ``machine`` (``uname
    -r`` and ``uname -m``), in the order the module docstring gives; HeadersNotFound with
    the message a user sees when there is none."""
    env = os.environ if environ is None else environ
    modules = MODULES if modules is None else modules
    usr_src = USR_SRC if usr_src is None else usr_src
    kheaders = KHEADERS if kheaders is None else kheaders
    arch = kernel_arch(machine)

    for var in (ENV_OVERRIDE, BCC_ENV):
        value = env.get(var)
        if value and not (var == BCC_ENV and value == _applied):
            path = Path(value)
            try:
                source, flags = resolve_tree(path, arch)
            except HeadersNotFound as e:
                raise HeadersNotFound(f"{var}={value} is not a kernel header tree: {e}") from None
            return HeaderTree(path, var, source, flags, _uts_release(path))

    kdir = modules / release
    host = _host_tree(release, modules)
    if host is not None:  # as libbcc finds it: nothing to tell it
        return HeaderTree(host, "host", None, (), _uts_release(host))
    # A split build tree linked without its source (or a source link libbcc cannot use),
    # then the header packages.
    candidates = [(kdir / "build", "host", [kdir / "source"])] if _is_dir(kdir / "build") else []
    candidates += [(build, "installed", []) for build in installed_trees(usr_src)]
    for build, origin, hints in candidates:
        try:
            source, flags = resolve_tree(build, arch, hints)
        except HeadersNotFound:
            continue
        return HeaderTree(build, origin, source, flags, _uts_release(build))

    if _is_file(kheaders):
        return HeaderTree(kheaders, "kheaders")

    deb = _debian_arch(machine)
    raise HeadersNotFound(
        f"no kernel headers to compile the probes against: none at {kdir}/build, none "
        f"under {usr_src} (linux-headers-*, kernels/*), and this kernel has no {kheaders}. "
        f"Any recent header tree will do, whatever the running kernel ({release}): "
        f"`apt-get install linux-headers-{deb}` (Debian, Ubuntu), `dnf install kernel-devel` "
        f"(Amazon Linux, Fedora), or point {ENV_OVERRIDE} at a header tree; the sensor "
        "image (infra/sensor.Dockerfile) brings its own"
    )

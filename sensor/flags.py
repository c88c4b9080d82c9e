"""Falco's renderings of syscall flags, enums and errors (libs' ppm flag tables).

The kernel hands us raw x86-64 Linux values. Falco's driver first re-encodes some of them
into its own portable ("PPM") bit layout, and libsinsp prints them from ordered name
tables. Rules match on those printed strings (``evt.arg.flags contains O_TRUNC``,
``evt.arg.request contains PTRACE_ATTACH``, ``evt.res = EINPROGRESS``), so both the
encoding and the name order below follow falcosecurity/libs: a rule written for Falco
must see the same text here.

Rendering of a flags value, as libsinsp does it: walk the table in order; an entry whose
value equals the whole original value ends the walk and is printed last; any other
non-zero entry whose bits are all set is printed and its bits cleared (so ``O_RDWR`` hides
``O_RDONLY``/``O_WRONLY``); zero-valued entries only print for a zero value. Names are
joined with ``|``. Enum parameters print the single name equal to the value.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

NameTable = Sequence[tuple[str, int]]

# --- open(2) flags --------------------------------------------------------------------

# Falco's PPM_O_* bits (driver/ppm_events_public.h).
PPM_O_NONE = 0
PPM_O_RDONLY = 1 << 0
PPM_O_WRONLY = 1 << 1
PPM_O_RDWR = PPM_O_RDONLY | PPM_O_WRONLY
PPM_O_CREAT = 1 << 2
PPM_O_APPEND = 1 << 3
PPM_O_DSYNC = 1 << 4
PPM_O_EXCL = 1 << 5
PPM_O_NONBLOCK = 1 << 6
PPM_O_SYNC = 1 << 7
PPM_O_TRUNC = 1 << 8
PPM_O_DIRECT = 1 << 9
PPM_O_DIRECTORY = 1 << 10
PPM_O_LARGEFILE = 1 << 11
PPM_O_CLOEXEC = 1 << 12
PPM_O_TMPFILE = 1 << 13
PPM_O_F_CREATED = 1 << 14

# Linux x86-64 (asm-generic) open flags, as the syscall receives them.
O_ACCMODE = 0o3
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_EXCL = 0o200
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DSYNC = 0o10000
O_DIRECT = 0o40000
O_LARGEFILE = 0o100000
O_DIRECTORY = 0o200000
O_CLOEXEC = 0o2000000
_O_SYNC_BIT = 0o4000000
_O_TMPFILE_BIT = 0o20000000

# Order matters: it is the print order of libs' file_flags table.
FILE_FLAGS: NameTable = (
    ("O_LARGEFILE", PPM_O_LARGEFILE),
    ("O_DIRECTORY", PPM_O_DIRECTORY),
    ("O_DIRECT", PPM_O_DIRECT),
    ("O_TRUNC", PPM_O_TRUNC),
    ("O_SYNC", PPM_O_SYNC),
    ("O_NONBLOCK", PPM_O_NONBLOCK),
    ("O_EXCL", PPM_O_EXCL),
    ("O_DSYNC", PPM_O_DSYNC),
    ("O_APPEND", PPM_O_APPEND),
    ("O_CREAT", PPM_O_CREAT),
    ("O_RDWR", PPM_O_RDWR),
    ("O_WRONLY", PPM_O_WRONLY),
    ("O_RDONLY", PPM_O_RDONLY),
    ("O_CLOEXEC", PPM_O_CLOEXEC),
    ("O_NONE", PPM_O_NONE),
    ("O_TMPFILE", PPM_O_TMPFILE),
    ("O_F_CREATED", PPM_O_F_CREATED),
)


# A process opens with few distinct flag values, and these two run for every open the
# sensor sees (2.2 us of the open handler's 8.5 before they were cached).
@functools.lru_cache(maxsize=4096)
def open_flags_to_ppm(flags: int) -> int:
    """Kernel open flags to Falco's encoding (what ``evt.rawarg.flags`` holds)."""
    acc = flags & O_ACCMODE
    res = PPM_O_WRONLY if acc == O_WRONLY else PPM_O_RDWR if acc == O_RDWR else PPM_O_RDONLY
    for bit, ppm in (
        (O_CREAT, PPM_O_CREAT),
        (_O_TMPFILE_BIT, PPM_O_TMPFILE),
        (O_APPEND, PPM_O_APPEND),
        (O_DSYNC, PPM_O_DSYNC),
        (O_EXCL, PPM_O_EXCL),
        (O_NONBLOCK, PPM_O_NONBLOCK),
        (_O_SYNC_BIT, PPM_O_SYNC),
        (O_TRUNC, PPM_O_TRUNC),
        (O_DIRECT, PPM_O_DIRECT),
        (O_DIRECTORY, PPM_O_DIRECTORY),
        (O_LARGEFILE, PPM_O_LARGEFILE),
        (O_CLOEXEC, PPM_O_CLOEXEC),
    ):
        if flags & bit:
            res |= ppm
    return res


# (id of a module-level table, value) -> text; tables are constants, so their ids are
# stable, and a tuple key of the whole table would cost a hash of every pair per call.
_RENDERED: dict[tuple[int, int], str] = {}


def render_flags(value: int, table: NameTable) -> str:
    """libsinsp's text for a flags value (see the module docstring)."""
    key = (id(table), value)
    text = _RENDERED.get(key)
    if text is None:
        if len(_RENDERED) >= 8192:
            _RENDERED.clear()
        text = _RENDERED[key] = _render_flags(value, table)
    return text


def _render_flags(value: int, table: NameTable) -> str:
    names: list[str] = []
    rest = value
    exact: str | None = None
    for name, bits in table:
        if bits == value:
            exact = name
            break
        if (bits == 0 and value == 0) or (bits != 0 and rest != 0 and rest & bits == bits):
            names.append(name)
            rest &= ~bits
    if exact is not None:
        names.append(exact)
    return "|".join(names)


def render_enum(value: int, table: NameTable) -> str:
    """The name equal to ``value``, or the number when the table has none."""
    for name, v in table:
        if v == value:
            return name
    return str(value)


def render_open_flags(kernel_flags: int) -> str:
    """``evt.arg.flags`` of open/openat/openat2/creat, from the kernel's flags."""
    return render_flags(open_flags_to_ppm(kernel_flags), FILE_FLAGS)


# --- sockets ----------------------------------------------------------------------------

# Linux address families (Falco's PPM_AF_* use the same numbers).
AF_UNSPEC = 0
AF_UNIX = 1
AF_INET = 2
AF_INET6 = 10
AF_NETLINK = 16
AF_PACKET = 17

SOCKET_FAMILIES: NameTable = (
    ("AF_NFC", 39),
    ("AF_ALG", 38),
    ("AF_CAIF", 37),
    ("AF_IEEE802154", 36),
    ("AF_PHONET", 35),
    ("AF_ISDN", 34),
    ("AF_RXRPC", 33),
    ("AF_IUCV", 32),
    ("AF_BLUETOOTH", 31),
    ("AF_TIPC", 30),
    ("AF_CAN", 29),
    ("AF_LLC", 26),
    ("AF_WANPIPE", 25),
    ("AF_PPPOX", 24),
    ("AF_IRDA", 23),
    ("AF_SNA", 22),
    ("AF_RDS", 21),
    ("AF_ATMSVC", 20),
    ("AF_ECONET", 19),
    ("AF_ASH", 18),
    ("AF_PACKET", 17),
    ("AF_ROUTE", 16),
    ("AF_NETLINK", 16),
    ("AF_KEY", 15),
    ("AF_SECURITY", 14),
    ("AF_NETBEUI", 13),
    ("AF_DECnet", 12),
    ("AF_ROSE", 11),
    ("AF_INET6", 10),
    ("AF_X25", 9),
    ("AF_ATMPVC", 8),
    ("AF_BRIDGE", 7),
    ("AF_NETROM", 6),
    ("AF_APPLETALK", 5),
    ("AF_IPX", 4),
    ("AF_AX25", 3),
    ("AF_INET", 2),
    ("AF_LOCAL", 1),
    ("AF_UNIX", 1),
    ("AF_UNSPEC", 0),
)


def render_socket_family(domain: int) -> str:
    """``evt.arg.domain`` of socket/socketpair (``AF_PACKET``, ``AF_INET``...)."""
    return render_enum(domain, SOCKET_FAMILIES)


SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
_SOCK_TYPE_MASK = 0xF

IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58


def l4proto(sock_type: int, proto: int) -> str | None:
    """``fd.l4proto`` of a new inet socket, as Falco derives it from type and protocol."""
    if proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
        return "icmp"
    kind = sock_type & _SOCK_TYPE_MASK
    if kind == SOCK_STREAM or proto == IPPROTO_TCP:
        return "tcp"
    if kind == SOCK_DGRAM or proto == IPPROTO_UDP:
        return "udp"
    if kind == SOCK_RAW:
        return "raw"
    return None


# --- ptrace ------------------------------------------------------------------------------

# Linux request number -> Falco's PPM_PTRACE_* code (x86-64).
_PTRACE_LINUX_TO_PPM: dict[int, int] = {
    0: 1,  # TRACEME
    1: 2,  # PEEKTEXT
    2: 3,  # PEEKDATA
    3: 4,  # PEEKUSR
    4: 5,  # POKETEXT
    5: 6,  # POKEDATA
    6: 7,  # POKEUSR
    7: 8,  # CONT
    8: 9,  # KILL
    9: 10,  # SINGLESTEP
    12: 26,  # GETREGS
    13: 27,  # SETREGS
    14: 28,  # GETFPREGS
    15: 29,  # SETFPREGS
    16: 11,  # ATTACH
    17: 12,  # DETACH
    18: 30,  # GETFPXREGS
    19: 31,  # SETFPXREGS
    21: 32,  # OLDSETOPTIONS
    24: 13,  # SYSCALL
    25: 33,  # GET_THREAD_AREA
    26: 34,  # SET_THREAD_AREA
    30: 35,  # ARCH_PRCTL
    31: 36,  # SYSEMU
    32: 37,  # SYSEMU_SINGLESTEP
    33: 38,  # SINGLEBLOCK
    0x4200: 14,  # SETOPTIONS
    0x4201: 15,  # GETEVENTMSG
    0x4202: 16,  # GETSIGINFO
    0x4203: 17,  # SETSIGINFO
    0x4204: 18,  # GETREGSET
    0x4205: 19,  # SETREGSET
    0x4206: 20,  # SEIZE
    0x4207: 21,  # INTERRUPT
    0x4208: 22,  # LISTEN
    0x4209: 23,  # PEEKSIGINFO
    0x420A: 24,  # GETSIGMASK
    0x420B: 25,  # SETSIGMASK
}

PTRACE_REQUESTS: NameTable = (
    ("PTRACE_SINGLEBLOCK", 38),
    ("PTRACE_SYSEMU_SINGLESTEP", 37),
    ("PTRACE_SYSEMU", 36),
    ("PTRACE_ARCH_PRCTL", 35),
    ("PTRACE_SET_THREAD_AREA", 34),
    ("PTRACE_GET_THREAD_AREA", 33),
    ("PTRACE_OLDSETOPTIONS", 32),
    ("PTRACE_SETFPXREGS", 31),
    ("PTRACE_GETFPXREGS", 30),
    ("PTRACE_SETFPREGS", 29),
    ("PTRACE_GETFPREGS", 28),
    ("PTRACE_SETREGS", 27),
    ("PTRACE_GETREGS", 26),
    ("PTRACE_SETSIGMASK", 25),
    ("PTRACE_GETSIGMASK", 24),
    ("PTRACE_PEEKSIGINFO", 23),
    ("PTRACE_LISTEN", 22),
    ("PTRACE_INTERRUPT", 21),
    ("PTRACE_SEIZE", 20),
    ("PTRACE_SETREGSET", 19),
    ("PTRACE_GETREGSET", 18),
    ("PTRACE_SETSIGINFO", 17),
    ("PTRACE_GETSIGINFO", 16),
    ("PTRACE_GETEVENTMSG", 15),
    ("PTRACE_SETOPTIONS", 14),
    ("PTRACE_SYSCALL", 13),
    ("PTRACE_DETACH", 12),
    ("PTRACE_ATTACH", 11),
    ("PTRACE_SINGLESTEP", 10),
    ("PTRACE_KILL", 9),
    ("PTRACE_CONT", 8),
    ("PTRACE_POKEUSR", 7),
    ("PTRACE_POKEDATA", 6),
    ("PTRACE_POKETEXT", 5),
    ("PTRACE_PEEKUSR", 4),
    ("PTRACE_PEEKDATA", 3),
    ("PTRACE_PEEKTEXT", 2),
    ("PTRACE_TRACEME", 1),
    ("PTRACE_UNKNOWN", 0),
)


def ptrace_request_to_ppm(request: int) -> int:
    """Linux ptrace request to Falco's code; 0 (PTRACE_UNKNOWN) for others."""
    return _PTRACE_LINUX_TO_PPM.get(request, 0)


def render_ptrace_request(request: int) -> str:
    """``evt.arg.request`` of ptrace (``PTRACE_ATTACH``...), from the Linux request."""
    return render_enum(ptrace_request_to_ppm(request), PTRACE_REQUESTS)


# --- fcntl -------------------------------------------------------------------------------

# The commands that make a new fd (x86-64 Linux values): the kernel side emits fcntl
# events for these only (sensor.syscalls' ``emit_if``).
F_DUPFD = 0
F_DUPFD_CLOEXEC = 1030

# Linux command -> Falco's PPM_FCNTL_* code (x86-64: the *LK64 commands are the plain
# ones). Others (seals, read/write hints...) are Falco's UNKNOWN.
_FCNTL_LINUX_TO_PPM: dict[int, int] = {
    F_DUPFD: 1,
    1: 2,  # F_GETFD
    2: 3,  # F_SETFD
    3: 4,  # F_GETFL
    4: 5,  # F_SETFL
    5: 6,  # F_GETLK
    6: 8,  # F_SETLK
    7: 9,  # F_SETLKW
    8: 10,  # F_SETOWN
    9: 12,  # F_GETOWN
    10: 13,  # F_SETSIG
    11: 15,  # F_GETSIG
    15: 21,  # F_SETOWN_EX
    16: 22,  # F_GETOWN_EX
    36: 30,  # F_OFD_GETLK
    37: 31,  # F_OFD_SETLK
    38: 32,  # F_OFD_SETLKW
    1024: 23,  # F_SETLEASE
    1025: 24,  # F_GETLEASE
    1026: 27,  # F_NOTIFY
    1029: 25,  # F_CANCELLK
    F_DUPFD_CLOEXEC: 26,
    1031: 28,  # F_SETPIPE_SZ
    1032: 29,  # F_GETPIPE_SZ
}

FCNTL_COMMANDS: NameTable = (
    ("F_GETPIPE_SZ", 29),
    ("F_SETPIPE_SZ", 28),
    ("F_NOTIFY", 27),
    ("F_DUPFD_CLOEXEC", 26),
    ("F_CANCELLK", 25),
    ("F_GETLEASE", 24),
    ("F_SETLEASE", 23),
    ("F_GETOWN_EX", 22),
    ("F_SETOWN_EX", 21),
    ("F_SETLKW64", 19),
    ("F_SETLK64", 18),
    ("F_GETLK64", 17),
    ("F_GETSIG", 15),
    ("F_SETSIG", 13),
    ("F_GETOWN", 12),
    ("F_SETOWN", 10),
    ("F_SETLKW", 9),
    ("F_SETLK", 8),
    ("F_GETLK", 6),
    ("F_SETFL", 5),
    ("F_GETFL", 4),
    ("F_SETFD", 3),
    ("F_GETFD", 2),
    ("F_DUPFD", 1),
    ("F_OFD_GETLK", 30),
    ("F_OFD_SETLK", 31),
    ("F_OFD_SETLKW", 32),
    ("UNKNOWN", 0),
)


def fcntl_cmd_to_ppm(cmd: int) -> int:
    """Linux fcntl command to Falco's code; 0 (UNKNOWN) for others."""
    return _FCNTL_LINUX_TO_PPM.get(cmd, 0)


def render_fcntl_cmd(cmd: int) -> str:
    """``evt.arg.cmd`` of fcntl (``F_DUPFD``, ``F_GETFL``...), from the Linux command."""
    return render_enum(fcntl_cmd_to_ppm(cmd), FCNTL_COMMANDS)


# --- modes -------------------------------------------------------------------------------

# Falco's PPM_S_* bits equal the Linux permission bits (S_IXOTH=1 ... S_ISUID=0o4000).
CHMOD_MODE: NameTable = (
    ("S_IXOTH", 0o1),
    ("S_IWOTH", 0o2),
    ("S_IROTH", 0o4),
    ("S_IXGRP", 0o10),
    ("S_IWGRP", 0o20),
    ("S_IRGRP", 0o40),
    ("S_IXUSR", 0o100),
    ("S_IWUSR", 0o200),
    ("S_IRUSR", 0o400),
    ("S_ISVTX", 0o1000),
    ("S_ISGID", 0o2000),
    ("S_ISUID", 0o4000),
)

S_IXANY = 0o111


def render_mode(mode: int) -> str:
    """``evt.arg.mode`` of chmod/fchmod/fchmodat: the permission bit names."""
    return render_flags(mode & 0o7777, CHMOD_MODE)


def render_octal(value: int) -> str:
    """Numbers Falco prints in octal (open's ``mode``): C's ``%#o``."""
    return "0" if value == 0 else f"0{value:o}"


# --- execve ------------------------------------------------------------------------------

PPM_EXE_WRITABLE = 1 << 0
PPM_EXE_UPPER_LAYER = 1 << 1
PPM_EXE_FROM_MEMFD = 1 << 2
PPM_EXE_LOWER_LAYER = 1 << 3

EXECVE_FLAGS: NameTable = (
    ("EXE_WRITABLE", PPM_EXE_WRITABLE),
    ("EXE_UPPER_LAYER", PPM_EXE_UPPER_LAYER),
    ("EXE_FROM_MEMFD", PPM_EXE_FROM_MEMFD),
    ("EXE_LOWER_LAYER", PPM_EXE_LOWER_LAYER),
)

AT_FDCWD = -100

UNLINKAT_FLAGS: NameTable = (("AT_REMOVEDIR", 0x200),)
LINKAT_FLAGS: NameTable = (("AT_SYMLINK_FOLLOW", 0x400), ("AT_EMPTY_PATH", 0x1000))
RENAMEAT2_FLAGS: NameTable = (
    ("RENAME_NOREPLACE", 1),
    ("RENAME_EXCHANGE", 2),
    ("RENAME_WHITEOUT", 4),
)
MEMFD_CREATE_FLAGS: NameTable = (
    ("MFD_CLOEXEC", 1),
    ("MFD_ALLOW_SEALING", 2),
    ("MFD_HUGETLB", 4),
)

# --- capabilities ------------------------------------------------------------------------

CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


@functools.lru_cache(maxsize=1024)
def render_caps(mask: int) -> str:
    """A capability set as Falco prints it: names in bit order, space-separated.

    Memoized: a host has few distinct capability sets, and this runs per process."""
    return " ".join(name for i, name in enumerate(CAPABILITIES) if mask >> i & 1)


# --- errors -------------------------------------------------------------------------------

# Linux errno names (asm-generic), plus the kernel-internal restart codes a tracepoint
# can see. Fixed here rather than taken from Python's errno module, whose choice among
# aliases (EAGAIN/EWOULDBLOCK, EDEADLK/EDEADLOCK) varies by platform.
_ERRNO_NAMES = [
    "EPERM",
    "ENOENT",
    "ESRCH",
    "EINTR",
    "EIO",
    "ENXIO",
    "E2BIG",
    "ENOEXEC",
    "EBADF",
    "ECHILD",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "ENOTBLK",
    "EBUSY",
    "EEXIST",
    "EXDEV",
    "ENODEV",
    "ENOTDIR",
    "EISDIR",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOTTY",
    "ETXTBSY",
    "EFBIG",
    "ENOSPC",
    "ESPIPE",
    "EROFS",
    "EMLINK",
    "EPIPE",
    "EDOM",
    "ERANGE",
    "EDEADLK",
    "ENAMETOOLONG",
    "ENOLCK",
    "ENOSYS",
    "ENOTEMPTY",
    "ELOOP",
    "-",
    "ENOMSG",
    "EIDRM",
    "ECHRNG",
    "EL2NSYNC",
    "EL3HLT",
    "EL3RST",
    "ELNRNG",
    "EUNATCH",
    "ENOCSI",
    "EL2HLT",
    "EBADE",
    "EBADR",
    "EXFULL",
    "ENOANO",
    "EBADRQC",
    "EBADSLT",
    "-",
    "EBFONT",
    "ENOSTR",
    "ENODATA",
    "ETIME",
    "ENOSR",
    "ENONET",
    "ENOPKG",
    "EREMOTE",
    "ENOLINK",
    "EADV",
    "ESRMNT",
    "ECOMM",
    "EPROTO",
    "EMULTIHOP",
    "EDOTDOT",
    "EBADMSG",
    "EOVERFLOW",
    "ENOTUNIQ",
    "EBADFD",
    "EREMCHG",
    "ELIBACC",
    "ELIBBAD",
    "ELIBSCN",
    "ELIBMAX",
    "ELIBEXEC",
    "EILSEQ",
    "ERESTART",
    "ESTRPIPE",
    "EUSERS",
    "ENOTSOCK",
    "EDESTADDRREQ",
    "EMSGSIZE",
    "EPROTOTYPE",
    "ENOPROTOOPT",
    "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT",
    "EOPNOTSUPP",
    "EPFNOSUPPORT",
    "EAFNOSUPPORT",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ENETDOWN",
    "ENETUNREACH",
    "ENETRESET",
    "ECONNABORTED",
    "ECONNRESET",
    "ENOBUFS",
    "EISCONN",
    "ENOTCONN",
    "ESHUTDOWN",
    "ETOOMANYREFS",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EALREADY",
    "EINPROGRESS",
    "ESTALE",
    "EUCLEAN",
    "ENOTNAM",
    "ENAVAIL",
    "EISNAM",
    "EREMOTEIO",
    "EDQUOT",
    "ENOMEDIUM",
    "EMEDIUMTYPE",
    "ECANCELED",
    "ENOKEY",
    "EKEYEXPIRED",
    "EKEYREVOKED",
    "EKEYREJECTED",
    "EOWNERDEAD",
    "ENOTRECOVERABLE",
    "ERFKILL",
    "EHWPOISON",
]

ERRNO: dict[int, str] = {i + 1: n for i, n in enumerate(_ERRNO_NAMES) if n != "-"}
ERRNO.update(
    {
        512: "ERESTARTSYS",
        513: "ERESTARTNOINTR",
        514: "ERESTARTNOHAND",
        515: "ENOIOCTLCMD",
        516: "ERESTART_RESTARTBLOCK",
    }
)


def errno_name(err: int) -> str | None:
    """The name of a (positive) errno value, or None when unknown."""
    return ERRNO.get(err)


def render_res(res: int) -> str:
    """``evt.res``: ``SUCCESS`` for a result >= 0, else the error name (``ENOENT``)."""
    if res >= 0:
        return "SUCCESS"
    return ERRNO.get(-res) or str(res)


def render_errno_param(res: int) -> str:
    """An errno-typed parameter (``evt.arg.res``): the number, or the name when < 0."""
    if res >= 0:
        return str(res)
    return ERRNO.get(-res) or str(res)

"""Domain names for ``fd.sip.name``, ``fd.cip.name``, ``fd.lip.name`` and ``fd.rip.name``,
found as Falco finds them.

An address has no name of its own: a reverse (PTR) lookup says what the address's owner
chose, and would cost a query per connection. Falco instead resolves the names its loaded
rules compare these fields with (``fd.sip.name = kubernetes.default.svc``,
``fd.sip.name in (miner_domains)``), in a background thread, keeps them fresh, and gives an
address the name that resolved to it. So does this module:

- :func:`rule_names`: the names the loaded rules compare these fields with by ``=``,
  ``!=`` or ``in`` (the operators Falco resolves names for), lists expanded.
- :class:`DnsNames` resolves them off the event path and publishes ``by_ip``, address to
  name, a dict replaced whole (never changed in place): the enricher reads it with one
  attribute read and ``sensor.fdtable.fd_fields`` fills the ``*.name`` fields of a socket
  whose address is in it.
- Lookups go through ``socket.getaddrinfo``: the node's own resolver (``/etc/hosts``, then
  DNS with the node's search domains), as every program on the node sees names. It
  reports no TTL, so a name is looked up again after ``refresh`` seconds (10), the wait
  doubling while the answer stays the same, up to ``max_refresh`` (320) and back to
  ``refresh`` when it changes: Falco's schedule, with Falco's figures. A resolver that
  does report a TTL (one can be injected) is honoured instead, kept within
  ``min_refresh`` and ``max_refresh``.
- A lookup that fails for now (no DNS server answering) keeps the addresses the name had
  and is retried on the same schedule; a name that does not exist has no addresses.

Differences from Falco, both so that no event ever waits on DNS: Falco resolves a name the
first time an event is compared with it, blocking that event; here names are looked up
from the start, in the background, and an event before the first answer simply has no
name. And a field holds one value: when several of the rules' names resolve to one
address, the address gets the first name the rules mention (Falco's comparison matches any
of them), so a rule that names only a later one of them does not match that address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from deliver.inert import inert
from lanner import Engine

NAME_FIELDS = ("fd.sip.name", "fd.cip.name", "fd.lip.name", "fd.rip.name")

# Falco's refresh schedule (libsinsp's DNS manager): 10 s, doubling up to 320 s.
REFRESH = 10.0
MAX_REFRESH = 320.0
MIN_REFRESH = 1.0  # the shortest wait a reported TTL can ask for
# Bounds on what rules can make the sensor resolve and keep.
MAX_NAMES = 1024
MAX_ADDRESSES = 64  # per name

Answer = tuple[frozenset[str], float | None]
"""A lookup's answer: the name's addresses, and how long they hold in seconds (None: not
said, as getaddrinfo does not say)."""
Resolver = Callable[[str], Answer]

# getaddrinfo's answers that mean the name has no address (rather than "try later").
_NO_SUCH_NAME = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})
_HOSTNAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?")


def rule_names(engine: Engine) -> tuple[str, ...]:
    """The domain names the enabled ``syscall`` rules compare the ``*.name`` fields with,
    in rule order."""
    return engine.compared_values("syscall", NAME_FIELDS)


def getaddrinfo_lookup(name: str) -> Answer:
    """The node resolver's addresses for ``name`` (no TTL: getaddrinfo does not say one)."""
    infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    return frozenset(str(info[4][0]) for info in infos), None


def normal_address(text: str) -> str | None:
    """An address as the sensor writes it in ``fd.sip`` and kin (a v6 scope dropped);
    None when ``text`` is not one."""
    try:
        return str(ipaddress.ip_address(text.partition("%")[0]))
    except ValueError:
        return None


def _valid(name: str) -> bool:
    if len(name) > 253:
        return False
    return _HOSTNAME.fullmatch(name) is not None or normal_address(name) is not None


@dataclass(slots=True)
class _Name:
    """What is known of one name: its addresses and when to look it up again."""

    addresses: frozenset[str] = frozenset()
    due: float = 0.0  # clock time of the next lookup; 0: as soon as possible
    wait: float = 0.0  # the last wait between lookups (doubled while answers stay the same)
    answered: bool = False
    failing: bool = False


class DnsNames:
    """The names the rules mention, resolved in a background thread; ``by_ip`` maps each
    of their addresses to a name (the first the rules mention, when several share one).

    ``start()`` starts the thread, ``set_names()`` replaces the names (rules reloaded),
    ``close()`` stops it. ``refresh_due()`` does one round of lookups in the caller's
    thread (what the thread runs; tests call it with an injected ``resolve`` and
    ``clock``). ``say`` gets one line when a name stops resolving and when it resolves
    again.
    """

    def __init__(
        self,
        names: Iterable[str] = (),
        *,
        resolve: Resolver = getaddrinfo_lookup,
        refresh: float = REFRESH,
        max_refresh: float = MAX_REFRESH,
        min_refresh: float = MIN_REFRESH,
        clock: Callable[[], float] = time.monotonic,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.by_ip: Mapping[str, str] = {}
        self._resolve = resolve
        self._refresh = refresh
        self._max_refresh = max(max_refresh, refresh)
        self._min_refresh = min(min_refresh, refresh)
        self._clock = clock
        self._say = say
        self._lock = threading.Lock()
        self._names: dict[str, _Name] = {}  # in the order the rules mention them
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._counts = {"lookups": 0, "failures": 0, "skipped": 0}
        self.set_names(names)

    # --- the names ------------------------------------------------------------------

    def set_names(self, names: Iterable[str]) -> None:
        """Resolve ``names`` from now on (what is known of those kept stays); the others
        are forgotten at once. A name that is not a host name or an address, or past
        ``MAX_NAMES``, is skipped and counted."""
        chosen: list[str] = []
        skipped: list[str] = []
        for name in dict.fromkeys(names):
            if not _valid(name) or len(chosen) >= MAX_NAMES:
                skipped.append(name)
            else:
                chosen.append(name)
        with self._lock:
            old = self._names
            self._names = {name: old.get(name) or _Name() for name in chosen}
            self._counts["skipped"] = len(skipped)
        if skipped and self._say is not None:
            shown = ", ".join(inert(repr(name[:80])) for name in skipped[:5])
            self._say(
                f"fd.*.name: {len(skipped)} name(s) the rules compare with will not be "
                f"resolved (not a host name, or past {MAX_NAMES}): {shown}"
            )
        self._publish()
        self._wake.set()

    # --- looking up -----------------------------------------------------------------

    def refresh_due(self) -> float | None:
        """Looks up every name that is due; the seconds until the next one is (None:
        there are no names)."""
        now = self._clock()
        with self._lock:
            due = [(name, entry) for name, entry in self._names.items() if entry.due <= now]
        changed = False
        for name, entry in due:
            changed |= self._look_up(name, entry)
        if changed:
            self._publish()
        with self._lock:
            if not self._names:
                return None
            following = min(entry.due for entry in self._names.values())
        return max(0.0, following - self._clock())

    def _look_up(self, name: str, entry: _Name) -> bool:
        """One lookup of ``name``; whether its addresses changed."""
        self._counts["lookups"] += 1
        try:
            found, ttl = self._resolve(name)
        except (OSError, UnicodeError, ValueError) as exc:
            if isinstance(exc, socket.gaierror) and exc.errno in _NO_SUCH_NAME:
                found, ttl = frozenset(), None
                self._note_failure(name, entry, f"no such name ({exc.strerror})")
            else:
                self._counts["failures"] += 1
                self._note_failure(name, entry, f"lookup failed ({exc}); kept what it had")
                with self._lock:
                    entry.wait = self._next_wait(entry, same=True)
                    entry.due = self._clock() + entry.wait
                return False
        else:
            if entry.failing and self._say is not None:
                self._say(f"fd.*.name: {name} resolves again")
            entry.failing = False
        addresses = frozenset(
            a for a in map(normal_address, sorted(found)[:MAX_ADDRESSES]) if a is not None
        )
        with self._lock:
            same = entry.answered and addresses == entry.addresses
            entry.addresses, entry.answered = addresses, True
            if ttl is not None:
                entry.wait = min(max(ttl, self._min_refresh), self._max_refresh)
            else:
                entry.wait = self._next_wait(entry, same=same)
            entry.due = self._clock() + entry.wait
        return not same

    def _next_wait(self, entry: _Name, *, same: bool) -> float:
        if not same or entry.wait <= 0:
            return self._refresh
        return min(entry.wait * 2, self._max_refresh)

    def _note_failure(self, name: str, entry: _Name, why: str) -> None:
        if not entry.failing and self._say is not None:
            self._say(f"fd.*.name: {name}: {inert(why)}; rules comparing with it cannot match")
        entry.failing = True

    def _publish(self) -> None:
        by_ip: dict[str, str] = {}
        with self._lock:
            for name, entry in self._names.items():
                for address in sorted(entry.addresses):
                    by_ip.setdefault(address, name)
                    if ":" not in address:
                        # A v6 socket reaching a v4 address shows it v4-mapped.
                        by_ip.setdefault(str(ipaddress.IPv6Address(f"::ffff:{address}")), name)
        self.by_ip = by_ip  # replaced whole: a reader sees the old map or the new one

    # --- the thread -------------------------------------------------------------------

    def start(self) -> DnsNames:
        """Starts looking names up in a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lanner-dns", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._closed:
            try:
                wait = self.refresh_due()
            except Exception as exc:  # the thread must outlive any bug
                self._counts["failures"] += 1
                if self._say is not None:
                    self._say(f"fd.*.name: lookups failed: {inert(repr(exc))}")
                wait = self._refresh
            self._wake.wait(wait)
            self._wake.clear()

    def close(self, timeout: float = 1.0) -> None:
        """Stops the thread (a lookup under way is not waited for past ``timeout``)."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def stats(self) -> dict[str, int]:
        """names (being resolved), resolved (with an address), addresses (in ``by_ip``),
        lookups, failures (lookups that failed for now), skipped (names not resolved)."""
        with self._lock:
            names = len(self._names)
            resolved = sum(1 for entry in self._names.values() if entry.addresses)
            counts = dict(self._counts)
        return {"names": names, "resolved": resolved, "addresses": len(self.by_ip), **counts}

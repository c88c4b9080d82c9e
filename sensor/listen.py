"""``HOST:PORT`` as the sensor's listening options take it (``--metrics-listen``): read
once here, for the command line and the configuration file alike."""

from __future__ import annotations

__all__ = ["ListenError", "parse_listen"]


class ListenError(ValueError):
    """``--metrics-listen`` is not HOST:PORT, or cannot be listened on: the message says why."""


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port); an IPv6 host is written in brackets (``[::]:9376``).
    Port 0 lets the system choose (the bound address is said at start)."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ListenError("an IPv6 address is written in brackets: [::]:9376")
    if not sep or not host or not port.isdigit() or not port.isascii() or int(port) > 65535:
        raise ListenError("expected HOST:PORT, e.g. 0.0.0.0:9376, 127.0.0.1:9376 or [::]:9376")
    return host, int(port)

"""Keep programs run by litgen offline: refuse Python-level connections and name lookups beyond this machine."""

# Installed in the probe (litgen/_probe.py) before any program runs, and inherited by every program
# it forks. The refusal happens before a packet is sent, so it is safe to test against any address.
# Native code that opens its own sockets (for example a C++ distributed backend) is not covered;
# the loopback traffic of a local DDP run is allowed either way.

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host.lower() in _LOCAL_NAMES or host == socket.gethostname()
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(
        address.is_loopback or address.is_unspecified or (mapped is not None and mapped.is_loopback)
    )


def _is_literal(host: str) -> bool:
    """An IP address written out: looking it up sends nothing; connecting to it is checked on its own."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _refuse(what: str) -> OSError:
    return OSError(errno.ENETUNREACH, f"litgen runs programs offline: {what} refused")


def _checked(family: int, address: Any) -> None:
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
        host = str(address[0])
        if not _is_loopback(host):
            raise _refuse(f"connection to {host}:{address[1] if len(address) > 1 else '?'}")


def install() -> None:
    """Patch socket so that connect/connect_ex/sendto and getaddrinfo refuse anything but loopback."""
    if getattr(socket.socket.connect, "_litgen_offline", False):
        return
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _checked(self.family, address)
        return original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        try:
            _checked(self.family, address)
        except OSError:
            return errno.ENETUNREACH
        return original_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        _checked(self.family, args[-1] if args else None)
        return original_sendto(self, data, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if host is not None and not _is_literal(name) and not _is_loopback(name):
            raise socket.gaierror(
                socket.EAI_NONAME, f"litgen runs programs offline: looking up {host!r} refused"
            )
        return original_getaddrinfo(host, *args, **kwargs)

    connect._litgen_offline = True  # type: ignore[attr-defined]
    socket.socket.connect = connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign, assignment]
    socket.socket.sendto = sendto  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo

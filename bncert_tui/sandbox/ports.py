"""Loopback port helpers: pick free ports and wait for listeners, so nothing uses a fixed port."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port(*, udp_too: bool = False) -> int:
    """Bind 127.0.0.1:0 and return the port the kernel chose.

    With `udp_too` the port is also free for UDP (a DNS server binds both). The port is released
    before returning, so a parallel process could still take it; starters retry on bind errors.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            if not udp_too:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise OSError("no free loopback port found")


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all sockets held open at once, so they differ)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on host:port (we can bind it ourselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def tcp_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True if a TCP connection to host:port succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    *,
    interval: float = 0.02,
    abort: Callable[[], str | None] | None = None,
) -> bool:
    """Poll `check` until it is true or `timeout` passes; `abort` returning text stops early.

    Returns the last result of `check`. Raises RuntimeError with abort's text, so a server that
    died during start-up fails at once instead of after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if abort is not None:
            reason = abort()
            if reason:
                raise RuntimeError(reason)
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
        interval = min(interval * 1.5, 0.05)

"""What a browser would see: the certificate a port serves, full TLS verification against the
pebble root, and single HTTP requests that never follow redirects. Always connects to 127.0.0.1
(or `host`) while sending the given name as SNI and Host, so no DNS or /etc/hosts is needed."""

from __future__ import annotations

import http.client
import socket
import ssl

from cryptography import x509

TIMEOUT = 10.0


class Headers(dict[str, str]):
    """Response headers with case-insensitive lookup (keys are stored lower-case)."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)


def _sni(host_header: str) -> str:
    """The TLS server name for a Host header value: without port or IPv6 brackets."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _handshake(ctx: ssl.SSLContext, port: int, server_name: str, host: str) -> x509.Certificate:
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw, \
            ctx.wrap_socket(raw, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError(f"{host}:{port} sent no certificate")
    return x509.load_der_x509_certificate(der)


def _insecure_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # inspection only: nothing is trusted
    return ctx


def served_certificate(port: int, server_name: str, host: str = "127.0.0.1") -> x509.Certificate:
    """The leaf certificate served for SNI `server_name`, without any verification."""
    return _handshake(_insecure_context(), port, server_name, host)


def verify_https(port: int, server_name: str, root_pem: str,
                 host: str = "127.0.0.1") -> x509.Certificate:
    """Verify chain (to `root_pem` only) and hostname like a browser; return the leaf.

    Raises ssl.SSLCertVerificationError on an untrusted chain or a name mismatch.
    """
    ctx = ssl.create_default_context(cadata=root_pem)
    return _handshake(ctx, port, server_name, host)


def http_get(
    port: int,
    host_header: str,
    path: str = "/",
    tls: bool = False,
    root_pem: str | None = None,
    host: str = "127.0.0.1",
) -> tuple[int, Headers, bytes]:
    """One GET with the exact Host header given; redirects are returned, not followed.

    With tls=True the SNI is the Host name; the chain is verified against `root_pem` when given,
    otherwise not at all.
    """
    conn: http.client.HTTPConnection
    if tls:
        ctx = ssl.create_default_context(cadata=root_pem) if root_pem else _insecure_context()
        conn = http.client.HTTPSConnection(_sni(host_header), port, timeout=TIMEOUT, context=ctx)
    else:
        conn = http.client.HTTPConnection(_sni(host_header), port, timeout=TIMEOUT)

    def connect_loopback(address: tuple[str, int], *_a: object, **_k: object) -> socket.socket:
        return socket.create_connection((host, address[1]), timeout=TIMEOUT)

    conn._create_connection = connect_loopback  # type: ignore[attr-defined]
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host_header)
        conn.putheader("User-Agent", "bncert-tui-sandbox-probe")
        conn.putheader("Connection", "close")
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        headers = Headers((k.lower(), v) for k, v in resp.getheaders())
        return resp.status, headers, body
    finally:
        conn.close()

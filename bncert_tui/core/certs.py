"""Read certificates (names, serial, validity) with `cryptography`, and what a server serves over TLS."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID


@dataclass(frozen=True)
class CertInfo:
    names: tuple[str, ...]
    serial: str  # hex
    not_before: datetime
    not_after: datetime
    issuer: str

    def days_left(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        return (self.not_after - now).total_seconds() / 86400

    @property
    def lifetime_days(self) -> float:
        return (self.not_after - self.not_before).total_seconds() / 86400

    def to_dict(self) -> dict[str, object]:
        return {"names": list(self.names), "serial": self.serial,
                "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat(),
                "issuer": self.issuer}


def cert_info(cert: x509.Certificate) -> CertInfo:
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = tuple(san.get_values_for_type(x509.DNSName))  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        names = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    issuer = ", ".join(str(a.value) for a in cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME))
    return CertInfo(names=names, serial=format(cert.serial_number, "x"),
                    not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                    issuer=issuer or cert.issuer.rfc4514_string())


def read_cert(path: Path) -> CertInfo | None:
    """The first certificate of a PEM file (lego's .crt is leaf + chain), or None if absent/unreadable."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return cert_info(x509.load_pem_x509_certificates(data)[0])
    except (ValueError, IndexError):
        return None


def served_cert(port: int, server_name: str, host: str = "127.0.0.1", timeout: float = 5) -> CertInfo:
    """The leaf a TLS server presents for this SNI name (not verified: the caller compares serials)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock, \
            context.wrap_socket(sock, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("no certificate presented")
    return cert_info(x509.load_der_x509_certificate(der))

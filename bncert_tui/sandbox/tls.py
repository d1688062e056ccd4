"""Test certificates made with `cryptography`: pebble's own TLS CA + leaf, and the self-signed
server.crt/server.key pair a fresh Bitnami stack ships with."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class KeyPair:
    cert: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def write(self, cert_file: Path, key_file: Path) -> None:
        """Write cert 0644 and key 0600 (the key is created with 0600, never readable by others)."""
        cert_file.write_bytes(self.cert_pem())
        cert_file.chmod(0o644)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.key_pem())
        key_file.chmod(0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name, issuer: x509.Name, key: PrivateKey, days: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def make_ca(common_name: str = "bncert-tui sandbox pebble TLS CA", days: int = 3650) -> KeyPair:
    """An EC P-256 CA that signs pebble's HTTPS certificate (what LEGO_CA_CERTIFICATES trusts)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        _builder(name, name, key, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert, key)


def make_leaf(ca: KeyPair, dns_names: list[str], ips: list[str], days: int = 3650) -> KeyPair:
    """A server certificate signed by `ca` with the given SANs (pebble: localhost, 127.0.0.1)."""
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        _builder(_name(dns_names[0] if dns_names else ips[0]), ca.cert.subject, key, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    return KeyPair(cert, key)


def make_self_signed(common_name: str = "example.com", days: int = 3650,
                     extra_names: tuple[str, ...] = ()) -> KeyPair:
    """The RSA-2048 self-signed pair Bitnami puts in conf/bitnami/certs/ (CN=example.com)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(common_name)
    sans = [x509.DNSName(n) for n in (common_name, *extra_names)]
    cert = (
        _builder(name, name, key, days)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(cert, key)


def write_self_signed(names: list[str], cert_file: Path, key_file: Path) -> bytes:
    """A self-signed certificate for `names` (the first is the CN) written to disk; returns its DER."""
    pair = make_self_signed(names[0], extra_names=tuple(names[1:]))
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    pair.write(cert_file, key_file)
    return pair.cert.public_bytes(serialization.Encoding.DER)

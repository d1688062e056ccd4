"""A real ACME CA on loopback: pebble, with pebble-challtestsrv as DNS (every name -> 127.0.0.1).

Gotchas from the acme-lab research notes: `-defaultIPv6 ""` (else the VA dials ::1), 90-day
validity so `renew --days 90` renews, and pebble prints before it binds (ready = GET /dir is 200).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import ssl
import struct
import time
from pathlib import Path
from types import TracebackType

from .ports import free_port, wait_until
from .procs import ManagedProcess
from .tls import make_ca, make_leaf

PEBBLE = "pebble"
CHALLTESTSRV = "pebble-challtestsrv"
START_TIMEOUT = 15.0


def dns_a_lookup(name: str, port: int, timeout: float = 0.3) -> list[str]:
    """A records for `name` from the DNS server on 127.0.0.1:port (UDP), [] on no answer."""
    qid = random.randrange(1 << 16)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:  # connected, so "nothing listening yet" fails at once instead of timing out
            sock.connect(("127.0.0.1", port))
            sock.send(packet)
            reply = sock.recv(4096)
        except OSError:
            return []
    addrs: list[str] = []
    try:
        rid, _flags, _qd, ancount = struct.unpack(">HHHH", reply[:8])
        if rid != qid:
            return []
        pos = 12 + len(question) + 4
        for _ in range(ancount):
            # owner name: a compression pointer, or labels up to the zero byte
            pos += 2 if reply[pos] & 0xC0 == 0xC0 else reply.index(b"\0", pos) + 1 - pos
            rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", reply[pos : pos + 10])
            pos += 10
            if rtype == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(reply[pos : pos + 4]))
            pos += rdlen
    except (IndexError, ValueError, struct.error):
        return []
    return addrs


class AcmeLab:
    """pebble + challtestsrv in `workdir`; the web server under test must listen on http01_port."""

    def __init__(
        self,
        workdir: Path,
        *,
        validity_seconds: int = 7776000,
        authz_reuse: int = 0,
        nonce_reject: int = 0,
    ) -> None:
        self.workdir = Path(workdir)
        self.validity_seconds = validity_seconds
        self.authz_reuse = authz_reuse
        self.nonce_reject = nonce_reject
        self.http01_port: int = free_port()
        self.tls_ca_file: Path = self.workdir / "pebble-tls-ca.pem"
        self.acme_port = 0
        self.mgmt_port = 0
        self.dns_port = 0
        self.dns_mgmt_port = 0
        self.start_seconds = 0.0
        self._pebble: ManagedProcess | None = None
        self._dns: ManagedProcess | None = None
        self._root_pem: str | None = None
        #: The stack currently bound to http01_port (one at a time; see Sandbox).
        self.active_stack: object | None = None

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def pids(self) -> list[int]:
        """PIDs of the running pebble and challtestsrv."""
        return [p.pid for p in (self._pebble, self._dns)
                if p is not None and p.pid is not None and p.running()]

    def env(self) -> dict[str, str]:
        """What lego needs to trust pebble's HTTPS endpoint."""
        return {"LEGO_CA_CERTIFICATES": str(self.tls_ca_file)}

    def running(self) -> bool:
        return all(p is not None and p.running() for p in (self._pebble, self._dns))

    # -- start / stop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start challtestsrv then pebble; return once /dir answers 200. Retries on port clashes."""
        if self.running():
            return
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        self._write_tls()
        self._root_pem = None
        last_error = ""
        for _attempt in range(3):
            try:
                self._start_once()
            except RuntimeError as exc:
                last_error = str(exc)
                self.stop()
                if "address already in use" in last_error:
                    continue
                raise
            self.start_seconds = time.monotonic() - t0
            return
        raise RuntimeError(f"ACME lab did not start: {last_error}")

    def _write_tls(self) -> None:
        key_file = self.workdir / "pebble-key.pem"
        if self.tls_ca_file.exists() and key_file.exists():
            return
        ca = make_ca()
        leaf = make_leaf(ca, ["localhost"], ["127.0.0.1"])
        leaf.write(self.workdir / "pebble-cert.pem", key_file)
        self.tls_ca_file.write_bytes(ca.cert_pem())

    def _start_once(self) -> None:
        self.acme_port, self.mgmt_port = free_port(), free_port()
        self.dns_port, self.dns_mgmt_port = free_port(udp_too=True), free_port()
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.acme_port}",
                "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
                "certificate": str(self.workdir / "pebble-cert.pem"),
                "privateKey": str(self.workdir / "pebble-key.pem"),
                "httpPort": self.http01_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
                "certificateValidityPeriod": self.validity_seconds,
            }
        }
        config_file = self.workdir / "pebble-config.json"
        config_file.write_text(json.dumps(config, indent=2))

        self._dns = ManagedProcess(
            "pebble-challtestsrv",
            [CHALLTESTSRV, "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{self.dns_mgmt_port}",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            self.workdir / "challtestsrv.log",
        )
        self._dns.start()
        dns = self._dns

        def dns_failed() -> str | None:  # challtestsrv does not exit when a port is busy
            tail = dns.log_tail()
            return dns.exit_reason() or (tail if "address already in use" in tail else None)

        ok = wait_until(lambda: dns_a_lookup("probe.sandbox.test", self.dns_port) == ["127.0.0.1"],
                        START_TIMEOUT, abort=dns_failed)
        if not ok:
            raise RuntimeError(f"challtestsrv DNS not answering:\n{dns.log_tail()}")

        env = dict(os.environ)
        env.update(
            PEBBLE_VA_NOSLEEP="1",
            PEBBLE_WFE_NONCEREJECT=str(self.nonce_reject),
            PEBBLE_AUTHZREUSE=str(self.authz_reuse),
        )
        self._pebble = ManagedProcess(
            "pebble",
            [PEBBLE, "-config", str(config_file), "-dnsserver", f"127.0.0.1:{self.dns_port}",
             "-strict=false"],
            self.workdir / "pebble.log",
            env=env,
            cwd=self.workdir,
        )
        self._pebble.start()
        if not wait_until(self._directory_ready, START_TIMEOUT, abort=self._pebble.exit_reason):
            raise RuntimeError(f"pebble /dir not ready after {START_TIMEOUT:.0f} s:\n"
                               f"{self._pebble.log_tail()}")

    def _get(self, port: int, path: str) -> tuple[int, bytes]:
        ctx = ssl.create_default_context(cafile=str(self.tls_ca_file))
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def _directory_ready(self) -> bool:
        try:
            return self._get(self.acme_port, "/dir")[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def stop(self) -> None:
        """SIGTERM pebble then challtestsrv by PID; SIGKILL whatever does not exit in 5 s."""
        for proc in (self._pebble, self._dns):
            if proc is not None:
                proc.stop(((signal.SIGTERM, 5.0),))
        self._root_pem = None

    def root_pem(self) -> str:
        """The issuing root (PEM) of this run; pebble makes a new one on every start."""
        if self._root_pem is None:
            status, body = self._get(self.mgmt_port, "/roots/0")
            if status != 200:
                raise RuntimeError(f"pebble /roots/0 returned {status}")
            self._root_pem = body.decode()
        return self._root_pem

    def __enter__(self) -> AcmeLab:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

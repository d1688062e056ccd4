"""Before asking the CA: serve a random token from the challenge directory and fetch it from this
machine for each domain, so a broken challenge path is found before it costs a rate-limited failure."""

from __future__ import annotations

import contextlib
import http.client
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from bncert_tui.core.webserver.base import CHALLENGE_PATH


@dataclass(frozen=True)
class ProbeResult:
    domain: str
    ok: bool
    detail: str


def fetch(port: int, host_header: str, path: str, host: str = "127.0.0.1",
          timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP GET that does not follow redirects."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host_header, "User-Agent": "bncert-tui-preflight"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(65536)
    finally:
        conn.close()


def check_challenge_path(webroot: Path, http_port: int, domains: list[str],
                         settle: float = 6.0) -> list[ProbeResult]:
    """Fetch a fresh token for each domain. A graceful reload takes effect asynchronously, so a
    failure is retried for up to `settle` seconds before it counts."""
    deadline = time.monotonic() + settle
    while True:
        results = _probe_once(webroot, http_port, domains)
        if all(r.ok for r in results) or time.monotonic() > deadline:
            return results
        time.sleep(0.25)


def _probe_once(webroot: Path, http_port: int, domains: list[str]) -> list[ProbeResult]:
    token = f"bncert-tui-preflight-{secrets.token_urlsafe(16)}"
    challenge_dir = webroot / ".well-known" / "acme-challenge"
    token_file = challenge_dir / token
    token_file.write_text(token)
    token_file.chmod(0o644)
    results = []
    try:
        for domain in domains:
            try:
                status, headers, body = fetch(http_port, domain, f"{CHALLENGE_PATH}{token}")
            except OSError as exc:
                results.append(ProbeResult(domain, False, f"could not connect to port {http_port}: {exc}"))
                continue
            if status == 200 and body.decode(errors="replace").strip() == token:
                results.append(ProbeResult(domain, True, "challenge path served"))
            elif status in (301, 302, 307, 308):
                results.append(ProbeResult(domain, False,
                                           f"redirected ({status}) to {headers.get('location', '?')}"))
            else:
                results.append(ProbeResult(domain, False, f"HTTP {status} instead of the token"))
    finally:
        with contextlib.suppress(FileNotFoundError):
            token_file.unlink()
    return results

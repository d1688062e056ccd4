"""Detect which web server a Bitnami install dir runs and return its adapter."""

from __future__ import annotations

from pathlib import Path

from bncert_tui.core.errors import StackError
from bncert_tui.core.webserver.base import WebServer


def detect_web_server(installdir: Path) -> WebServer:
    """Apache if DIR/apache (or apache2) has its binary, else nginx, as bncert-tool decides."""
    for name in ("apache", "apache2"):
        if (installdir / name / "bin" / "httpd").exists() or (installdir / name / "bin" / "apachectl").exists():
            from bncert_tui.core.webserver.apache import ApacheServer

            return ApacheServer(installdir)
    if (installdir / "nginx" / "sbin" / "nginx").exists():
        from bncert_tui.core.webserver.nginx import NginxServer

        return NginxServer(installdir)
    raise StackError(f"No Bitnami web server found under {installdir}",
                     f"Looked for {installdir}/apache/bin/httpd and {installdir}/nginx/sbin/nginx.",
                     "Pass --installdir with your Bitnami directory (default /opt/bitnami).")

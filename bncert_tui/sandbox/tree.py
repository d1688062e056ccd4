"""Write a Bitnami-like install dir from the templates: /opt/bitnami becomes the install dir and
ports 80/443 become the sandbox's loopback ports, so the tool under test sees a real VM's layout."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Literal

from .tls import make_self_signed

Kind = Literal["nginx", "apache"]

NGINX_BIN = "/usr/sbin/nginx"
APACHE_BIN = "/usr/sbin/apache2"
BITNAMI_ROOT = "/opt/bitnami"


def templates(kind: Kind) -> Traversable:
    return resources.files("bncert_tui.sandbox").joinpath("templates", kind)


def _iter_templates(root: Traversable, prefix: str = "") -> list[tuple[str, str]]:
    """(relative path, text) of every template file under `root`."""
    out: list[tuple[str, str]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            out += _iter_templates(entry, rel + "/")
        elif entry.is_file():
            out.append((rel, entry.read_text()))
    return out


def render(kind: Kind, text: str, installdir: Path, http_port: int, https_port: int,
           as_root: bool) -> str:
    """Pure: one template's text as it must appear in this install dir."""
    text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#@"))
    text = text.replace(BITNAMI_ROOT, str(installdir))
    if kind == "nginx":
        text = re.sub(r"\blisten(\s+)80\b", rf"listen\g<1>127.0.0.1:{http_port}", text)
        text = re.sub(r"\blisten(\s+)443\b", rf"listen\g<1>127.0.0.1:{https_port}", text)
        text = re.sub(r"^worker_processes(\s+)auto;", r"worker_processes\g<1>1;", text, flags=re.M)
        user = "user              daemon daemon;  ## Default: nobody"
        text = re.sub(r"^user\s+www www;.*$", user if as_root else f"#{user}", text, flags=re.M)
    else:
        text = re.sub(r"^Listen 80$", f"Listen 127.0.0.1:{http_port}", text, flags=re.M)
        text = re.sub(r"^Listen 443$", f"Listen 127.0.0.1:{https_port}", text, flags=re.M)
        text = re.sub(r"\b(127\.0\.0\.1|_default_|localhost):80\b", rf"\1:{http_port}", text)
        text = re.sub(r"\b(127\.0\.0\.1|_default_|localhost):443\b", rf"\1:{https_port}", text)
        if not as_root:
            text = re.sub(r"^(User|Group) daemon$", r"#\1 daemon", text, flags=re.M)
    return text


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _mkdirs(*dirs: Path) -> None:
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)


def _wrapper(real: str, args: list[str], comment: str) -> str:
    quoted = " ".join(shlex.quote(a) for a in [real, *args])
    return f'#!/bin/sh\n# {comment}\nexec {quoted} "$@"\n'


def _apachectl(installdir: Path) -> str:
    """apachectl maps its verbs (graceful, configtest, ...) to httpd flags, like the real one."""
    httpd = shlex.quote(str(installdir / "apache/bin/httpd"))
    return (
        "#!/bin/sh\n"
        "# bncert-tui sandbox: apachectl for the Debian apache2 binary behind bin/httpd\n"
        'case "$1" in\n'
        '  start|stop|restart|graceful|graceful-stop)\n'
        f'    verb="$1"; shift; exec {httpd} -k "$verb" "$@" ;;\n'
        f'  configtest) shift; exec {httpd} -t "$@" ;;\n'
        f'  *) exec {httpd} "$@" ;;\n'
        "esac\n"
    )


def check_traversable(path: Path) -> None:
    """As root the workers run as `daemon`: every parent of the install dir must be o+x."""
    if os.geteuid() != 0:
        return
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise PermissionError(
                f"{parent} is not traversable by others (mode {parent.stat().st_mode & 0o777:o}); "
                "the web server workers run as 'daemon' and could not read the docroot. "
                "Use a base directory with mode 0755 (Sandbox does this)."
            )


def _index_html(kind: Kind) -> str:
    name = "NGINX" if kind == "nginx" else "Apache"
    return (
        "<!DOCTYPE html>\n<html><head><title>bncert-tui sandbox</title></head><body>\n"
        f"<h1>bncert-tui sandbox: {name} stack</h1>\n"
        f"<p>A Bitnami-like WordPress install served by {name} (static page, no PHP).</p>\n"
        "</body></html>\n"
    )


def build_tree(kind: Kind, installdir: Path, http_port: int, https_port: int) -> None:
    """Write DIR/<kind>/..., DIR/wordpress/index.html and an empty DIR/letsencrypt/."""
    as_root = os.geteuid() == 0
    top = installdir / kind
    if top.exists():
        raise FileExistsError(f"{top} already exists: the sandbox tree is built only once")
    _mkdirs(installdir, installdir / "letsencrypt", installdir / "wordpress")
    check_traversable(installdir)
    _write(installdir / "wordpress/index.html", _index_html(kind))
    conf = top / "conf"
    for rel, text in _iter_templates(templates(kind)):
        _write(conf / rel, render(kind, text, installdir, http_port, https_port, as_root))
    _mkdirs(conf / "bitnami/certs", top / "logs")
    make_self_signed("example.com").write(
        conf / "bitnami/certs/server.crt", conf / "bitnami/certs/server.key"
    )
    if kind == "nginx":
        context_dirs = (conf / "context.d" / c for c in ("main", "events", "http"))
        _mkdirs(top / "sbin", top / "tmp", *context_dirs)
        shutil.copyfile("/etc/nginx/mime.types", conf / "mime.types")
        (conf / "mime.types").chmod(0o644)
        _write(top / "sbin/nginx", _wrapper(
            NGINX_BIN, ["-p", f"{top}/", "-c", str(conf / "nginx.conf")],
            "bncert-tui sandbox: stands in for Bitnami's nginx build"), 0o755)
    else:
        _mkdirs(top / "bin", top / "var/run", top / "htdocs")
        _write(top / "htdocs/index.html", _index_html(kind))
        _write(top / "bin/httpd", _wrapper(
            APACHE_BIN, ["-d", str(top), "-f", str(conf / "httpd.conf")],
            "bncert-tui sandbox: stands in for Bitnami's httpd build"), 0o755)
        _write(top / "bin/apachectl", _apachectl(installdir), 0o755)
    for dirpath, dirnames, _files in os.walk(top):
        for d in dirnames:
            (Path(dirpath) / d).chmod(0o755)

"""Apache adapter, pure parts: parsing, include resolution, inspect on a copied tree, render."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bncert_tui.core.errors import StackError
from bncert_tui.core.webserver.apache import ApacheServer, looks_public
from bncert_tui.core.webserver.apache_syntax import Directive, Section, parse, strip_fences
from bncert_tui.core.webserver.apache_tree import DictSource, DiskSource, load_config
from bncert_tui.core.webserver.base import Site, WebServer, WwwRedirect

DATA = Path(__file__).resolve().parent.parent / "data" / "apache" / "conf"
ROOT = Path("/opt/bitnami")
CONF = ROOT / "apache" / "conf"
HTTP_VHOST = CONF / "vhosts" / "wordpress-vhost.conf"
TLS_VHOST = CONF / "vhosts" / "wordpress-https-vhost.conf"
STATUS_VHOST = CONF / "vhosts" / "00_status-vhost.conf"
CERT = Path("/opt/bitnami/letsencrypt/certificates/example.com.crt")
KEY = Path("/opt/bitnami/letsencrypt/certificates/example.com.key")

CHALLENGE = """\
  # BEGIN bncert-tui: acme-challenge
  Alias /.well-known/acme-challenge/ "/opt/bitnami/apps/letsencrypt/.well-known/acme-challenge/"
  <Directory "/opt/bitnami/apps/letsencrypt/.well-known/acme-challenge/">
    Options None
    AllowOverride None
    ForceType text/plain
    Require all granted
  </Directory>
  # END bncert-tui: acme-challenge
"""


def reference_files() -> dict[Path, str]:
    return {
        CONF / p.relative_to(DATA): p.read_text() for p in sorted(DATA.rglob("*")) if p.is_file()
    }


def make_site(
    https_redirect: bool = True,
    www: WwwRedirect = "none",
    challenge_only: bool = False,
    **kw: object,
) -> Site:
    values: dict[object, object] = {
        "name": "example.com",
        "domains": ("example.com", "www.example.com"),
        "webroot": Path("/opt/bitnami/apps/letsencrypt"),
        "https_port": 443,
        "cert_file": None if challenge_only else CERT,
        "key_file": None if challenge_only else KEY,
        "https_redirect": https_redirect,
        "www_redirect": www,
    }
    values.update(kw)
    return Site(**values)  # type: ignore[arg-type]


def block(text: str, tag: str) -> str:
    """Our fenced block `tag` in `text`, marker lines included."""
    m = re.search(
        rf"^[ \t]*# BEGIN bncert-tui: {re.escape(tag)}\n.*?# END bncert-tui: {re.escape(tag)}\n",
        text,
        re.S | re.M,
    )
    assert m, f"no block {tag}"
    return m.group(0)


def triple(host: str, target: str) -> str:
    escaped = host.replace(".", "\\.")
    return (
        "  RewriteCond %{REQUEST_URI} !^/\\.well-known/acme-challenge/\n"
        f"  RewriteCond %{{HTTP_HOST}} ^{escaped}(:[0-9]+)?$ [NC]\n"
        f"  RewriteRule ^ {target}%{{REQUEST_URI}} [R=301,L]\n"
    )


def site_block(pairs: list[tuple[str, str]], extra: str = "") -> str:
    rules = "".join(triple(h, t) for h, t in pairs)
    return (
        "  # BEGIN bncert-tui: example.com\n"
        "  ServerAlias example.com www.example.com\n"
        + extra
        + ("  RewriteEngine On\n" + rules if rules else "")
        + "  # END bncert-tui: example.com\n"
    )


# --- parsing ------------------------------------------------------------------------------


def test_parse_continuations_quotes_offsets_and_case() -> None:
    text = (
        "# comment \\\n"
        "Bogus swallowed by the comment\n"
        '  servername  "a b\\"c"  \n'
        'LogFormat "%h \\\n'
        '%r" combined\n'
        "<virtualhost *:80  [::1]:8080>\n"
        "\tSSLCertificateFile 'x y'\n"
        "</VIRTUALHOST>\n"
    )
    nodes = parse(text, Path("t.conf"))
    assert [type(n).__name__ for n in nodes] == ["Directive", "Directive", "Section"]
    name, fmt, vhost = nodes
    assert isinstance(name, Directive) and isinstance(fmt, Directive) and isinstance(vhost, Section)
    assert (name.key, name.values, name.line, name.indent) == ("servername", ['a b"c'], 3, "  ")
    assert text[name.args[0].start : name.args[0].end] == '"a b\\"c"'
    assert fmt.values == ["%h %r", "combined"] and fmt.line == 4
    assert text[fmt.end :].startswith("<virtualhost")
    assert vhost.key == "virtualhost" and [a.value for a in vhost.args] == ["*:80", "[::1]:8080"]
    assert text[vhost.end :].startswith("\tSSLCertificateFile")
    cert = vhost.children[0]
    assert isinstance(cert, Directive) and cert.values == ["x y"] and cert.args[0].quote == "'"
    assert text[vhost.close_start :] == "</VIRTUALHOST>\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("Listen 80\n<VirtualHost *:80>\nServerName a\n", 2, "was not closed"),
        ("<VirtualHost *:80>\n</Directory>\n", 2, "Expected </VirtualHost>"),
        ("\n</Directory>\n", 2, "without"),
        ("<Directory /x\n</Directory>\n", 1, "missing closing"),
    ],
)
def test_parse_errors_name_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(StackError) as err:
        parse(text, Path("/c/x.conf"))
    assert f"/c/x.conf:{line}" in err.value.title and words in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "<VirtualHost *:80>\n# BEGIN bncert-tui: a\nX\n</VirtualHost>\n",
        "# END bncert-tui: a\n",
        "# BEGIN bncert-tui: a\n# END bncert-tui: b\n",
    ],
)
def test_broken_markers_are_errors(text: str) -> None:
    with pytest.raises(StackError):
        strip_fences(text, Path("x.conf"))


# --- include resolution and the config model -----------------------------------------------


def test_reference_tree_files_vhosts_listens() -> None:
    cfg = load_config(CONF / "httpd.conf", ROOT / "apache", DictSource(reference_files()))
    assert [p.relative_to(CONF).as_posix() for p in cfg.files] == [
        "httpd.conf",
        "extra/httpd-default.conf",
        "deflate.conf",
        "vhosts/00_status-vhost.conf",
        "vhosts/wordpress-https-vhost.conf",
        "vhosts/wordpress-vhost.conf",
        "bitnami/bitnami.conf",
        "bitnami/bitnami-ssl.conf",
    ]
    got = [
        (v.file.name, v.section.line, v.addresses, v.tls, v.names, v.default_on())
        for v in cfg.vhosts
    ]
    assert got == [
        ("00_status-vhost.conf", 1, (("127.0.0.1", 80),), False, ("status.localhost",), False),
        (
            "wordpress-https-vhost.conf",
            1,
            (("127.0.0.1", 443), ("_default_", 443)),
            True,
            ("*",),
            True,
        ),
        ("wordpress-vhost.conf", 1, (("127.0.0.1", 80), ("_default_", 80)), False, ("*",), True),
        ("bitnami.conf", 6, (("_default_", 80),), False, (), True),
        ("bitnami-ssl.conf", 15, (("_default_", 443),), True, (), True),
    ]
    assert cfg.listen_ports == [80, 443]
    assert cfg.pid_file == Path("/opt/bitnami/apache/var/run/httpd.pid")


def test_includes_relative_quoted_globbed_optional_nested() -> None:
    root = Path("/srv/apache")
    files = {
        root / "conf/httpd.conf": (
            "Define SITES conf/sites\n"
            "Include conf/a.conf\n"
            '<IfModule ssl_module>\n  IncludeOptional "${SITES}/*.conf"\n</IfModule>\n'
            "IncludeOptional conf/missing.conf\n"
            "Include conf/nothing/*.conf\n"
            "Include conf/dir\n"
            "Include conf/a.conf\n"
        ),
        root / "conf/a.conf": "Listen 8080\n",
        root
        / "conf/sites/20-b.conf": "<VirtualHost *:8443>\nInclude conf/tls.inc\n</VirtualHost>\n",
        root / "conf/sites/10-a.conf": "<VirtualHost *:8080>\nServerName a.example\n</VirtualHost>",
        root / "conf/sites/.hidden.conf": "Broken <\n",
        root / "conf/sites/notes.txt": "Broken <\n",
        root / "conf/tls.inc": "SSLEngine On\nServerAlias b.example\n",
        root / "conf/dir/y.conf": "Listen 9000\n",
        root / "conf/dir/sub/x.conf": "Listen 9001\n",
    }
    cfg = load_config(root / "conf/httpd.conf", root, DictSource(files))
    assert [p.relative_to(root).as_posix() for p in cfg.files] == [
        "conf/httpd.conf",
        "conf/a.conf",
        "conf/sites/10-a.conf",
        "conf/sites/20-b.conf",
        "conf/tls.inc",
        "conf/dir/sub/x.conf",
        "conf/dir/y.conf",
    ]
    assert [(v.names, v.tls) for v in cfg.vhosts] == [
        (("a.example",), False),
        (("b.example",), True),
    ]
    assert cfg.listen_ports == [8080, 9001, 9000]


@pytest.mark.parametrize(
    ("main", "words"),
    [
        ("Include conf/missing.conf\n", "not found"),
        ("Include conf/loop.conf\n", "includes itself"),
    ],
)
def test_include_errors(main: str, words: str) -> None:
    root = Path("/srv/apache")
    files = {root / "conf/httpd.conf": main, root / "conf/loop.conf": "Include conf/loop.conf\n"}
    with pytest.raises(StackError) as err:
        load_config(root / "conf/httpd.conf", root, DictSource(files))
    assert words in err.value.title


def test_disk_and_dict_sources_agree(tmp_path: Path) -> None:
    installdir = copy_tree(tmp_path)
    conf = installdir / "apache" / "conf"
    disk = load_config(conf / "httpd.conf", installdir / "apache", DiskSource())
    texts = {p: p.read_text() for p in conf.rglob("*") if p.is_file()}
    mem = load_config(conf / "httpd.conf", installdir / "apache", DictSource(texts))
    assert disk.files == mem.files and len(disk.files) == 8
    assert [v.addresses for v in disk.vhosts] == [v.addresses for v in mem.vhosts]


# --- inspect on a copy of the tree ---------------------------------------------------------


def copy_tree(tmp_path: Path, layout: str = "apache") -> Path:
    """The reference conf dir under tmp_path/<layout>/conf, /opt/bitnami rewritten to tmp_path."""
    for rel, text in reference_files().items():
        target = tmp_path / layout / rel.relative_to(ROOT / "apache")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            text.replace("/opt/bitnami/apache", str(tmp_path / layout)).replace(
                "/opt/bitnami", str(tmp_path)
            )
        )
    return tmp_path


def test_inspect_reference_stack(tmp_path: Path) -> None:
    info = ApacheServer(copy_tree(tmp_path)).inspect()
    vhosts = tmp_path / "apache" / "conf" / "vhosts"
    assert info.kind == "apache" and info.version == "unknown"  # no bin/httpd in this copy
    assert info.main_config == tmp_path / "apache" / "conf" / "httpd.conf"
    assert len(info.config_files) == 8 and info.config_files[0] == info.main_config
    assert (info.ports.http, info.ports.https) == (80, 443)
    assert info.server_names == []
    assert [(b.file, b.line, b.ports, b.tls, b.default) for b in info.blocks[:3]] == [
        (vhosts / "00_status-vhost.conf", 1, (80,), False, False),
        (vhosts / "wordpress-https-vhost.conf", 1, (443,), True, True),
        (vhosts / "wordpress-vhost.conf", 1, (80,), False, True),
    ]


def test_inspect_old_apache2_layout_and_names_exclude_our_blocks(tmp_path: Path) -> None:
    installdir = copy_tree(tmp_path, "apache2")
    extra = installdir / "apache2" / "conf" / "vhosts" / "50-shop.conf"
    extra.write_text(
        "<VirtualHost *:80>\n"
        "  # BEGIN bncert-tui: other.example\n  ServerAlias other.example\n"
        "  # END bncert-tui: other.example\n"
        "  ServerName https://www.Shop.example:443\n"
        "  ServerAlias shop.example *.shop.example localhost 10.0.0.1 status.localhost\n"
        "</VirtualHost>\n"
    )
    server = ApacheServer(installdir)
    assert server.main_config == installdir / "apache2" / "conf" / "httpd.conf"
    info = server.inspect()
    shop = [b for b in info.blocks if b.file == extra]
    assert len(shop) == 1 and shop[0].line == 1 and shop[0].default
    assert shop[0].names == (
        "www.Shop.example",
        "shop.example",
        "*.shop.example",
        "localhost",
        "10.0.0.1",
        "status.localhost",
    )
    assert info.server_names == ["www.shop.example", "shop.example"]


def test_ports_fall_back_to_listen(tmp_path: Path) -> None:
    conf = tmp_path / "apache" / "conf"
    conf.mkdir(parents=True)
    (conf / "httpd.conf").write_text("Listen 127.0.0.1:8443 https\nListen 8080\n")
    info = ApacheServer(tmp_path).inspect()
    assert (info.ports.http, info.ports.https) == (8080, 8443) and info.blocks == []


def test_missing_config_is_a_stack_error(tmp_path: Path) -> None:
    with pytest.raises(StackError):
        ApacheServer(tmp_path).inspect()


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("example.com", True),
        ("xn--bcher-kva.example", True),
        ("localhost", False),
        ("status.localhost", False),
        ("*.example.com", False),
        ("10.0.0.1", False),
        ("intranet", False),
    ],
)
def test_looks_public(name: str, ok: bool) -> None:
    assert looks_public(name) is ok


# --- render --------------------------------------------------------------------------------


def render(sites: list[Site], files: dict[Path, str] | None = None) -> dict[Path, str]:
    return ApacheServer(ROOT).render(files if files is not None else reference_files(), sites)


@pytest.mark.parametrize(
    ("https_redirect", "www", "http_pairs", "tls_pairs"),
    [
        (
            True,
            "to-www",
            [
                ("example.com", "https://www.example.com"),
                ("www.example.com", "https://www.example.com"),
            ],
            [("example.com", "https://www.example.com")],
        ),
        (
            True,
            "to-nonwww",
            [("example.com", "https://example.com"), ("www.example.com", "https://example.com")],
            [("www.example.com", "https://example.com")],
        ),
        (
            True,
            "none",
            [
                ("example.com", "https://example.com"),
                ("www.example.com", "https://www.example.com"),
            ],
            [],
        ),
        (
            False,
            "to-www",
            [("example.com", "http://www.example.com")],
            [("example.com", "https://www.example.com")],
        ),
        (False, "none", [], []),
    ],
)
def test_render_site_blocks(
    https_redirect: bool,
    www: WwwRedirect,
    http_pairs: list[tuple[str, str]],
    tls_pairs: list[tuple[str, str]],
) -> None:
    out = render([make_site(https_redirect, www)])
    http_text = out[HTTP_VHOST]
    assert http_text.startswith(
        "<VirtualHost 127.0.0.1:80 _default_:80>\n" + CHALLENGE + site_block(http_pairs)
    )
    assert out[TLS_VHOST].startswith(
        "<VirtualHost 127.0.0.1:443 _default_:443>\n" + CHALLENGE + site_block(tls_pairs)
    )


def test_render_matches_the_documented_snippet() -> None:
    out = render([make_site(True, "to-www")])
    assert block(out[TLS_VHOST], "example.com") == (
        "  # BEGIN bncert-tui: example.com\n"
        "  ServerAlias example.com www.example.com\n"
        "  RewriteEngine On\n"
        "  RewriteCond %{REQUEST_URI} !^/\\.well-known/acme-challenge/\n"
        "  RewriteCond %{HTTP_HOST} ^example\\.com(:[0-9]+)?$ [NC]\n"
        "  RewriteRule ^ https://www.example.com%{REQUEST_URI} [R=301,L]\n"
        "  # END bncert-tui: example.com\n"
    )


def test_render_repoints_certs_in_place_and_keeps_every_user_line() -> None:
    files = reference_files()
    out = render([make_site()])
    assert set(out) == {
        HTTP_VHOST,
        TLS_VHOST,
        STATUS_VHOST,
        CONF / "bitnami/bitnami.conf",
        CONF / "bitnami/bitnami-ssl.conf",
    }
    expected_tls = (
        files[TLS_VHOST]
        .replace('"/opt/bitnami/apache/conf/bitnami/certs/server.crt"', f'"{CERT}"')
        .replace('"/opt/bitnami/apache/conf/bitnami/certs/server.key"', f'"{KEY}"')
    )
    assert strip_fences(out[TLS_VHOST], TLS_VHOST) == expected_tls
    for path in (
        HTTP_VHOST,
        STATUS_VHOST,
        CONF / "bitnami/bitnami.conf",
        CONF / "bitnami/bitnami-ssl.conf",
    ):
        assert strip_fences(out[path], path) == files[path]  # byte for byte, comments included


def test_render_is_idempotent_and_strip_restores() -> None:
    files = reference_files()
    for sites in ([make_site(True, "to-www")], [make_site(challenge_only=True)]):
        merged = {**files, **render(sites, files)}
        assert render(sites, merged) == {}
        back = {**merged, **render([], merged)}
        assert all(back[p] == files[p] for p in files if p != TLS_VHOST)


def test_challenge_only_touches_no_certificate_and_adds_no_site_block() -> None:
    out = render([make_site(challenge_only=True)])
    assert "bncert-tui: example.com" not in "".join(out.values())
    assert "server.crt" in out[TLS_VHOST] and str(CERT) not in out[TLS_VHOST]
    assert out[HTTP_VHOST].startswith(
        "<VirtualHost 127.0.0.1:80 _default_:80>\n" + CHALLENGE + "  ServerAlias *\n"
    )


def test_status_vhost_and_bitnami_defaults_are_not_served() -> None:
    out = render([make_site(True, "to-www")])
    for path in (STATUS_VHOST, CONF / "bitnami/bitnami.conf", CONF / "bitnami/bitnami-ssl.conf"):
        assert "bncert-tui: example.com" not in out[path]
        assert block(out[path], "acme-challenge")
    assert "server.crt" in out[CONF / "bitnami/bitnami-ssl.conf"]


def custom_files(vhosts: str, main_extra: str = "") -> dict[Path, str]:
    return {
        CONF / "httpd.conf": f"Listen 80\nListen 443\n{main_extra}Include conf/v.conf\n",
        CONF / "v.conf": vhosts,
    }


def test_missing_cert_directives_are_added_bare_ones_repointed_bare() -> None:
    files = custom_files(
        "<VirtualHost *:80>\n    ServerName example.com\n</VirtualHost>\n"
        "<VirtualHost *:443>\n    SSLEngine on\n"
        "    SSLCertificateKeyFile /old/k.pem\n</VirtualHost>\n"
    )
    out = render([make_site(False)], files)[CONF / "v.conf"]
    assert (
        "    SSLCertificateKeyFile /opt/bitnami/letsencrypt/certificates/example.com.key\n" in out
    )
    assert block(out.split("<VirtualHost *:443>\n")[1], "example.com") == (
        "    # BEGIN bncert-tui: example.com\n"
        "    ServerAlias example.com www.example.com\n"
        f'    SSLCertificateFile "{CERT}"\n'
        "    # END bncert-tui: example.com\n"
    )
    assert strip_fences(out, CONF / "v.conf") == files[CONF / "v.conf"].replace(
        "/old/k.pem", str(KEY)
    )


def test_name_based_selection_picks_the_matching_vhost() -> None:
    files = custom_files(
        "<VirtualHost *:80>\nServerName other.example\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName nope.example\nServerAlias *.example.com\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName example.com\n</VirtualHost>\n"
        "<VirtualHost *:443>\nServerName other.example\nSSLEngine on\n</VirtualHost>\n"
    )
    out = render([make_site()], files)[CONF / "v.conf"]
    parts = out.split("<VirtualHost")
    assert "bncert-tui: example.com" not in parts[1]
    assert "ServerAlias www.example.com\n" in block(parts[2], "example.com")
    assert "ServerAlias example.com\n" in block(parts[3], "example.com")
    assert "ServerAlias example.com www.example.com\n" in block(parts[4], "example.com")


def test_without_a_name_match_the_default_vhost_then_the_first_serves() -> None:
    files = custom_files(
        "<VirtualHost 127.0.0.1:80>\nServerName status.localhost\n</VirtualHost>\n"
        "<VirtualHost _default_:80>\nServerName app.other\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1:443>\nSSLEngine on\nServerName a.other\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1:443>\nSSLEngine on\nServerName b.other\n</VirtualHost>\n"
    )
    parts = render([make_site()], files)[CONF / "v.conf"].split("<VirtualHost")
    assert ["bncert-tui: example.com" in p for p in parts[1:]] == [False, True, True, False]


def test_non_default_https_port_and_crlf_files() -> None:
    files = custom_files(
        "<VirtualHost *:8080>\r\n\tServerName example.com\r\n</VirtualHost>\r\n"
        "<VirtualHost *:8443>\r\n\tSSLEngine on\r\n\tSSLCertificateFile a\r\n"
        "\tSSLCertificateKeyFile b\r\n</VirtualHost>\r\n"
    )
    out = render([make_site(https_port=8443)], files)[CONF / "v.conf"]
    assert "\tRewriteRule ^ https://example.com:8443%{REQUEST_URI} [R=301,L]\r\n" in out
    assert "\n" not in out.replace("\r\n", "")
    assert render([make_site(https_port=8443)], {**files, CONF / "v.conf": out}) == {}


def test_no_https_vhost_is_a_stack_error() -> None:
    files = custom_files("<VirtualHost *:80>\nServerName example.com\n</VirtualHost>\n")
    with pytest.raises(StackError) as err:
        render([make_site()], files)
    assert "No Apache HTTPS VirtualHost" in err.value.title and err.value.hint
    assert render([make_site(challenge_only=True)], files)  # the challenge needs no TLS


def test_two_sites_on_one_tls_vhost_is_a_stack_error() -> None:
    other = make_site(name="other.example", domains=("other.example",))
    with pytest.raises(StackError) as err:
        render([make_site(), other])
    assert "share one HTTPS VirtualHost" in err.value.title


def test_render_rejects_a_quote_in_paths() -> None:
    with pytest.raises(Exception, match="cannot be written"):
        render([make_site(webroot=Path('/tmp/a"b'))])


# --- control without a server ----------------------------------------------------------------


def test_is_running_reads_the_pid_file(tmp_path: Path) -> None:
    installdir = copy_tree(tmp_path)
    server = ApacheServer(installdir)
    pid_file = installdir / "apache" / "var" / "run" / "httpd.pid"
    assert not server.is_running()
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text(f"{os.getpid()}\n")
    assert server.is_running()
    child = subprocess.Popen(["true"])
    child.wait()
    pid_file.write_text(f"{child.pid}\n")
    assert not server.is_running()


def test_control_without_binaries_reports_the_failure(tmp_path: Path) -> None:
    server: WebServer = ApacheServer(copy_tree(tmp_path))  # mypy checks the protocol here
    assert server.kind == "apache"
    result = server.config_test()
    assert not result.ok and result.argv[-1] == "-t" and result.argv[0].endswith("bin/httpd")


_STUB_MASTERS: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _stop_stub_masters() -> Iterator[None]:
    yield
    while _STUB_MASTERS:
        proc = _STUB_MASTERS.pop()
        proc.kill()
        proc.wait()


def stub_stack(tmp_path: Path, apachectl: str) -> tuple[ApacheServer, Path, socket.socket]:
    """A tree whose bin/apachectl is a stub script (the real server is in the integration test)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    root = tmp_path / "apache"
    (root / "conf").mkdir(parents=True)
    (root / "bin").mkdir()
    pid_file = tmp_path / "httpd.pid"
    # The "master" must be a live process with no children of its own (the test process may have
    # some, e.g. a session pebble): a short sleep, stopped by the fixture below.
    master = subprocess.Popen(["sleep", "30"])
    _STUB_MASTERS.append(master)
    pid_file.write_text(f"{master.pid}\n")
    (root / "conf" / "httpd.conf").write_text(
        f"Listen 127.0.0.1:{listener.getsockname()[1]}\nPidFile {pid_file}\n"
    )
    (root / "bin" / "apachectl").write_text(
        "#!/bin/sh\n" + apachectl.replace("PIDFILE", str(pid_file))
    )
    (root / "bin" / "apachectl").chmod(0o755)
    return ApacheServer(tmp_path), pid_file, listener


def test_reload_waits_until_httpd_rewrites_its_pid_file(tmp_path: Path) -> None:
    server, _pid_file, listener = stub_stack(
        tmp_path, "(sleep 0.4; touch PIDFILE) >/dev/null 2>&1 &\nexit 0\n"
    )
    with listener:
        t = time.monotonic()
        result = server.reload()
        took = time.monotonic() - t
    assert result.ok and result.argv[1:] == ["-k", "graceful"] and "Not seen" not in result.output
    assert 0.4 <= took < 2


def test_reload_says_when_the_new_generation_is_not_seen(tmp_path: Path) -> None:
    server, _pid_file, listener = stub_stack(tmp_path, "exit 0\n")
    server.reload_wait = 0.3
    with listener:
        result = server.reload()
    assert result.ok and "Not seen within 0.3 s" in result.output


def test_reload_failure_is_returned_at_once(tmp_path: Path) -> None:
    server, _pid_file, listener = stub_stack(tmp_path, "echo 'AH00526: Syntax error' >&2\nexit 1\n")
    with listener:
        t = time.monotonic()
        result = server.reload()
    assert not result.ok and "AH00526" in result.output and time.monotonic() - t < 1

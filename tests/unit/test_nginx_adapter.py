"""The nginx adapter, pure parts: tokenizer, parser, includes, inspect on a copied tree, server
block selection, and render (exact output, idempotence, exact strip) on real Bitnami configs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bncert_tui.core.errors import StackError
from bncert_tui.core.webserver.base import Site
from bncert_tui.core.webserver.nginx import NginxServer
from bncert_tui.core.webserver.nginx_servers import (
    Listen,
    http_servers,
    parse_listen,
    select_server,
    universes,
)
from bncert_tui.core.webserver.nginx_syntax import (
    DictSource,
    load_tree,
    parse,
    quote,
    strip_fences,
    tokenize,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "nginx" / "conf"
BASE = Path("/opt/bitnami")
CONF = BASE / "nginx" / "conf"
MAIN = CONF / "nginx.conf"
SERVER = NginxServer(BASE)
CERT = "/opt/bitnami/letsencrypt/certificates/example.com.crt"
KEY = "/opt/bitnami/letsencrypt/certificates/example.com.key"
WP_HTTP = CONF / "server_blocks" / "wordpress-server-block.conf"
WP_HTTPS = CONF / "server_blocks" / "wordpress-https-server-block.conf"
DEFAULT_HTTPS = CONF / "server_blocks" / "default-https-server-block.conf"
CHALLENGE = """\
    # BEGIN bncert-tui: acme-challenge
    location ^~ /.well-known/acme-challenge/ {
        root /opt/bitnami/apps/letsencrypt;
        default_type text/plain;
        try_files $uri =404;
    }
    # END bncert-tui: acme-challenge
"""


def reference(stack: str = "wordpress") -> dict[Path, str]:
    """The reference files keyed by their /opt/bitnami path. "wordpress": its two server blocks;
    "plain": default-https-server-block.conf only; "both": all three."""
    files: dict[Path, str] = {}
    for path in sorted(DATA.rglob("*.conf")):
        if path.parent.name == "server_blocks":
            plain = path.name.startswith("default-")
            if (stack == "wordpress" and plain) or (stack == "plain" and not plain):
                continue
        files[CONF / path.relative_to(DATA)] = path.read_text()
    return files


def site(**kw: object) -> Site:
    args: dict[str, object] = {
        "name": "example.com",
        "domains": ("example.com", "www.example.com"),
        "webroot": BASE / "apps" / "letsencrypt",
        "https_port": 443,
        "cert_file": Path(CERT),
        "key_file": Path(KEY),
    }
    args.update(kw)
    return Site(**args)  # type: ignore[arg-type]


def fenced(text: str, tag: str) -> str:
    """The lines of our block `tag` (BEGIN..END) in `text`; one block expected."""
    tag = re.escape(tag)
    pattern = rf"(?ms)^[ \t]*# BEGIN bncert-tui: {tag}\n.*?# END bncert-tui: {tag}\n"
    blocks = re.findall(pattern, text)
    assert len(blocks) == 1, text
    return blocks[0]


def if_line(head: str, target: str, indent: str = "    ", var: str = "$bncert_host_uri") -> str:
    """One of our redirect lines, as render() writes it."""
    test = f'"^{head}/(?!\\.well-known/acme-challenge/)"'
    return f"{indent}if ({var} ~ {test}) {{ return 301 {target}$request_uri; }}\n"


def one(text: str) -> dict[Path, str]:
    return {MAIN: text}


def servers_of(text: str):  # type: ignore[no-untyped-def]
    return http_servers(load_tree(MAIN, DictSource(one(text))))


# ---------------------------------------------------------------- tokenizer and parser


def test_tokens_keep_offsets_lines_and_nginx_word_rules() -> None:
    text = "a \"b c\" 'd\\'e' f\\;g ${x}y} # c { ;\n  h\"i\" j#k;\n"
    toks = tokenize(text, MAIN)
    words = [(t.kind, t.value, t.line) for t in toks]
    assert words == [
        ("word", "a", 1),
        ("word", "b c", 1),
        ("word", "d'e", 1),
        ("word", "f\\;g", 1),  # an escaped ";" does not end the word, and keeps its backslash
        ("word", "${x}y}", 1),  # "${" is no block, "}" inside a word is literal
        ("word", 'h"i"', 2),  # a quote inside a word is literal
        ("word", "j#k", 2),  # "#" starts a comment only at the start of a token
        (";", ";", 2),
    ]
    assert [text[t.start : t.end] for t in toks][:3] == ["a", '"b c"', "'d\\'e'"]


def test_quoted_escapes_follow_nginx() -> None:
    (tok,) = tokenize('"a\\"b\\\\c\\.d\\te"', MAIN)
    assert tok.value == 'a"b\\c\\.d\te' and tok.quoted


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("http {\n  server {\n    listen 80;\n  }\n", 1, "not closed"),
        ("a;\n}\n", 2, 'unexpected "}"'),
        ("a;\n\n;\n", 3, 'unexpected ";"'),
        ('a;\nb "x;\n\n', 2, "unterminated"),
        ("server {\n listen 80\n}\n", 3, "missing"),
        ('a "b"c;\n', 1, 'unexpected "c"'),
        ("a;\nlisten 80", 2, "end of file"),
    ],
)
def test_parse_errors_name_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(StackError) as err:
        parse(text, Path("/x/y.conf"))
    assert f"/x/y.conf:{line}" in str(err.value)
    assert words in str(err.value)


def test_error_in_an_included_file_names_that_file() -> None:
    files = reference()
    files[CONF / "bitnami" / "php-fpm.conf"] += "location /x {\n"
    with pytest.raises(StackError, match=r"php-fpm\.conf:9"):
        SERVER.render(files, [site()])


def test_tree_follows_includes_and_globs_like_nginx() -> None:
    files = reference("both")
    files[CONF / "bitnami" / ".hidden.conf"] = "nonsense {\n"  # glob(3) skips dot files
    files[CONF / "bitnami" / "sub" / "deep.conf"] = "nonsense {\n"  # "*" stays in one directory
    tree = load_tree(MAIN, DictSource(files))
    names = [str(p.relative_to(CONF)) for p in tree.files]
    assert names == [
        "nginx.conf",
        "server_blocks/default-https-server-block.conf",
        "bitnami/00_protect-uploads-dirs.conf",
        "bitnami/php-fpm.conf",
        "bitnami/protect-hidden-files.conf",
        "server_blocks/wordpress-https-server-block.conf",
        "server_blocks/wordpress-server-block.conf",
    ]


def test_recursive_include_is_an_error() -> None:
    files = one("http { include loop.conf; }\n")
    files[CONF / "loop.conf"] = "include nginx.conf;\n"
    files[CONF / "loop.conf"] = "include loop.conf;\n"
    with pytest.raises(StackError, match=r"includes itself in .*loop\.conf:1"):
        load_tree(MAIN, DictSource(files))


# ---------------------------------------------------------------- inspect


def copy_tree(dest: Path, stack: str = "wordpress") -> NginxServer:
    for path, text in reference(stack).items():
        target = dest / "nginx" / "conf" / path.relative_to(CONF)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("/opt/bitnami", str(dest)))
    return NginxServer(dest)


def test_inspect_reference_wordpress(tmp_path: Path) -> None:
    info = copy_tree(tmp_path).inspect()
    conf = tmp_path / "nginx" / "conf"
    assert info.kind == "nginx" and info.version == "unknown"  # no binary in this copy
    assert info.main_config == conf / "nginx.conf"
    assert [str(p.relative_to(conf)) for p in info.config_files] == [
        "nginx.conf",
        "server_blocks/wordpress-https-server-block.conf",
        "bitnami/00_protect-uploads-dirs.conf",
        "bitnami/php-fpm.conf",
        "bitnami/protect-hidden-files.conf",
        "server_blocks/wordpress-server-block.conf",
    ]
    got = [(b.file.name, b.line, b.ports, b.tls, b.names, b.default) for b in info.blocks]
    assert got == [
        ("wordpress-https-server-block.conf", 1, (443,), True, ("_",), True),
        ("wordpress-server-block.conf", 1, (80,), False, ("_",), True),
        ("nginx.conf", 51, (80,), False, (), False),
    ]
    assert (info.ports.http, info.ports.https) == (80, 443)
    assert info.server_names == []


def test_inspect_lemp_without_https_block(tmp_path: Path) -> None:
    server = copy_tree(tmp_path, "plain")
    (tmp_path / "nginx/conf/server_blocks/default-https-server-block.conf").unlink()
    info = server.inspect()
    assert (info.ports.http, info.ports.https) == (80, None)
    assert [b.ports for b in info.blocks] == [(80,)]


def test_inspect_names_exclude_ours_and_non_hostnames(tmp_path: Path) -> None:
    server = copy_tree(tmp_path)
    block = tmp_path / "nginx/conf/server_blocks/wordpress-server-block.conf"
    names = "server_name _ App.Example.org *.x.com .y.com ~^re localhost 10.0.0.1 single;"
    block.write_text(block.read_text().replace("server_name _;", names))
    files = {p: p.read_text() for p in server.inspect().config_files}
    for path, text in server.render(files, [site(webroot=tmp_path / "www")]).items():
        path.write_text(text)
    info = server.inspect()
    assert "# BEGIN bncert-tui: example.com" in block.read_text()
    assert info.server_names == ["app.example.org"]
    assert info.blocks[1].names == tuple(names[12:-1].split())


def test_inspect_ports_prefer_default_then_most_common(tmp_path: Path) -> None:
    conf = tmp_path / "nginx" / "conf"
    conf.mkdir(parents=True)
    (conf / "nginx.conf").write_text(
        "http {\n"
        "  server { listen 8080; listen [::]:8080; }\n"
        "  server { listen 127.0.0.1:8081 default_server; listen unix:/tmp/x.sock; }\n"
        "  server { listen 8443 ssl; }\n  server { listen *:8443 ssl; }\n"
        "  server { listen 9443; ssl on; }\n"
        "  server { server_name a.example.com; }\n"
        "}\nstream { server { listen 5000; } }\n"
    )
    info = NginxServer(tmp_path).inspect()
    assert [(b.ports, b.tls, b.default) for b in info.blocks] == [
        ((8080,), False, False),
        ((8081,), False, True),
        ((8443,), True, False),
        ((8443,), True, False),
        ((9443,), True, False),
        ((80,), False, False),  # no listen: nginx's default port
    ]
    assert (info.ports.http, info.ports.https) == (8081, 8443)
    assert info.server_names == ["a.example.com"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["80"], Listen("*", 80, False, False)),
        (["127.0.0.1:8080", "default_server"], Listen("127.0.0.1", 8080, False, True)),
        (["[::]:443", "ssl", "http2"], Listen("[::]", 443, True, False)),
        (["*:80", "default"], Listen("*", 80, False, True)),
        (["0.0.0.0:81"], Listen("*", 81, False, False)),
        (["[::1]"], Listen("[::1]", 80, False, False)),
        (["localhost"], Listen("localhost", 80, False, False)),
        (["unix:/run/nginx.sock"], None),
        (["443", "quic"], None),
        (["127.0.0.1:http"], None),
    ],
)
def test_parse_listen(args: list[str], expected: Listen | None) -> None:
    assert parse_listen(args) == expected


# ---------------------------------------------------------------- server selection

SELECT = """\
http {
  server { listen 80; server_name first; }
  server { listen 80; server_name ~^(?<sub>.+)\\.regex\\.test$ ~^www\\.; }
  server { listen 80; server_name www.*; }
  server { listen 80 default_server; server_name _; }
  server { listen 80; server_name *.example.com; }
  server { listen 80; server_name .www.example.com; }
  server { listen 80; server_name exact.www.example.com; }
  server { listen 127.0.0.1:80; }
  server { listen 127.0.0.1:80; server_name other; }
}
"""


@pytest.mark.parametrize(
    ("host", "addr", "index"),
    [
        ("exact.www.example.com", "*", 6),  # exact beats every wildcard
        ("a.www.example.com", "*", 5),  # longest leading wildcard
        ("www.example.com", "*", 5),  # ".x" also matches x itself
        ("a.example.com", "*", 4),
        ("www.other.org", "*", 2),  # trailing wildcard beats regex
        ("x.regex.test", "*", 1),  # regex with a PCRE named group
        ("nothing.test", "*", 3),  # default_server
        ("nothing.test", "127.0.0.1", 7),  # another address: its own blocks, first one
        ("other", "127.0.0.1", 8),
    ],
)
def test_select_server_like_nginx(host: str, addr: str, index: int) -> None:
    servers = servers_of(SELECT)
    assert select_server(universes(servers)[(addr, 80)], servers, host) == index


# ---------------------------------------------------------------- render on the reference configs

WWW = "https://www.example.com"
HTTP_TO_WWW = (
    "    # BEGIN bncert-tui: example.com\n"
    "    server_name example.com www.example.com;\n"
    '    set $bncert_host_uri "$host$uri";\n'
    + if_line(r"example\.com", WWW)
    + if_line(r"www\.example\.com", WWW)
    + "    # END bncert-tui: example.com\n"
)
HTTPS_TO_WWW = (
    "    # BEGIN bncert-tui: example.com\n"
    "    server_name example.com www.example.com;\n"
    '    set $bncert_host_uri "$host$uri";\n'
    + if_line(r"example\.com", WWW)
    + "    # END bncert-tui: example.com\n"
)


def test_render_wordpress_to_www_exact_output() -> None:
    files = reference()
    out = SERVER.render(files, [site(www_redirect="to-www")])
    assert set(out) == {MAIN, WP_HTTP, WP_HTTPS}
    head = "server {\n"
    assert out[WP_HTTP] == files[WP_HTTP].replace(head, head + CHALLENGE + HTTP_TO_WWW, 1)
    expected = files[WP_HTTPS].replace(head, head + HTTPS_TO_WWW, 1)
    expected = expected.replace("bitnami/certs/server.crt", CERT)
    assert out[WP_HTTPS] == expected.replace("bitnami/certs/server.key", KEY)
    # nginx.conf's own port-80 server: challenge only (it never serves the site: not default_server)
    head = "    # HTTP Server\n    server {\n"
    assert out[MAIN] == files[MAIN].replace(head, head + textwrap.indent(CHALLENGE, "    "))


def test_render_to_nonwww() -> None:
    out = SERVER.render(reference(), [site(www_redirect="to-nonwww")])
    http = fenced(out[WP_HTTP], "example.com")
    assert http.count("return 301 https://example.com$request_uri;") == 2
    https = fenced(out[WP_HTTPS], "example.com")
    assert if_line(r"www\.example\.com", "https://example.com") in https
    assert https.count(" if (") == 1


def test_render_https_only_keeps_names() -> None:
    files = {p: t.replace("listen 443 ssl", "listen 8443 ssl") for p, t in reference().items()}
    out = SERVER.render(files, [site(https_port=8443)])
    http = fenced(out[WP_HTTP], "example.com")
    assert if_line(r"example\.com", "https://example.com:8443") in http
    assert "return 301 https://www.example.com:8443$request_uri;" in http
    assert fenced(out[WP_HTTPS], "example.com") == (
        "    # BEGIN bncert-tui: example.com\n"
        "    server_name example.com www.example.com;\n"
        "    # END bncert-tui: example.com\n"
    )


def test_render_without_any_redirect_has_no_set_or_if() -> None:
    out = SERVER.render(reference(), [site(https_redirect=False)])
    for path in (WP_HTTP, WP_HTTPS):
        block = fenced(out[path], "example.com")
        assert "set " not in block and "if " not in block
        assert "server_name example.com www.example.com;" in block


VARIANTS = [
    {"www_redirect": "to-www"},
    {"www_redirect": "to-nonwww"},
    {"www_redirect": "none"},
    {"https_redirect": False, "www_redirect": "to-www"},
    {"https_redirect": False, "www_redirect": "none"},
    {"cert_file": None, "key_file": None},
]


@pytest.mark.parametrize("stack", ["wordpress", "plain", "both"])
@pytest.mark.parametrize("kw", VARIANTS)
def test_render_is_idempotent_and_strip_is_byte_exact(stack: str, kw: dict[str, object]) -> None:
    files = reference(stack)
    out = SERVER.render(files, [site(**kw)])
    assert out
    rendered = {**files, **out}
    assert SERVER.render(rendered, [site(**kw)]) == {}
    back = {**rendered, **SERVER.render(rendered, [])}
    expected = dict(files)  # identical except the two certificate paths repointed in place
    if kw.get("cert_file", "") is not None:
        path, stem = (DEFAULT_HTTPS, "tls") if stack == "plain" else (WP_HTTPS, "server")
        text = expected[path].replace(f"bitnami/certs/{stem}.crt", CERT)
        expected[path] = text.replace(f"bitnami/certs/{stem}.key", KEY)
    assert back == expected
    # every original line is still there, in order, outside our blocks
    for path, text in out.items():
        assert strip_fences(text, path).count("\n") == files[path].count("\n")


def test_render_with_no_sites_on_clean_files_changes_nothing() -> None:
    assert SERVER.render(reference("both"), []) == {}


def test_render_challenge_only_adds_just_the_challenge() -> None:
    files = reference()
    out = SERVER.render(files, [site(cert_file=None, key_file=None)])
    assert out[WP_HTTP] == files[WP_HTTP].replace("server {\n", "server {\n" + CHALLENGE, 1)
    assert WP_HTTPS not in out  # TLS only: no challenge, no certificate yet


def test_render_plain_stack_repoints_relative_cert_paths() -> None:
    files = reference("plain")
    out = SERVER.render(files, [site()])
    assert "    ssl_certificate      " + CERT + ";\n" in out[DEFAULT_HTTPS]
    assert "    ssl_certificate_key  " + KEY + ";\n" in out[DEFAULT_HTTPS]
    assert "server_name example.com www.example.com;" in fenced(out[MAIN], "example.com")


def test_render_leaves_a_block_that_does_not_serve_the_site() -> None:
    files = reference("both")
    out = SERVER.render(files, [site()])
    assert DEFAULT_HTTPS not in out  # on 443 the default_server (WordPress's) answers, not this one
    assert CERT in out[WP_HTTPS]


def test_missing_cert_directives_are_added_in_our_block() -> None:
    text = (
        "http {\n    ssl_certificate /etc/ssl/old.crt;\n    ssl_certificate_key /etc/ssl/old.key;\n"
        "    server {\n        listen 443 ssl;\n"
        "        server_name www.example.com example.com;\n    }\n}\n"
    )
    out = SERVER.render(one(text), [site(www_redirect="to-www")])
    assert fenced(out[MAIN], "example.com") == (
        "        # BEGIN bncert-tui: example.com\n"
        f"        ssl_certificate {CERT};\n"
        f"        ssl_certificate_key {KEY};\n"
        '        set $bncert_host_uri "$host$uri";\n'
        + if_line(r"example\.com", WWW, indent="        ")
        + "        # END bncert-tui: example.com\n"
    )
    assert "/etc/ssl/old.crt" in out[MAIN]  # the http{} default stays for other blocks


def test_no_https_block_is_an_error_with_a_hint() -> None:
    files = reference("plain")
    del files[DEFAULT_HTTPS]
    with pytest.raises(StackError) as err:
        SERVER.render(files, [site()])
    assert "port 443" in err.value.title and "default-https-server-block.conf" in err.value.hint
    assert SERVER.render(files, [site(cert_file=None, key_file=None)])  # the challenge still works


def test_two_sites_in_one_https_block_with_different_certs_is_an_error() -> None:
    other = site(name="other.org", domains=("other.org",), cert_file=Path("/o.crt"))
    with pytest.raises(StackError, match="different certificates"):
        SERVER.render(reference(), [site(), other])


def test_two_sites_with_their_own_blocks() -> None:
    certs = "ssl_certificate a; ssl_certificate_key b;"
    text = f"""http {{
    server {{ listen 443 ssl; server_name example.com www.example.com; {certs} }}
    server {{ listen 443 ssl; server_name other.org; {certs} }}
    server {{ listen 80; server_name www.example.com; }}
    server {{ listen 80 default_server; }}
}}
"""
    other = site(
        name="other.org", domains=("other.org",), cert_file=Path("/o.crt"), key_file=Path("/o.key")
    )
    out = SERVER.render(one(text), [site(), other])[MAIN]
    https_a, https_b, http_www, http_default = out.split("\n    server {")[1:]
    # HTTPS: each block gets its own certificate; the names are already the user's, no redirect
    assert https_a.endswith(f"; ssl_certificate {CERT}; ssl_certificate_key {KEY}; }}")
    assert https_b.endswith("other.org; ssl_certificate /o.crt; ssl_certificate_key /o.key; }")
    # port 80: www.example.com has its own block, example.com and other.org go to the default
    assert "server_name" not in fenced(http_www, "example.com")
    assert "^www\\.example\\.com/" in fenced(http_www, "example.com")
    assert "\n        listen 80; server_name www.example.com; }" in http_www  # block opened up
    assert "server_name example.com;" in fenced(http_default, "example.com")
    assert "^www" not in fenced(http_default, "example.com")
    assert "server_name other.org;" in fenced(http_default, "other.org")
    assert SERVER.render(one(out), [site(), other]) == {}


def test_block_on_http_and_https_tests_the_scheme() -> None:
    text = (
        "http {\n  server {\n    listen 80;\n    listen 443 ssl;\n"
        "    ssl_certificate a;\n    ssl_certificate_key b;\n  }\n}\n"
    )
    url = "$bncert_url"
    out = SERVER.render(one(text), [site(www_redirect="to-nonwww")])[MAIN]
    assert fenced(out, "example.com") == (
        "    # BEGIN bncert-tui: example.com\n"
        "    server_name example.com www.example.com;\n"
        '    set $bncert_url "$scheme://$host:$server_port$uri";\n'
        + if_line(r"http://example\.com:80", "https://example.com", var=url)
        + if_line(r"http://www\.example\.com:80", "https://example.com", var=url)
        + if_line(r"https://www\.example\.com:443", "https://example.com", var=url)
        + "    # END bncert-tui: example.com\n"
    )


def test_our_names_count_on_the_blocks_other_ports() -> None:
    text = (
        "http {\n  ssl_certificate a;\n  ssl_certificate_key a;\n"
        "  server {\n    listen 80 default_server;\n    listen 443 ssl;\n  }\n"
        "  server {\n    listen 443 ssl default_server;\n    ssl_certificate b;\n  }\n}\n"
    )
    out = SERVER.render(one(text), [site()])[MAIN]
    first, second = out.split("  server {")[1:]
    # with server_name example.com the first block wins on 443 too: it must test the scheme
    # (a plain "$host$uri" rule would send HTTPS to HTTPS forever) and carry the certificate
    assert '"^http://example\\.com:80/' in first and '"^https://' not in first
    assert f"    ssl_certificate {CERT};\n    ssl_certificate_key {KEY};\n" in first
    assert second == "\n    listen 443 ssl default_server;\n    ssl_certificate b;\n  }\n}\n"


def test_crlf_tabs_comments_and_one_line_blocks() -> None:
    text = (
        "# top { comment \"with' quotes\r\n"
        "http {\r\n"
        "\tserver {  # main site { }\r\n"
        "\t\tlisten 80; # trailing\r\n"
        "\r\n"
        "\t\tserver_name example.com;\r\n"
        "\t}\r\n"
        "\tserver { listen 8080; }\r\n"
        "\tserver {\r\n\t\tlisten 443 ssl;\r\n"
        f"\t\tssl_certificate {CERT};\r\n\t\tssl_certificate_key {KEY};\r\n\t}}\r\n"
        "}\r\n"
    )
    out = SERVER.render(one(text), [site(https_redirect=False, www_redirect="to-www")])[MAIN]
    begin = "\t\t# BEGIN bncert-tui: acme-challenge\r\n"
    assert begin + "\t\tlocation ^~ /.well-known/acme-challenge/ {\r\n\t\t\troot " in out
    assert "\t\tserver_name www.example.com;\r\n" in out  # example.com is already the user's
    assert "return 301 http://www.example.com$request_uri;" in out
    assert "\tserver {\r\n\t\t# BEGIN bncert-tui: acme-challenge" in out  # one-line block opened up
    assert "\n" not in out.replace("\r\n", "")
    opened = text.replace("server { listen 8080; }", "server {\r\n\t\tlisten 8080; }")
    assert strip_fences(out, MAIN) == opened
    assert SERVER.render(one(out), [site(https_redirect=False, www_redirect="to-www")]) == {}
    assert SERVER.render(one(out), []) == {MAIN: strip_fences(out, MAIN)}


def test_hostile_but_valid_values_round_trip() -> None:
    weird = '/srv/my certs/a"b;c{d}#e\'f\\g'
    text = (
        "http {\n  map $http_x ${y} { default 1; }\n"
        "  server {\n    listen 80;\n    listen 443 ssl;\n"
        "    server_name ~^(?<sub>[^.]+)\\.example\\.com$ \"quoted.example.com\";\n"
        "    ssl_certificate \"/old path/x.crt\"; # keep this comment\n"
        "    ssl_certificate_key '/old/x.key';\n    location / { return 200 '}{;#'; }\n  }\n}\n"
    )
    cert, key = Path(weird + ".crt"), Path(weird + ".key")
    new_site = site(webroot=Path(weird), cert_file=cert, key_file=key)
    out = SERVER.render(one(text), [new_site])[MAIN]
    assert "; # keep this comment\n" in out and "return 200 '}{;#';" in out
    tree = load_tree(MAIN, DictSource(one(out)))
    (srv,) = http_servers(tree)
    assert [d.args[0].value for d in srv.certs] == [str(cert)]
    assert [d.args[0].value for d in srv.keys] == [str(key)]
    (loc,) = [d for d in srv.locations if d.values[-1] == "/.well-known/acme-challenge/"]
    assert loc.block is not None and loc.block[0].values == [weird]
    assert SERVER.render(one(out), [new_site]) == {}
    with pytest.raises(StackError, match="nginx config"):
        SERVER.render(one(text), [site(cert_file=Path("/a/$x.crt"))])


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("/a/b.crt", "/a/b.crt"),
        ("/a b", '"/a b"'),
        ('/a"b\\c', '"/a\\"b\\\\c"'),
        ("/a;b", '"/a;b"'),
        ("/a{b", '"/a{b"'),
        ("#a", '"#a"'),
    ],
)
def test_quote(value: str, written: str) -> None:
    assert quote(value) == written
    (tok,) = tokenize(written, MAIN)
    assert tok.value == value


def test_existing_challenge_location_is_reported() -> None:
    location = "location ^~ /.well-known/acme-challenge/ { root /x; }"
    text = f"http {{\n  server {{\n    listen 80;\n    {location}\n  }}\n}}\n"
    with pytest.raises(StackError, match=r"nginx\.conf:4"):
        SERVER.render(one(text), [site()])


def test_unmatched_begin_marker_is_an_error() -> None:
    text = "http {\n  server {\n    # BEGIN bncert-tui: example.com\n    listen 80;\n  }\n}\n"
    with pytest.raises(StackError, match=r"no matching END.*nginx\.conf:3"):
        SERVER.render(one(text), [])


def test_render_needs_the_main_config() -> None:
    with pytest.raises(StackError, match=r"nginx\.conf"):
        SERVER.render({}, [site()])


def test_render_reference_is_fast() -> None:
    files = reference("both")
    SERVER.render(files, [site()])
    start = time.perf_counter()
    for _ in range(20):
        SERVER.render(files, [site(www_redirect="to-www")])
    per_render = (time.perf_counter() - start) / 20
    assert per_render < 0.05, per_render


# ---------------------------------------------------------------- is_running


def test_is_running_reads_the_pid_directive(tmp_path: Path) -> None:
    conf = tmp_path / "nginx" / "conf"
    conf.mkdir(parents=True)
    server = NginxServer(tmp_path)
    (conf / "nginx.conf").write_text("events {}\n")
    assert server.pid_file() == tmp_path / "nginx" / "logs" / "nginx.pid"
    assert not server.is_running()  # no pid file
    (conf / "nginx.conf").write_text('pid "tmp/my nginx.pid";\nevents {}\n')
    pid_file = tmp_path / "nginx" / "tmp" / "my nginx.pid"
    assert server.pid_file() == pid_file
    pid_file.parent.mkdir()
    pid_file.write_text(f"{os.getpid()}\n")
    assert server.is_running()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=10)
    pid_file.write_text(f"{dead.pid}\n")
    assert not server.is_running()
    pid_file.write_text("garbage\n")
    assert not server.is_running()

"""bncert-tool detection and the pure take-over pieces, on plain files and strings (no servers)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bncert_tui.core.legacy import (
    LegacyFindings,
    crontab_sources,
    detect,
    strip_config,
    strip_cron_text,
)
from bncert_tui.core.legacy_text import (
    FENCE_HTTPS,
    FENCE_LETSENCRYPT,
    FENCE_PROXY,
    NGINX_TAKEN_OVER,
    find_apache_fences,
    find_cron_lines,
    parse_cron_line,
)
from bncert_tui.sandbox.legacy import add_vhost_fence
from bncert_tui.sandbox.tls import make_self_signed

DIR = "/opt/bitnami"
OLD = (f'0 0 * * * sudo {DIR}/letsencrypt/lego --path {DIR}/letsencrypt --email="me@example.com" --http '
       f"--http-timeout 30 --http.webroot {DIR}/apps/letsencrypt --domains=example.com renew && sudo "
       f"{DIR}/apache/bin/httpd -f {DIR}/apache/conf/httpd.conf -k graceful # bncert-autorenew")
NEW = (f'43 0 * * * sudo {DIR}/letsencrypt/lego --path {DIR}/letsencrypt --email="me@example.com" --http '
       f"--http-timeout 30 --http.webroot {DIR}/apps/letsencrypt --domains=example.com --user-agent "
       f"bitnami-bncert/1.1.0 renew && sudo {DIR}/nginx/sbin/nginx -s reload # bncert-autorenew")
FOREIGN = 'MAILTO="ops@example.org"\n30 2 * * * /home/bitnami/backup.sh > /dev/null 2>&1\n'
SPOOL = Path("/spool/bitnami")

HTTP_VHOST = """<VirtualHost 127.0.0.1:80 _default_:80>
  ServerAlias *
  DocumentRoot /opt/bitnami/wordpress
  <Directory "/opt/bitnami/wordpress">
    Require all granted
    # BEGIN WordPress
    RewriteEngine On
    RewriteRule . /index.php [L]
    # END WordPress
  </Directory>
</VirtualHost>
"""
INCLUDE = '  Include "/opt/bitnami/apps/letsencrypt/conf/httpd-prefix.conf"'
REDIRECT = ("  RewriteCond %{HTTPS} !=on\n  RewriteCond %{REQUEST_URI} !^/\\.well-known\n"
            "  RewriteRule ^/(.*) https://%{SERVER_NAME}/$1 [R,L]")
PROXY = "  <IfModule mod_proxy.c>\n    ProxyPass /.well-known !\n  </IfModule>"


def bncert_vhost(text: str = HTTP_VHOST) -> str:
    """The vhost as bncert-tool leaves it: challenge include, 302 redirect, ProxyPass exclusion."""
    text = add_vhost_fence(text, FENCE_LETSENCRYPT, INCLUDE, INCLUDE)
    text = add_vhost_fence(text, FENCE_HTTPS, REDIRECT, "", require_rewrite=True)
    return add_vhost_fence(text, FENCE_PROXY, PROXY, PROXY)


# --- cron lines ---------------------------------------------------------------------------------


def test_old_midnight_line_parsed() -> None:
    [line] = find_cron_lines(FOREIGN + OLD + "\n", SPOOL, "bitnami")
    assert (line.line_no, line.user, line.schedule, line.old_midnight) == (3, "bitnami", "0 0 * * *", True)
    assert line.user_agent is None
    assert (line.domains, line.email) == (["example.com"], "me@example.com")
    assert line.lego == f"{DIR}/letsencrypt/lego" and line.lego_path == f"{DIR}/letsencrypt"
    assert line.webroot == f"{DIR}/apps/letsencrypt"
    assert line.reload_command == f"{DIR}/apache/bin/httpd -f {DIR}/apache/conf/httpd.conf -k graceful"
    assert line.run_time == "every day at 00:00" and not line.system_format


def test_new_randomised_line_parsed() -> None:
    [line] = find_cron_lines(NEW, SPOOL, "bitnami")
    assert (line.schedule, line.old_midnight, line.user_agent) == ("43 0 * * *", False, "bitnami-bncert/1.1.0")
    assert line.run_time == "every day at 00:43"
    assert line.reload_command == f"{DIR}/nginx/sbin/nginx -s reload"


def test_cron_d_line_has_a_user_column() -> None:
    text = "SHELL=/bin/sh\n" + NEW.replace("43 0 * * * ", "7 13 * * * bitnami ") + "\n"
    [line] = find_cron_lines(text, Path("/etc/cron.d/x"), None)
    assert (line.user, line.system_format, line.schedule) == ("bitnami", True, "7 13 * * *")
    assert line.lego == f"{DIR}/letsencrypt/lego" and line.domains == ["example.com"]
    assert line.run_time == "every day at 13:07"


def test_foreign_and_disabled_lines_are_not_bncert() -> None:
    text = (FOREIGN + "# " + OLD + "\n"  # commented out by the admin: not active
            + "5 5 * * * /bin/echo bncert-autorenew\n"  # the word, not the trailing tag
            + "@daily /usr/bin/lego renew # bncert-autorenew\n")
    [line] = find_cron_lines(text, SPOOL, "root")
    assert (line.line_no, line.schedule, line.old_midnight, line.run_time) == (5, "@daily", True, "every day at 00:00")
    assert parse_cron_line("0 0 * * * /bin/true", SPOOL, "root", 1) is None


def test_strip_cron_text_keeps_every_other_byte() -> None:
    head = "# DO NOT EDIT\r\nMAILTO=\"a@b\"\r\n  \n# " + OLD + "\n"
    text = head + OLD + "\r\n" + "15 3 * * * /usr/bin/caf\u00e9 \udcff\n" + NEW  # no final newline
    assert strip_cron_text(text) == head + "15 3 * * * /usr/bin/caf\u00e9 \udcff\n"
    assert strip_cron_text(strip_cron_text(text)) == strip_cron_text(text)
    assert strip_cron_text("") == ""


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=40), max_size=8))
def test_strip_cron_text_never_touches_foreign_lines(lines: list[str]) -> None:
    text = "\n".join(line for line in lines if "bncert-autorenew" not in line)
    assert strip_cron_text(text) == text
    assert strip_cron_text(text + "\n" + OLD + "\n") == text + "\n"


# --- crontab sources and detect on files ----------------------------------------------------------


def test_crontab_sources_lists_only_existing_files(tmp_path: Path) -> None:
    spool, cron_d, installdir = tmp_path / "spool", tmp_path / "cron.d", tmp_path / "bitnami"
    for d in (spool, cron_d, installdir):
        d.mkdir()
    (spool / "bitnami").write_text(NEW + "\n")
    (spool / "nobody-else").write_text(OLD + "\n")  # not root, bitnami or the install dir's owner
    (cron_d / "php").write_text("09,39 * * * * root /bin/true\n")
    (cron_d / ".placeholder").write_text("")
    sources = crontab_sources(installdir, spool=spool, cron_d=cron_d)
    assert sources == [(spool / "bitnami", "bitnami"), (cron_d / "php", None)]
    (spool / "root").write_text("")
    assert (spool / "root", "root") in crontab_sources(installdir, spool=spool, cron_d=cron_d)
    assert crontab_sources(installdir, spool=tmp_path / "none", cron_d=tmp_path / "none") == []


def make_tree(root: Path) -> Path:
    """A small nginx install dir as bncert-tool leaves it (no server needed)."""
    installdir = root / "bitnami"
    conf = installdir / "nginx" / "conf"
    certs = installdir / "letsencrypt" / "certificates"
    for d in (conf / "bitnami", conf / "server_blocks", certs, installdir / "apps" / "letsencrypt" / ".well-known",
              installdir / "letsencrypt" / "accounts" / "acme-v02.api.letsencrypt.org" / "me@example.com"):
        d.mkdir(parents=True)
    (installdir / "letsencrypt" / "accounts" / "acme-v02.api.letsencrypt.org" / "me@example.com"
     / "account.json").write_text("{}")
    make_self_signed("example.com").write(certs / "example.com.crt", certs / "example.com.key")
    (certs / "example.com.issuer.crt").write_text("")
    (installdir / "letsencrypt" / "lego").write_text("#!/bin/sh\n")
    (conf / "bitnami" / "bncert.conf").write_text(
        f"location ^~ /.well-known {{\n  alias {installdir}/apps/letsencrypt/.well-known;\n}}\n")
    os.symlink(certs / "example.com.crt", conf / "example.com.crt")
    os.symlink("../../letsencrypt/certificates/example.com.key", conf / "example.com.key")  # relative
    os.symlink("/etc/ssl/unrelated.pem", conf / "other.crt")
    (conf / "server_blocks" / "https-server-block.conf").write_text(
        "server {\n  listen 443 ssl;\n"
        f"  ssl_certificate      {conf}/example.com.crt;\n  ssl_certificate_key  example.com.key;\n"
        "  # ssl_certificate bitnami/certs/server.crt;\n}\n")
    return installdir


def test_detect_on_files(tmp_path: Path) -> None:
    installdir = make_tree(tmp_path)
    cron = tmp_path / "bitnami.cron"
    cron.write_text(FOREIGN + OLD + "\n")
    found = detect(installdir, [(cron, "bitnami"), (tmp_path / "missing", "root")])
    conf = installdir / "nginx" / "conf"
    assert found.found()
    assert [c.line_no for c in found.cron_lines] == [3] and found.cron_files == [cron]
    assert found.lego_path == installdir / "letsencrypt" / "lego"
    assert found.accounts == ["me@example.com"]
    assert [(c.name, c.names) for c in found.certificates] == [("example.com", ("example.com",))]
    assert found.nginx_bncert_conf == conf / "bitnami" / "bncert.conf"
    certs = installdir / "letsencrypt" / "certificates"
    assert found.symlinks == [(conf / "example.com.crt", certs / "example.com.crt"),
                              (conf / "example.com.key", certs / "example.com.key")]
    assert [(d.line, d.name) for d in found.cert_directives] == [(3, "ssl_certificate"), (4, "ssl_certificate_key")]
    assert found.challenge_dir == installdir / "apps" / "letsencrypt"
    assert found.apache_fences == []


def test_detect_after_take_over_finds_nothing_active(tmp_path: Path) -> None:
    installdir = make_tree(tmp_path)
    bncert_conf = installdir / "nginx" / "conf" / "bitnami" / "bncert.conf"
    bncert_conf.write_text(NGINX_TAKEN_OVER)
    block = installdir / "nginx" / "conf" / "server_blocks" / "https-server-block.conf"
    block.write_text(block.read_text().replace(f"{installdir}/nginx/conf/example.com.crt", "/elsewhere.crt")
                     .replace(" example.com.key", " /elsewhere.key"))
    cron = tmp_path / "cron"
    cron.write_text(FOREIGN)
    found = detect(installdir, [(cron, "bitnami")])
    assert not found.found()
    assert found.nginx_bncert_conf is None and found.cert_directives == [] and found.cron_lines == []
    assert found.symlinks and found.certificates  # leftovers, reported but unused
    assert "unused" in found.describe()[0]


# --- strip_config -------------------------------------------------------------------------------


def test_strip_config_removes_bncert_fences_only() -> None:
    path = Path("/opt/bitnami/apache/conf/vhosts/wordpress-vhost.conf")
    edited = bncert_vhost()
    whats = [f.what for f in find_apache_fences(edited, path)]
    assert whats == [FENCE_LETSENCRYPT, FENCE_HTTPS, FENCE_PROXY]
    assert "  # BEGIN: Enable HTTP to HTTPS redirection\n  RewriteEngine On\n" in edited
    findings = LegacyFindings(installdir=Path("/opt/bitnami"))
    # Default: the ProxyPass exclusion stays, everything else is the user's file again.
    [(out_path, text)] = strip_config({path: edited}, findings).items()
    assert out_path == path
    assert text == add_vhost_fence(HTTP_VHOST, FENCE_PROXY, PROXY, PROXY)
    assert "# BEGIN WordPress" in text and "# END WordPress" in text
    assert strip_config({path: text}, findings) == {}  # idempotent
    full = strip_config({path: edited}, findings, keep_proxy_exclusions=False)
    assert full == {path: HTTP_VHOST}


def test_strip_config_leaves_unknown_and_unclosed_fences() -> None:
    path = Path("/x.conf")
    text = ("<VirtualHost *:80>\n  # BEGIN: Something of the admin's\n  Foo\n  # END: Something of the admin's\n"
            f"  # BEGIN: {FENCE_HTTPS}\n  RewriteEngine On\n"
            "  # BEGIN bncert-tui: acme-challenge\n  # END bncert-tui: acme-challenge\n</VirtualHost>\n")
    assert find_apache_fences(text, path) == []
    assert strip_config({path: text}, LegacyFindings(installdir=Path("/opt/bitnami"))) == {}


def test_strip_config_crlf_fences() -> None:
    path = Path("/x.conf")
    text = (f"<VirtualHost *:80>\r\n  # BEGIN: {FENCE_LETSENCRYPT}\r\n{INCLUDE}\r\n"
            f"  # END: {FENCE_LETSENCRYPT}\r\n</VirtualHost>")
    out = strip_config({path: text}, LegacyFindings(installdir=Path("/opt/bitnami")))
    assert out == {path: "<VirtualHost *:80>\r\n</VirtualHost>"}


def test_strip_config_empties_nginx_bncert_conf(tmp_path: Path) -> None:
    installdir = make_tree(tmp_path)
    found = detect(installdir, [])
    bncert_conf = installdir / "nginx" / "conf" / "bitnami" / "bncert.conf"
    other = installdir / "nginx" / "conf" / "bitnami" / "php-fpm.conf"
    files = {bncert_conf: bncert_conf.read_text(), other: "location ~ \\.php$ { return 404; }\n"}
    out = strip_config(files, found)
    assert out == {bncert_conf: NGINX_TAKEN_OVER}
    assert all(line.startswith("#") for line in NGINX_TAKEN_OVER.splitlines())
    assert strip_config({**files, **out}, found) == {}  # idempotent
    assert strip_config(files, LegacyFindings(installdir=installdir)) == {}  # not found: untouched


# --- describe -----------------------------------------------------------------------------------


def test_describe_old_midnight_says_when_and_why() -> None:
    findings = LegacyFindings(installdir=Path(DIR), cron_lines=find_cron_lines(OLD, SPOOL, "bitnami"))
    words = "\n".join(findings.describe())
    assert "every day at 00:00" in words and "bitnami's crontab" in words
    assert "0 0 * * *" in words and "midnight UTC" in words and "170,000" in words
    assert "every VM" in words and "even when nothing was renewed" in words
    assert "revert" in words


def test_describe_new_line_and_nothing() -> None:
    findings = LegacyFindings(installdir=Path(DIR), cron_lines=find_cron_lines(NEW, SPOOL, "bitnami"))
    words = "\n".join(findings.describe())
    assert "every day at 00:43" in words and "at random" in words and "170,000" not in words
    empty = LegacyFindings(installdir=Path(DIR))
    assert not empty.found() and empty.describe() == []


def test_describe_groups_apache_fences() -> None:
    a, b = Path(f"{DIR}/apache/conf/bitnami/bitnami.conf"), Path(f"{DIR}/apache/conf/vhosts/wp-vhost.conf")
    fences = find_apache_fences(bncert_vhost(), a) + find_apache_fences(bncert_vhost(), b)
    findings = LegacyFindings(installdir=Path(DIR), apache_fences=fences)
    assert findings.found() and len(findings.replaced_fences) == 4
    lines = [x for x in findings.describe() if x.startswith("Apache block")]
    assert len(lines) == 3
    assert "302" in lines[1] and "apache/conf/bitnami/bitnami.conf, apache/conf/vhosts/wp-vhost.conf" in lines[1]
    assert "kept" in lines[2]

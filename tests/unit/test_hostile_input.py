"""Hostile and odd input: a corpus and property tests over the validators, the nginx and Apache
writers and the cron writer, and the same checks through the CLI (flags and bncert-tool option
files): every rejection says why, exits 2 and touches nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bncert_tui.cli import main
from bncert_tui.core.cronfile import parse_line, render_entry
from bncert_tui.core.errors import InputError
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.core.validation import normalize_domain, normalize_email, split_domains
from bncert_tui.core.webserver.apache import ApacheServer
from bncert_tui.core.webserver.apache_syntax import Directive as ApacheDirective
from bncert_tui.core.webserver.apache_syntax import Section
from bncert_tui.core.webserver.apache_syntax import parse as apache_parse
from bncert_tui.core.webserver.base import Site
from bncert_tui.core.webserver.nginx import NginxServer
from bncert_tui.core.webserver.nginx_syntax import Directive
from bncert_tui.core.webserver.nginx_syntax import parse as nginx_parse

DATA = Path(__file__).resolve().parent.parent / "data"
BASE = Path("/opt/bitnami")
SAFE_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

HOSTILE_DOMAINS = [
    ("example.com;rm -rf /", "whitespace"), ("example.com;", "not allowed"), ("exa{mple}.com", "not allowed"),
    ("example.com}", "not allowed"), ("a.com\nserver_name evil.com", "whitespace"),
    ("'a.com'", "not allowed"), ('"a.com"', "not allowed"), ("$(reboot).com", "not allowed"),
    ("`id`.com", "not allowed"),
    ("exa mple.com", "whitespace"), ("ex\tample.com", "whitespace"), ("ex\x00ample.com", "control"),
    ("pаypal.com", "mixes Cyrillic and Latin"), ("*.example.com", "wildcard"),
    ("a" * 64 + ".com", "limit is 63"), (".".join(["a" * 63] * 4) + ".com", "limit is 253"),
    ("127.0.0.1", "IP address"), ("[::1]", "IP address"), ("::1", "IP address"),
    ("example.com:8080", "port"), ("https://example.com", "scheme"), ("example.com/x", "scheme"),
    ("ex_ample.com", "underscore"), ("example..com", "empty label"), ("example.com.", "trailing dot"),
    ("-example.com", "hyphen"), ("localhost", "two labels"), ("example.123", "all digits"),
    ("", "empty"), ("%0a.com", "not allowed"), ("ex%ample.com", "not allowed"),
]


@pytest.mark.parametrize(("raw", "why"), HOSTILE_DOMAINS)
def test_hostile_domains_are_rejected_saying_why(raw: str, why: str) -> None:
    with pytest.raises(InputError) as rejected:
        normalize_domain(raw)
    assert why in rejected.value.title, rejected.value.title
    assert rejected.value.exit_code == 2


@pytest.mark.parametrize(("raw", "expected"), [
    ("bücher.example", "xn--bcher-kva.example"), ("ÉXAMPLE.com", "xn--xample-9ua.com"),
    ("a" * 63 + ".com", "a" * 63 + ".com"), ("a.com\r\n", "a.com"), ("xn--80ak6aa92e.com", "xn--80ak6aa92e.com"),
])
def test_odd_but_valid_domains_are_normalized(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize("raw", [
    "a@b.com\nMAILTO=x", "a b@example.com", "a@example.com;id", "$(id)@example.com", "`id`@example.com",
    "'a'@example.com", '"a"@example.com', "a%b@example.com", "a@example", "a@127.0.0.1", "a@[127.0.0.1]",
    "a@exa_mple.com", "@example.com", "a@", "",
])
def test_hostile_emails_are_rejected_saying_why(raw: str) -> None:
    with pytest.raises(InputError) as rejected:
        normalize_email(raw)
    assert rejected.value.title.startswith(("Invalid email", "No email"))


ODD = st.sampled_from([*"ab.-;{}\n\r\t'\"$()` *_:/\\%@[]", "а", "é", "ß", "\u200b", "\x00"])
ANY_TEXT = st.one_of(st.text(max_size=80), st.text(alphabet=ODD, max_size=40))


@given(ANY_TEXT)
def test_domain_validator_never_lets_anything_unsafe_through(raw: str) -> None:
    try:
        name = normalize_domain(raw)
    except InputError as exc:
        assert exc.title.startswith("Invalid domain") and ": " in exc.title  # names the reason
        return
    assert SAFE_DOMAIN.match(name), name


@given(ANY_TEXT)
def test_email_validator_never_lets_anything_unsafe_through(raw: str) -> None:
    try:
        email = normalize_email(raw)
    except InputError:
        return
    assert not any(c.isspace() or ord(c) < 0x20 or c in "\"'`;$%" for c in email), email
    assert SAFE_DOMAIN.match(email.rsplit("@", 1)[1])


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?", fullmatch=True)
IDN_LABEL = st.sampled_from(["bücher", "пример", "例え", "straße", "café"])


@st.composite
def domains(draw: st.DrawFn) -> tuple[str, ...]:
    names = []
    for _ in range(draw(st.integers(1, 3))):
        labels = draw(st.lists(st.one_of(LABEL, IDN_LABEL), min_size=1, max_size=3))
        raw = ".".join([*labels, draw(st.sampled_from(["com", "example", "co.uk", "test"]))])
        try:
            names.append(normalize_domain(raw))
        except InputError:
            assume(False)
    return tuple(dict.fromkeys(names))


def site(names: tuple[str, ...], https_redirect: bool, www: str) -> Site:
    return Site(name=names[0], domains=names, webroot=BASE / "bncert-tui" / "webroot", https_port=443,
                cert_file=BASE / "letsencrypt" / "certificates" / f"{names[0]}.crt",
                key_file=BASE / "letsencrypt" / "certificates" / f"{names[0]}.key",
                https_redirect=https_redirect, www_redirect=www)  # type: ignore[arg-type]


def reference(kind: str) -> dict[Path, str]:
    root = DATA / kind / "conf"
    conf = BASE / kind / "conf"
    return {conf / p.relative_to(root): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith("default-")}


def nginx_names(files: dict[Path, str]) -> tuple[set[str], int]:
    names: set[str] = set()
    servers = 0

    def walk(nodes: list[Directive]) -> None:
        nonlocal servers
        for node in nodes:
            servers += node.name == "server"
            if node.name == "server_name":
                names.update(node.values)
            walk(node.block or [])
    for path, text in files.items():
        walk(nginx_parse(text, path))
    return names, servers


def apache_names(files: dict[Path, str]) -> tuple[set[str], int]:
    names: set[str] = set()
    vhosts = 0

    def walk(nodes: list[ApacheDirective | Section]) -> None:
        nonlocal vhosts
        for node in nodes:
            if isinstance(node, Section):
                vhosts += node.key == "virtualhost"
                walk(node.children)
            elif node.key in ("servername", "serveralias"):
                names.update(node.values)
    for path, text in files.items():
        # Parse our fenced blocks too: take the fence markers out.
        walk(apache_parse(text.replace("# BEGIN bncert-tui", "# begin").replace("# END bncert-tui", "# end"),
                          path))
    return names, vhosts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(domains(), st.booleans(), st.sampled_from(["to-www", "to-nonwww", "none"]))
@pytest.mark.parametrize("kind", ["nginx", "apache"])
def test_writers_output_parses_back_with_only_validated_names(
        kind: str, names: tuple[str, ...], https_redirect: bool, www: str) -> None:
    files = reference(kind)
    server = NginxServer(BASE) if kind == "nginx" else ApacheServer(BASE)
    changed = server.render(files, [site(names, https_redirect, www)])
    assert changed, "something to write"
    after = {**files, **changed}
    collect = nginx_names if kind == "nginx" else apache_names
    before_names, before_blocks = collect(files)
    after_names, after_blocks = collect(after)
    assert after_blocks == before_blocks, "no block was injected"
    assert after_names <= before_names | set(names), after_names - before_names - set(names)
    assert set(names) <= after_names
    for text in changed.values():
        assert text.isascii() and "\r" not in text and "\x00" not in text
    assert server.render(after, [site(names, https_redirect, www)]) == {}, "idempotent"


@given(domains(), st.integers(1, 59), st.integers(1, 59), st.integers(0, 5))
def test_cron_entries_round_trip(names: tuple[str, ...], minute: int, second: int, offset: int) -> None:
    schedule = RenewalSchedule(minute=minute, second=second, hour_offset=offset)
    argv = ["/usr/bin/python3", "-m", "bncert_tui", "renew", "--cert", names[0]]
    line = render_entry(names[0], schedule, argv)
    assert "\n" not in line and "%" not in line
    entry = parse_line(line)
    assert entry is not None and entry.cert_name == names[0] and entry.schedule == schedule


@pytest.mark.parametrize("name", ["a b", "a\nb", "a%b", "a\rb", ""])
def test_cron_writer_refuses_what_cron_would_misread(name: str) -> None:
    with pytest.raises(ValueError, match="certificate name"):
        render_entry(name, RenewalSchedule(minute=1, second=2, hour_offset=3), ["x"])


# --- through the CLI: flags and option files ------------------------------------------------------
def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("flags", "why"), [
    (["--domain", "example.com;id"], "Invalid domain"),
    (["--domain", "a.com\nserver_name x"], "whitespace"),
    (["--domain", "$(reboot).com"], "Invalid domain"),
    (["--domain", "pаypal.com"], "mixes"),
    (["--domain", "example.com", "--email", "a@b.com\nMAILTO=x"], "Invalid email"),
    (["--domain", "example.com", "--server", "https://ca.example/dir%0a"], "Unsupported ACME server URL"),
    (["--domain", "example.com", "--server", "http://ca.example/dir"], "must start with https://"),
    (["--domain", "example.com", "--cron-file", "/etc/cron.d/x y"], "Unsupported cron file path"),
    (["--domain", "example.com", "--lego", "/usr/bin/lego;id"], "Unsupported lego path"),
])
def test_cli_values_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
                                why: str) -> None:
    argv = ["apply", "--installdir", str(tmp_path), "--accept-tos", *flags]
    if "--email" not in flags:
        argv += ["--email", "admin@example.org"]
    code, err = run_main(capsys, *argv)
    assert code == 2 and why in err, err
    assert list(tmp_path.iterdir()) == [], "nothing touched"


@pytest.mark.parametrize(("lines", "why"), [
    (["domains=example.com;$(reboot)"], "Invalid domain"),
    (["domains=example.com", "email=a@b.com'"], "Invalid email"),
    (["domains=example.com}", "email=a@b.com"], "Invalid domain"),
    (["domains=example.com", "email=a@b.com", "installdir=/opt/bitnami;x"], "Unsupported install dir"),
    (["domains=example.com", "enable_https_redirection=yes"], "must be 0 or 1"),
    (["domains=example.com", "evil_option=1"], "not a known"),
])
def test_option_files_get_the_same_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          lines: list[str], why: str) -> None:
    installdir = tmp_path / "bitnami"
    installdir.mkdir()
    options = tmp_path / "options.txt"
    options.write_text("\n".join(["# bncert-tool options", *lines, "accept_tos=1"]) + "\n")
    where = [] if any(line.startswith("installdir=") for line in lines) else ["--installdir", str(installdir)]
    code, err = run_main(capsys, "--mode", "unattended", "--optionfile", str(options), *where)
    assert code == 2 and why in err, err
    assert list(installdir.iterdir()) == [], "nothing touched"


def test_split_domains_keeps_hostile_parts_for_the_validator() -> None:
    assert split_domains("a.com; $(id) ,b.com") == ["a.com", "$(id)", "b.com"]

"""Each lego generation gets its own argv, built by one pure function; capabilities come from help text."""

from pathlib import Path

import pytest

from bncert_tui.core.lego import LegoCapabilities, LegoRequest, obtain_argv, parse_capabilities, renew_argv

HELP_4_9 = (Path(__file__).parent.parent / "data" / "lego-4.9.1-help.txt").read_text()
LEGO = Path("/usr/bin/lego")
REQ = LegoRequest(server="https://ca.test/dir", email="a@example.com", path=Path("/opt/bitnami/letsencrypt"),
                  webroot=Path("/opt/bitnami/bncert-tui/webroot"), domains=("example.com", "www.example.com"),
                  user_agent="bncert-tui/0.1.0")


def section(text: str, title: str) -> str:
    start = text.index(title)
    nxt = text.find("=== ", start + 4)
    return text[start: nxt if nxt != -1 else None]


def test_parse_debian_4_9_1_help() -> None:
    caps = parse_capabilities(HELP_4_9, section(HELP_4_9, "=== lego renew --help"),
                              section(HELP_4_9, "=== lego run --help"), "lego version dev linux/amd64")
    assert caps == LegoCapabilities(major=4, user_agent=True, no_random_sleep=True, ari="none",
                                    dynamic=False, version="dev")
    assert caps.level == "lego4-days"


def test_parse_later_generations() -> None:
    assert parse_capabilities("--user-agent", "--no-random-sleep --ari-enable", "").ari == "opt-in"
    ari = parse_capabilities("--user-agent", "--no-random-sleep --ari-disable", "")
    assert (ari.ari, ari.level) == ("default", "lego4-ari")
    dyn = parse_capabilities("--user-agent", "--no-random-sleep --ari-disable --dynamic", "")
    assert dyn.level == "lego4-dynamic"
    five = parse_capabilities("--user-agent", "", "--renew-days --deploy-hook --no-random-sleep --ari-disable")
    assert (five.major, five.level) == (5, "lego5")


def tail(argv: list[str]) -> list[str]:
    """Everything from the subcommand on."""
    for cmd in ("renew", "run"):
        if cmd in argv:
            return argv[argv.index(cmd):]
    raise AssertionError(argv)


COMMON = ["--server", "https://ca.test/dir", "--accept-tos", "--email", "a@example.com", "--path",
          "/opt/bitnami/letsencrypt", "--http", "--http.webroot", "/opt/bitnami/bncert-tui/webroot",
          "--http-timeout", "30", "--user-agent", "bncert-tui/0.1.0", "-d", "example.com", "-d",
          "www.example.com"]


def test_obtain_is_run_with_globals_first() -> None:
    caps = LegoCapabilities()
    assert obtain_argv(LEGO, caps, REQ) == ["/usr/bin/lego", *COMMON, "run"]


@pytest.mark.parametrize(("caps", "random_sleep", "expected"), [
    (LegoCapabilities(), True, ["renew", "--days", "30"]),
    (LegoCapabilities(), False, ["renew", "--days", "30", "--no-random-sleep"]),
    (LegoCapabilities(ari="opt-in"), True, ["renew", "--days", "30", "--ari-enable"]),
    (LegoCapabilities(ari="default"), False, ["renew", "--days", "30", "--no-random-sleep"]),
    (LegoCapabilities(ari="default", dynamic=True), True, ["renew", "--dynamic"]),
    (LegoCapabilities(major=5, ari="default", dynamic=True), False, ["run", "--no-random-sleep"]),
    (LegoCapabilities(no_random_sleep=False), False, ["renew", "--days", "30"]),
])
def test_renew_variants(caps: LegoCapabilities, random_sleep: bool, expected: list[str]) -> None:
    argv = renew_argv(LEGO, caps, REQ, days=30, random_sleep=random_sleep)
    assert argv[:len(COMMON) + 1] == ["/usr/bin/lego", *COMMON]
    assert tail(argv) == expected


def test_force_renews_whatever_the_window() -> None:
    assert tail(renew_argv(LEGO, LegoCapabilities(), REQ, days=30, random_sleep=False, force=True)) == [
        "renew", "--days", "100000", "--no-random-sleep"]
    assert "--renew-force" in renew_argv(LEGO, LegoCapabilities(major=5), REQ, days=None,
                                         random_sleep=True, force=True)


def test_no_shell_metacharacters_reach_one_argument() -> None:
    argv = obtain_argv(LEGO, LegoCapabilities(), REQ)
    assert all(isinstance(a, str) for a in argv)
    assert "example.com" in argv and "-d" in argv

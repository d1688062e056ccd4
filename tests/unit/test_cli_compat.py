"""bncert-tool's own options (`--mode unattended`, 0/1 booleans, option files) become an `apply`."""

from pathlib import Path

import pytest

from bncert_tui.cli import build_parser, read_option_file, translate_bncert_args
from bncert_tui.core.errors import InputError


def parse(argv: list[str]):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(translate_bncert_args(argv))


def test_unattended_defaults_follow_bncert() -> None:
    args = parse(["--mode", "unattended", "--domains", "example.com www.example.com",
                  "--email", "a@example.com", "--accept_tos", "1"])
    assert args.command == "apply"
    assert args.domain == ["example.com", "www.example.com"]
    assert args.accept_tos is True
    assert args.https_redirect is True
    assert args.www_redirect is None  # decided later: to-www because both forms are given


def test_booleans_and_staging_and_dry_run() -> None:
    args = parse(["--mode=unattended", "--domains=a.com,b.com", "--email=x@a.com", "--accept_tos=1",
                  "--enable_https_redirection=0", "--enable_www_to_nonwww_redirection", "1",
                  "--use_staging", "1", "--dry_run", "1", "--installdir", "/srv/bitnami"])
    assert args.domain == ["a.com", "b.com"]
    assert args.https_redirect is False
    assert args.www_redirect == "to-nonwww"
    assert args.staging is True and args.dry_run is True
    assert args.installdir == "/srv/bitnami"


def test_nonwww_to_www_off_means_none() -> None:
    args = parse(["--domains", "a.com www.a.com", "--enable_nonwww_to_www_redirection", "0"])
    assert args.www_redirect == "none"


def test_both_www_redirections_refused() -> None:
    with pytest.raises(InputError, match="Both www redirections"):
        translate_bncert_args(["--domains", "a.com", "--enable_nonwww_to_www_redirection", "1",
                               "--enable_www_to_nonwww_redirection", "1"])


@pytest.mark.parametrize(("argv", "message"), [
    (["--accept_tos", "yes"], "must be 0 or 1"),
    (["--bogus", "1"], "Unknown option --bogus"),
    (["--mode", "gui"], "Unsupported --mode"),
    (["--email"], "needs a value"),
])
def test_bad_options_named(argv: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        translate_bncert_args(argv)


def test_option_file(tmp_path: Path) -> None:
    opts = tmp_path / "bncert.opts"
    opts.write_text("# answers\nmode=unattended\ndomains=example.com www.example.com\n"
                    "email=a@example.com\naccept_tos=1\n\nenable_https_redirection=1\n")
    args = parse(["--optionfile", str(opts), "--email", "override@example.com"])
    assert args.domain == ["example.com", "www.example.com"]
    assert args.email == "override@example.com"  # the command line wins over the file
    assert args.accept_tos is True


def test_option_file_errors_name_the_line(tmp_path: Path) -> None:
    opts = tmp_path / "bad.opts"
    opts.write_text("domains=a.com\nrm -rf /\n")
    with pytest.raises(InputError, match=r"bad.opts:2"):
        read_option_file(opts)
    with pytest.raises(InputError, match="Cannot read option file"):
        read_option_file(tmp_path / "missing")


def test_shared_options_alone_open_the_wizard() -> None:
    from bncert_tui.cli import is_bncert_style

    assert not is_bncert_style(["--installdir", "/srv/bitnami", "--server", "https://ca.test/dir"])
    assert is_bncert_style(["--installdir", "/srv/bitnami", "--mode", "unattended"])
    assert is_bncert_style(["--domains=a.com"])

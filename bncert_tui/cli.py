"""Command line: `apply`, `renew`, `status`, `revert`, `demo`, bncert-tool's `--mode unattended` options,
and the wizard when no command is given. Imports stay lazy so `--help` and cron runs start fast and
never load Textual."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from bncert_tui import __version__

COMMANDS = ("apply", "renew", "status", "revert", "remove", "demo", "wizard")
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


def _add_global(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("global options")
    group.add_argument("--installdir", default="/opt/bitnami", help="Bitnami install dir (default /opt/bitnami)")
    server = group.add_mutually_exclusive_group()
    server.add_argument("--server", help="ACME directory URL (default: Let's Encrypt production)")
    server.add_argument("--staging", action="store_true", help="use Let's Encrypt's staging CA")
    group.add_argument("--lego", help="lego binary (default DIR/letsencrypt/lego, else lego on PATH)")
    group.add_argument("--cron-file", default="/etc/cron.d/bncert-tui", help="cron.d file for renewals")
    group.add_argument("--crontab-dir", default="/var/spool/cron/crontabs",
                       help="user crontabs to search for bncert-tool's renewal line")
    group.add_argument("--cron-d-dir", default="/etc/cron.d", help="system cron dir to search likewise")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bncert-tui",
        description="Free HTTPS for a Bitnami VM's nginx or Apache: Let's Encrypt certificates via lego, "
                    "redirections, and a randomized renewal schedule. Without a command: the wizard.")
    parser.add_argument("--version", action="version", version=f"bncert-tui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    apply = sub.add_parser("apply", help="obtain a certificate and configure HTTPS (unattended)")
    _add_global(apply)
    apply.add_argument("--domain", "-d", action="append", default=[], metavar="D",
                       help="domain to include (repeatable; the first names the certificate)")
    apply.add_argument("--email", "-m", default="", help="contact email for the Let's Encrypt account")
    apply.add_argument("--accept-tos", action="store_true",
                       help="accept the Let's Encrypt Subscriber Agreement (https://letsencrypt.org/repository/)")
    redirect = apply.add_mutually_exclusive_group()
    redirect.add_argument("--https-redirect", dest="https_redirect", action="store_true", default=True,
                          help="redirect HTTP to HTTPS (default)")
    redirect.add_argument("--no-https-redirect", dest="https_redirect", action="store_false")
    apply.add_argument("--www-redirect", choices=["to-www", "to-nonwww", "none"], default=None,
                       help="www redirection (default: to-www when both forms are given, else none)")
    apply.add_argument("--new-schedule", action="store_true", help="draw a new random renewal time")
    apply.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    apply.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    renew = sub.add_parser("renew", help="renew managed certificates that are due (what cron runs)")
    _add_global(renew)
    renew.add_argument("--cert", help="only this certificate (its name: the first domain)")
    renew.add_argument("--force", action="store_true", help="renew now whatever the window says")
    renew.add_argument("--no-random-sleep", action="store_true",
                       help="skip lego's random 0-8 min wait (cron runs keep it; a terminal or --force "
                            "never waits; BNCERT_TUI_NO_RANDOM_SLEEP=1 does the same)")
    renew.add_argument("--json", action="store_true")

    status = sub.add_parser("status", help="show each certificate's health; non-zero exit when one needs attention")
    _add_global(status)
    status.add_argument("--json", action="store_true")

    remove = sub.add_parser("remove", help="stop managing one certificate: its cron entry, state and "
                                           "config blocks go, its files and the other sites stay")
    _add_global(remove)
    remove.add_argument("--cert", required=True, help="the certificate's name (its first domain)")
    remove.add_argument("--json", action="store_true")

    revert = sub.add_parser("revert", help="put every changed file back as it was before the first apply")
    _add_global(revert)
    revert.add_argument("--json", action="store_true")

    demo = sub.add_parser("demo", help="run the real flow against a throw-away local sandbox")
    demo.add_argument("--web-server", choices=["nginx", "apache"], default="nginx")
    demo.add_argument("--unattended", action="store_true", help="run `apply` instead of the wizard")

    wizard = sub.add_parser("wizard", help="the interactive wizard (also the default)")
    _add_global(wizard)
    return parser


# --- bncert-tool compatibility --------------------------------------------------------------------
BNCERT_OPTIONS = {"installdir", "domains", "email", "accept_tos", "enable_https_redirection",
                  "enable_nonwww_to_www_redirection", "enable_www_to_nonwww_redirection",
                  "use_staging", "dry_run", "mode", "optionfile", "server_name", "configure_server_name",
                  "perform_public_ip_validation", "perform_dns_validation", "manage_services",
                  "configure_cron", "debuglevel"}


def translate_bncert_args(argv: list[str]) -> list[str]:
    """bncert-tool's `--name value` / `--name=value` options and `--optionfile` to an `apply` argv."""
    from bncert_tui.core.errors import InputError

    values: dict[str, str] = {}
    passthrough: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--"):
            raise InputError(f"Unexpected argument {arg!r}")
        name, eq, value = arg[2:].partition("=")
        if name.replace("-", "_") not in BNCERT_OPTIONS:
            if name in ("server", "lego", "cron-file", "crontab-dir", "cron-d-dir", "json", "staging"):
                passthrough.append(arg)
                if name in ("server", "lego", "cron-file", "crontab-dir", "cron-d-dir") and not eq:
                    i += 1
                    passthrough.append(argv[i] if i < len(argv) else "")
                i += 1
                continue
            raise InputError(f"Unknown option --{name}", hint="See bncert-tui --help.")
        if not eq:
            i += 1
            if i >= len(argv):
                raise InputError(f"Option --{name} needs a value")
            value = argv[i]
        values[name.replace("-", "_")] = value
        i += 1
    if "optionfile" in values:
        for key, val in read_option_file(Path(values.pop("optionfile"))).items():
            values.setdefault(key, val)
    mode = values.pop("mode", "unattended")
    if mode not in ("unattended", "text", "interactive"):
        raise InputError(f"Unsupported --mode {mode!r}: use unattended")

    def flag(key: str, default: bool) -> bool:
        raw = values.get(key)
        if raw is None:
            return default
        if raw not in ("0", "1"):
            raise InputError(f"--{key} must be 0 or 1, not {raw!r}")
        return raw == "1"

    out = ["apply"]
    if "installdir" in values:
        out += ["--installdir", values["installdir"]]
    from bncert_tui.core.validation import split_domains

    for domain in split_domains(values.get("domains", "")):
        out += ["--domain", domain]
    if "email" in values:
        out += ["--email", values["email"]]
    if flag("accept_tos", False):
        out.append("--accept-tos")
    out.append("--https-redirect" if flag("enable_https_redirection", True) else "--no-https-redirect")
    to_www, to_nonwww = values.get("enable_nonwww_to_www_redirection"), values.get("enable_www_to_nonwww_redirection")
    if flag("enable_www_to_nonwww_redirection", False):
        if flag("enable_nonwww_to_www_redirection", False) and to_www is not None:
            raise InputError("Both www redirections were enabled; choose one")
        out += ["--www-redirect", "to-nonwww"]
    elif to_www is not None:
        out += ["--www-redirect", "to-www" if flag("enable_nonwww_to_www_redirection", True) else "none"]
    elif to_nonwww is not None:
        pass  # default applies
    if flag("use_staging", False):
        out.append("--staging")
    if flag("dry_run", False):
        out.append("--dry-run")
    return out + passthrough


def is_bncert_style(argv: list[str]) -> bool:
    """bncert-tool's options without a command: `--mode`, `--domains`, `--accept_tos`... but not the
    options both tools share (`--installdir` alone still opens the wizard on that dir)."""
    names = {a.lstrip("-").split("=")[0].replace("-", "_") for a in argv if a.startswith("--")}
    return bool(names & (BNCERT_OPTIONS - {"installdir"}))


def read_option_file(path: Path) -> dict[str, str]:
    """bncert-tool option files: `name=value` lines; `#` comments and blank lines ignored."""
    from bncert_tui.core.errors import InputError

    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"Cannot read option file {path}: {exc.strerror}") from None
    values = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        name = name.strip().replace("-", "_")
        if not eq or name not in BNCERT_OPTIONS or name == "optionfile":
            raise InputError(f"{path}:{number}: not a known `name=value` option: {line!r}")
        values[name] = value.strip()
    return values


# --- running commands -----------------------------------------------------------------------------
class SignalCancel:
    """SIGINT/SIGTERM/SIGHUP cancel the running engine instead of killing it, so it rolls back."""

    def __init__(self, cancel: Callable[[], None]) -> None:
        self.cancel = cancel
        self.received: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> SignalCancel:
        for sig in EXIT_SIGNAL:
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        self.cancel()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class SignalInterrupt(KeyboardInterrupt):
    """SIGTERM/SIGHUP turned into an exception, so a short command unwinds and rolls back like Ctrl+C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class RaiseOnSignals:
    """For commands without a cancellable engine (remove, revert): SIGINT/SIGTERM/SIGHUP raise
    SignalInterrupt where the command is, and its own rollback (except BaseException) runs."""

    def __init__(self) -> None:
        self._old: dict[int, Any] = {}

    def __enter__(self) -> RaiseOnSignals:
        for sig in EXIT_SIGNAL:
            self._old[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise SignalInterrupt(signum)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def global_options(args: argparse.Namespace) -> Any:
    from bncert_tui.core.lego import LETS_ENCRYPT, LETS_ENCRYPT_STAGING
    from bncert_tui.core.options import GlobalOptions
    from bncert_tui.core.paths import check_installdir, check_safe, check_server_url

    server = check_server_url(args.server or (LETS_ENCRYPT_STAGING if args.staging else LETS_ENCRYPT))
    check_safe("cron file path", args.cron_file)
    if args.lego:
        check_safe("lego path", args.lego)
    extra = {k: v for k, v in os.environ.items() if k in ("LEGO_CA_CERTIFICATES", "LEGO_CA_SERVER_NAME")}
    return GlobalOptions(installdir=check_installdir(args.installdir), server=server,
                         cron_file=Path(args.cron_file).absolute(), lego=args.lego, extra_env=extra,
                         crontab_dir=Path(args.crontab_dir).absolute(), cron_d_dir=Path(args.cron_d_dir).absolute())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from bncert_tui.core.errors import BncertError

    try:
        if argv and argv[0] not in COMMANDS and is_bncert_style(argv):
            argv = translate_bncert_args(argv)
        parser = build_parser()
        if not argv or (argv[0].startswith("--") and argv[0] not in ("--help", "-h", "--version")):
            argv = ["wizard", *argv]
        args = parser.parse_args(argv)
        from bncert_tui import commands

        handler = getattr(commands, f"cmd_{args.command}")
        return int(handler(args))
    except SignalInterrupt as exc:  # remove/revert: their own rollback already ran
        print(f"Interrupted ({signal.Signals(exc.signum).name}): the change in progress was rolled back.",
              file=sys.stderr)
        return EXIT_SIGNAL.get(signal.Signals(exc.signum), 130)
    except KeyboardInterrupt:  # Ctrl-C before the engine started (planning changes nothing)
        print("Interrupted (SIGINT) before any change was made.", file=sys.stderr)
        return 130
    except BncertError as exc:
        if getattr(exc, "json", False) or "--json" in argv:
            print(json.dumps({"ok": False, "error": exc.title, "detail": exc.detail, "hint": exc.hint,
                              "exit_code": exc.exit_code}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code

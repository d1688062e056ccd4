"""The command handlers behind the CLI: thin glue from argparse to the core, and plain-text output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bncert_tui.cli import EXIT_SIGNAL, RaiseOnSignals, SignalCancel, global_options
from bncert_tui.core.events import APPLY_STEPS, Cancelled, StepState


class TextReporter:
    """Steps and lego lines as plain lines (stderr in --json mode, so stdout holds only the JSON)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.titles = dict(APPLY_STEPS)

    def step(self, key: str, state: StepState, detail: str = "") -> None:
        if state == "running" and not detail:
            return
        mark = {"running": "..", "done": "ok", "failed": "FAILED", "skipped": "--", "waiting": "  "}[state]
        title = self.titles.get(key, key)
        print(f"[{mark:>6}] {title}" + (f": {detail}" if detail else ""), file=self.stream, flush=True)

    def line(self, text: str) -> None:
        print(f"         {text}", file=self.stream, flush=True)


def signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def cmd_apply(args: argparse.Namespace) -> int:
    from bncert_tui.core.apply import execute
    from bncert_tui.core.lego import ProcessSlot
    from bncert_tui.core.plan import Answers, build_plan

    options = global_options(args)
    if not args.dry_run:  # undo a run killed mid-way (SIGKILL) before planning on its leftovers
        from bncert_tui.core.revert import recover_interrupted

        recover_interrupted(options, lambda text: print(text, file=sys.stderr))
    answers = Answers(domains=args.domain, email=args.email, accept_tos=args.accept_tos,
                      https_redirect=args.https_redirect, www_redirect=args.www_redirect,
                      new_schedule=args.new_schedule)
    plan = build_plan(options, answers)
    out = sys.stderr if args.json else sys.stdout
    print(f"{plan.stack.kind} {plan.stack.version} in {options.installdir}; HTTP port {plan.http_port}, "
          f"HTTPS port {plan.https_port}; {plan.caps.describe()}", file=out)
    if plan.suggestions:
        print(f"Note: not included (add them with --domain if wanted): {', '.join(plan.suggestions)}",
              file=out)
    print("Changes to perform:", file=out)
    for number, item in enumerate(plan.changes(), 1):
        print(f"  {number}. {item}", file=out)
    print(f"Renewal entry ({'new random time' if plan.schedule_is_new else 'kept'}):\n  {plan.cron_line}",
          file=out)
    if args.dry_run:
        for change in plan.file_changes():
            print(change.diff(), file=out)
        if args.json:
            print(json.dumps({"ok": True, "dry_run": True, **plan.to_dict()}))
        return 0
    slot = ProcessSlot()
    with SignalCancel(slot.cancel) as signals:
        try:
            result = execute(plan, TextReporter(out), slot)
        except (Cancelled, KeyboardInterrupt) as exc:
            code = EXIT_SIGNAL.get(signals.received or 2, 130)  # type: ignore[call-overload]
            cause = signal_name(signals.received) if signals.received else str(exc)
            message = f"Interrupted ({cause}): every change was rolled back; the server serves as before."
            if args.json:
                print(json.dumps({"ok": False, "error": message, "exit_code": code}))
            print(message, file=sys.stderr)
            return code
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        cert = result.certificate
        print(f"Success: {', '.join(plan.domains)} served over HTTPS on port {plan.https_port}.")
        if cert:
            print(f"Certificate {plan.site.cert_file} valid until {cert.not_after:%Y-%m-%d %H:%M} UTC "
                  f"(serial {cert.serial}).")
        print(f"Renewal: {plan.schedule.describe()} ({options.cron_file}).")
        print(f"Backups: {result.backup_dir}\nLog: {result.log_path}")
    return 0


def cmd_renew(args: argparse.Namespace) -> int:
    from bncert_tui.core.lego import ProcessSlot
    from bncert_tui.core.renew import renew_all

    options = global_options(args)
    from bncert_tui.core.revert import recover_interrupted

    recover_interrupted(options, lambda text: print(text, file=sys.stderr))
    interactive = sys.stdout.isatty()
    out = sys.stderr if args.json else sys.stdout
    slot = ProcessSlot()
    with SignalCancel(slot.cancel) as signals:
        try:
            outcomes = renew_all(options, only=args.cert, force=args.force, interactive=interactive,
                                 no_random_sleep=args.no_random_sleep,
                                 on_line=(lambda line: print(line, file=out, flush=True))
                                 if interactive else None,
                                 slot=slot)
        except (Cancelled, KeyboardInterrupt):
            print(f"Interrupted ({signal_name(signals.received or 2)}): nothing was left half-done.",
                  file=sys.stderr)
            return EXIT_SIGNAL.get(signals.received or 2, 130)  # type: ignore[call-overload]
    failed = [o for o in outcomes if o.outcome == "failed"]
    if args.json:
        print(json.dumps({"ok": not failed, "certificates": [o.to_dict() for o in outcomes]}))
    else:
        for o in outcomes:
            if interactive or o.outcome in ("failed", "renewed", "reloaded"):
                print(f"{o.name}: {o.outcome}" + (f" — {o.message}" if o.message else ""), file=out)
    return 1 if failed else 0


def cmd_status(args: argparse.Namespace) -> int:
    from bncert_tui.core.status import collect_status, format_status

    options = global_options(args)
    report = collect_status(options)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_status(report))
    return 0 if report.healthy else 1


def cmd_remove(args: argparse.Namespace) -> int:
    from bncert_tui.core.remove import remove_certificate

    options = global_options(args)
    with RaiseOnSignals():
        result = remove_certificate(options, args.cert)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(f"Removed {result.name}: its renewal entry and state are gone"
          + (f"; {len(result.changed_files)} config file(s) rewritten without it." if result.changed_files
             else "; no config change was needed."))
    for path in result.kept_files:
        print(f"  kept {path}")
    if result.still_used_by:
        print("Note: still used by " + ", ".join(map(str, result.still_used_by))
              + " (no longer renewed: point it at another certificate).")
    return 0


def cmd_revert(args: argparse.Namespace) -> int:
    from bncert_tui.core.revert import revert

    options = global_options(args)
    with RaiseOnSignals():
        restored = revert(options)
    if args.json:
        print(json.dumps({"ok": True, "restored": [str(p) for p in restored]}))
    else:
        print(f"Reverted: {len(restored)} file(s) restored to what they were before the first apply.")
        for path in restored:
            print(f"  {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bncert_tui.demo import run_demo

    return run_demo(args.web_server, unattended=args.unattended)


def cmd_wizard(args: argparse.Namespace) -> int:
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        print("The wizard needs a terminal. For scripts use `bncert-tui apply ...` "
              "(see bncert-tui apply --help).", file=sys.stderr)
        return 2
    from bncert_tui.ui.app import run_wizard

    return run_wizard(global_options(args))

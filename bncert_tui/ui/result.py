"""Result: success or failure in plain words. On failure the cause, what was rolled back and the next
thing to try; on success the names, expiry, next renewal check, and the backup and log paths."""

from __future__ import annotations

from datetime import datetime

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from bncert_tui.core.apply import ApplyResult
from bncert_tui.core.errors import BncertError
from bncert_tui.core.plan import Plan
from bncert_tui.ui.common import fields_table, step_title
from bncert_tui.ui.run import RunOutcome


def _summary(headline: str, style: str, rows: list[tuple[str, RenderableType]]) -> Group:
    return Group(Text(headline, style), Text(""), fields_table(rows))


def apply_summary(plan: Plan, outcome: RunOutcome, now: datetime) -> tuple[bool, RenderableType]:
    """The words for the Result screen after `apply`."""
    logs = str(plan.options.paths.logs)
    if outcome.cancelled:
        return False, _summary("Cancelled. Nothing changed: every file was restored and the server was "
                               "reloaded with its previous configuration.", "bold yellow",
                               [("Next", "Run the wizard again whenever you are ready."), ("Logs", logs)])
    error = outcome.error
    if error is not None:
        title = error.title if isinstance(error, BncertError) else f"{type(error).__name__}: {error}"
        step = outcome.steps.get(outcome.failed_step)
        detail = error.detail if isinstance(error, BncertError) else ""
        rolled = [line for line in detail.splitlines() if line.startswith("Rolled back")]
        cause = "\n".join(line for line in detail.splitlines() if not line.startswith("Rolled back"))
        rows: list[tuple[str, RenderableType]] = [
            ("Failed at", step.title if step else (outcome.failed_step or "-")), ("Cause", title)]
        if cause.strip():
            rows.append(("", Text(cause.strip()[-800:], "dim")))
        rows.append(("Rolled back", rolled[0].removeprefix("Rolled back: ") if rolled else
                     "every file this run changed was restored"))
        hint = error.hint if isinstance(error, BncertError) else ""
        rows.append(("Next", hint or "Read the output on the Run screen and the log, then try again."))
        rows.append(("Logs", logs))
        return False, _summary("It did not work; nothing was left half-done.", "bold red", rows)
    result: ApplyResult = outcome.result
    cert = result.certificate
    port = "" if plan.https_port == 443 else f":{plan.https_port}"
    rows = [("Names", ", ".join(plan.domains))]
    if cert is not None:
        rows.append(("Expires", f"{cert.not_after:%Y-%m-%d %H:%M} UTC ({cert.days_left(now):.0f} days left)"))
        rows.append(("Certificate", "kept (still valid)" if result.cert_action == "keep"
                     else f"new, serial {cert.serial}"))
    rows.append(("Files", str(plan.site.cert_file)))
    next_run = plan.schedule.next_runs(1, now)[0]
    rows.append(("Next check", f"{next_run:%Y-%m-%d %H:%M:%S %Z} ({plan.schedule.describe()})"))
    rows += [("Cron file", str(plan.options.cron_file)), ("Backups", str(result.backup_dir or "-")),
             ("Log", str(result.log_path or "-"))]
    return True, _summary(f"Done. https://{plan.server_name}{port}/ is served with the new certificate.",
                          "bold green", rows)


def renew_summary(outcome: RunOutcome) -> tuple[bool, Text]:
    text = Text()
    if outcome.cancelled:
        text.append("Cancelled: lego was stopped; the certificates in place are untouched.", "bold yellow")
        return False, text
    if outcome.error is not None:
        text.append("The renewal could not run.\n\n", "bold red")
        text.append(str(outcome.error))
        return False, text
    results = outcome.result or []
    failed = [r for r in results if r.outcome == "failed"]
    if failed:
        text.append("Some renewals failed; the old certificates are still served.\n\n", "bold red")
    else:
        text.append("Renewal finished.\n\n", "bold green")
    for item in results:
        text.append(f"{item.name}: ", "bold")
        text.append(item.outcome, "red" if item.outcome == "failed" else "green")
        if item.message:
            text.append(f" — {item.message}")
        text.append("\n")
    text.rstrip()
    return not failed, text


class ResultScreen(Screen[str]):
    """Returns "start" (back to the Start screen) or "quit"."""

    BINDINGS = [Binding("enter", "choose('start')", "Start screen"),
                Binding("q", "choose('quit')", "Quit")]

    def __init__(self, ok: bool, body: RenderableType, *, title: str = "Result") -> None:
        super().__init__()
        self.ok = ok
        self.body = body
        self.result_title = title

    def compose(self) -> ComposeResult:
        yield step_title(self.result_title)
        with VerticalScroll(classes="body"):
            yield Static(self.body, id="result", classes="panel " + ("success" if self.ok else "failure"))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#result").border_title = "Success" if self.ok else "Not done"
        self.query_one(VerticalScroll).focus()

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

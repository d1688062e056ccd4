"""Start: what was detected, the certificates already managed, the problems with what to do, and the
actions. Detection runs commands (config test, lego --help), so it runs in a thread after the first
paint: the screen appears at once and fills in."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from bncert_tui.ui.common import fields_table, step_title

if TYPE_CHECKING:
    from bncert_tui.core.overview import Overview
    from bncert_tui.core.status import CertStatus

#: action, key, footer label, option text
ACTIONS: list[tuple[str, str, str, str]] = [
    ("new", "n", "New", "New certificate"),
    ("change", "c", "Change", "Change domains or redirects of a managed certificate"),
    ("renew", "r", "Renew", "Renew now"),
    ("revert", "v", "Revert", "Revert: put every changed file back as it was"),
    ("quit", "q", "Quit", "Quit"),
]
NEEDS_MANAGED = {"change", "renew", "revert"}


def describe_overview(view: Overview) -> Table:
    """The detection summary as Rich renderables (never markup: paths may hold brackets)."""
    rows: list[tuple[str, RenderableType]] = []
    stack = view.stack
    if stack is not None:
        ports = f"HTTP {stack.ports.http or '-'}, HTTPS {stack.ports.https or '-'}"
        rows.append(("Web server", f"{stack.kind} {stack.version} in {view.options.installdir} ({ports})"))
        config = Text.assemble(
            ("test passes", "green") if view.config_ok else ("test FAILS", "bold red"), " · ",
            ("running", "green") if view.running else ("NOT running", "bold red"))
        if stack.server_names:
            config.append(f" · names: {', '.join(stack.server_names[:4])}")
        rows.append(("Config", config))
    else:
        rows.append(("Web server", Text(f"not detected in {view.options.installdir}", "bold red")))
    rows.append(("lego", f"{view.lego_path} ({view.lego.describe()})" if view.lego is not None
                 else Text("not found", "bold red")))
    rows.append(("CA", view.options.server))
    return fields_table(rows)


def describe_cert(cert: CertStatus) -> Text:
    text = Text()
    verdict_style = "green" if cert.ok else "bold red"
    text.append(f"{cert.name} ", "bold")
    text.append(f"[{cert.verdict}]", verdict_style)
    text.append(f" {', '.join(cert.domains)}\n")
    if cert.not_after:
        text.append(f"  expires {cert.not_after[:10]} ({cert.days_left:.0f} days left)")
    else:
        text.append(f"  {cert.detail}")
    if cert.schedule:
        text.append(f" · renewal {cert.schedule.removeprefix('every day at ')}")
    text.append("\n")
    if cert.last_run:
        run = cert.last_run
        text.append(f"  last renewal: {str(run.get('time', ''))[:16]} {run.get('outcome', '')}")
        message = str(run.get("message", ""))
        if message:
            text.append(f" — {message}")
        text.append("\n")
    if cert.detail and not cert.ok and cert.not_after:
        text.append(f"  problem: {cert.detail}\n", "red")
    return text


class StartScreen(Screen[str]):
    """Returns one of "new", "change", "renew", "revert", "quit"."""

    BINDINGS = [Binding(key, f"choose('{action}')", label) for action, key, label, _ in ACTIONS]

    def __init__(self, overview: Overview | None, loader: Callable[[], Overview],
                 remember: Callable[[Overview], None]) -> None:
        super().__init__()
        self.overview = overview
        self.loader = loader
        self.remember = remember

    def compose(self) -> ComposeResult:
        yield step_title("Start")
        with VerticalScroll(id="start-info"):
            yield Static("Detecting the web server and lego…", id="detected", classes="panel")
            yield Static(id="managed", classes="panel")
            yield Static(id="legacy", classes="panel")
            yield Static(id="problems", classes="panel")
        yield OptionList(id="actions")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detected").border_title = "Detected"
        self.query_one("#managed").border_title = "Certificates managed here"
        self.query_one("#problems").border_title = "Problems found"
        self.query_one("#legacy").border_title = "bncert-tool's setup found here"
        self.query_one("#legacy").display = False
        self.query_one("#actions").border_title = "What do you want to do?"
        self.query_one("#managed").display = False
        self.query_one("#problems").display = False
        self.query_one(OptionList).focus()
        if self.overview is None:
            self._fill_actions(None)
            # Let the first frame reach the terminal before the detection thread imports the core and
            # runs commands (it competes for the GIL with the writer thread).
            self.set_timer(0.1, self.load)
        else:
            self.show(self.overview)

    @work(thread=True, exclusive=True, exit_on_error=False)
    def load(self) -> None:
        view = self.loader()
        self.app.call_from_thread(self.show, view)

    def show(self, view: Overview) -> None:
        self.overview = view
        self.remember(view)
        self.query_one("#detected", Static).update(describe_overview(view))
        managed = self.query_one("#managed", Static)
        certs = view.status.certificates if view.status else []
        managed.display = bool(certs)
        if certs:
            text = Text()
            for cert in certs:
                text.append_text(describe_cert(cert))
            text.rstrip()
            managed.update(text)
        legacy = self.query_one("#legacy", Static)
        lines = view.legacy_lines
        legacy.display = bool(lines)
        if lines:
            text = Text()
            text.append(lines[0], "bold")
            for line in lines[1:]:
                text.append(f"\n• {line}")
            legacy.update(text)
        problems = self.query_one("#problems", Static)
        problems.display = bool(view.problems)
        if view.problems:
            text = Text()
            for problem in view.problems:
                text.append("✗ ", "bold red")
                text.append(problem.title + "\n", "bold")
                text.append(f"  What to do: {problem.hint}\n")
            text.rstrip()
            problems.update(text)
        self._fill_actions(view)

    def _fill_actions(self, view: Overview | None) -> None:
        managed = bool(view and view.managed_names)
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        for action, key, _, label in ACTIONS:
            disabled = (view is None and action != "quit") or (action in NEEDS_MANAGED and not managed)
            options.add_option(Option(Text.assemble((f"{key} ", "bold"), label), id=action,
                                      disabled=disabled))
        options.highlighted = highlighted if highlighted is not None else 0
        if view is not None and managed and view.ready:
            options.highlighted = 1 if highlighted is None else highlighted

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.action_choose(event.option.id)

    def action_choose(self, action: str) -> None:
        options = self.query_one(OptionList)
        try:
            option = options.get_option(action)
        except Exception:
            return
        if option.disabled:
            if action in NEEDS_MANAGED:
                self.notify("No certificate is managed here yet: choose New certificate.",
                            severity="warning")
            return
        self.dismiss(action)

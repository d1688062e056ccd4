"""Review: the numbered list of every change, and each config file's diff one key away. Nothing has been
written yet; confirming here is the only way to the Run screen."""

from __future__ import annotations

from pathlib import Path

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from bncert_tui.core.plan import FileChange, Plan
from bncert_tui.ui.common import Back, StepScreen, fields_table, step_title


def numbered_changes(plan: Plan) -> Table:
    """bncert-tool's numbered list, with wrapped lines indented under their text."""
    rows: list[tuple[str, RenderableType]] = [(f"{n:>2}.", item) for n, item in enumerate(plan.changes(), 1)]
    if plan.suggestions:
        rows.append(("", Text(f"Not included (go back to add them): {', '.join(plan.suggestions)}",
                              "yellow")))
    return fields_table(rows, label_width=3)


def diff_stats(change: FileChange) -> tuple[int, int]:
    added = removed = 0
    for line in change.diff().splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


class DiffScreen(Screen[None]):
    """One file's unified diff, scrollable both ways; Escape closes it."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("q", "close", "Close", show=False)]

    def __init__(self, change: FileChange) -> None:
        super().__init__()
        self.change = change

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble((" Diff ", "bold"), str(self.change.path)), classes="step-title")
        with ScrollableContainer(id="diff-view"):
            yield Static(Syntax(self.change.diff() or "(no change)", "diff", theme="ansi_dark",
                                word_wrap=False), id="diff")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#diff-view").focus()

    def action_close(self) -> None:
        self.dismiss(None)


class ReviewScreen(StepScreen[bool | Back]):
    """Returns True when the user confirms; nothing was changed before that."""

    BINDINGS = [Binding("d", "diff", "View diff")]

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.changes = plan.file_changes()

    def compose(self) -> ComposeResult:
        yield step_title("Review")
        with VerticalScroll(id="review-body", classes="body"):
            yield Static(numbered_changes(self.plan), id="changes", classes="panel")
        files = OptionList(id="files")
        for index, change in enumerate(self.changes):
            added, removed = diff_stats(change)
            files.add_option(Option(Text.assemble(self.short(change.path),
                                                  (f"  +{added} -{removed}", "dim")), id=str(index)))
        yield files
        yield self.nav_buttons("Apply these changes")
        yield Footer()

    def short(self, path: Path) -> str:
        """Paths under the install dir without it: long temp or custom dirs still fit 80 columns."""
        installdir = self.plan.options.installdir
        return str(path.relative_to(installdir)) if path.is_relative_to(installdir) else str(path)

    def on_mount(self) -> None:
        self.query_one("#changes").border_title = "Changes to perform"
        files = self.query_one("#files", OptionList)
        files.border_title = "Files that change, under the install dir (enter: view the diff)"
        files.display = bool(self.changes)
        self.query_one("#next").focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.app.push_screen(DiffScreen(self.changes[int(event.option.id or 0)]))

    def action_diff(self) -> None:
        if not self.changes:
            self.notify("No configuration file changes.")
            return
        highlighted = self.query_one("#files", OptionList).highlighted or 0
        self.app.push_screen(DiffScreen(self.changes[highlighted]))

    def action_next(self) -> None:
        self.dismiss(True)

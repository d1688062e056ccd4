"""Pieces every wizard screen shares: the Back sentinel, the step header, and the two modals.

Screens return a value with `dismiss`; Escape returns `BACK` so the wizard coroutine steps back. The
modals are small on purpose: a yes/no question and an error with its cause and what to do.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Static

from bncert_tui.core.errors import BncertError

ResultT = TypeVar("ResultT")

WIZARD_STEPS = ("Domains", "Redirections", "Account", "Schedule", "Review", "Run")


def fields_table(rows: list[tuple[str, RenderableType]], label_width: int = 12) -> Table:
    """Label/value rows whose values wrap with a hanging indent (long paths stay readable)."""
    table = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
    table.add_column(width=label_width, style="bold", no_wrap=True)
    table.add_column(ratio=1, overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


class Back:
    """Returned by a step when the user pressed Escape: the wizard goes one step back.

    `partial` holds what the user had entered on that step, so coming forward again keeps it.
    """

    def __init__(self, partial: object = None) -> None:
        self.partial = partial

    def __repr__(self) -> str:
        return f"Back({self.partial!r})"


BACK = Back()


def step_title(name: str) -> Static:
    """The one-line header: where the user is in the wizard ("Step 2 of 6 · Redirections")."""
    number = WIZARD_STEPS.index(name) + 1 if name in WIZARD_STEPS else 0
    text = Text()
    text.append(" bncert-tui ", style="bold")
    if number:
        text.append(f" Step {number} of {len(WIZARD_STEPS)} · ", style="dim")
    text.append(name, style="bold")
    return Static(text, classes="step-title")


class StepScreen(Screen[ResultT], Generic[ResultT]):
    """A wizard step: Escape goes back, Ctrl+N (or the Next button) goes on."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "next", "Next", priority=True),
    ]

    def action_back(self) -> None:
        self.dismiss(Back(self.partial()))  # type: ignore[arg-type]

    def partial(self) -> object:
        """What to keep of this step's answers when the user goes back (None: nothing)."""
        return None

    def action_next(self) -> None:  # pragma: no cover - every step overrides it
        raise NotImplementedError

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            event.stop()
            self.action_next()
        elif event.button.id == "back":
            event.stop()
            self.action_back()

    def nav_buttons(self, next_label: str = "Next") -> Horizontal:
        return Horizontal(Button("Back", id="back", compact=True),
                          Button(next_label, id="next", variant="primary", compact=True), classes="nav")

    def setup_inputs(self) -> None:
        """No blinking cursor when the app asks (snapshots must be stable)."""
        blink = bool(getattr(self.app, "cursor_blink", True))
        for field in self.query(Input):
            field.cursor_blink = blink


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question: y/Enter on Yes confirms, n/Escape declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, detail: str = "", *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question, style="bold"), classes="dialog-title")
            if self.detail:
                yield Static(Text(self.detail), classes="dialog-detail")
            with Horizontal(classes="nav"):
                yield Button(f"{self.no_label} (n)", id="no")
                yield Button(f"{self.yes_label} (y)", id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")


class ErrorModal(ModalScreen[None]):
    """An error as the core raised it: title, cause, and what to do next. Any of Enter/Escape closes."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("enter", "close", "Close", show=False)]

    def __init__(self, title: str, detail: str = "", hint: str = "") -> None:
        super().__init__()
        self.error_title = title
        self.detail = detail
        self.hint = hint

    @classmethod
    def from_error(cls, exc: BaseException) -> ErrorModal:
        if isinstance(exc, BncertError):
            return cls(exc.title, exc.detail, exc.hint)
        return cls(f"Unexpected error: {type(exc).__name__}", str(exc))

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error"):
            yield Static(Text(self.error_title, style="bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                if self.detail:
                    yield Static(Text(self.detail), classes="dialog-detail")
                if self.hint:
                    yield Static(Text.assemble(("What to do: ", "bold"), self.hint), classes="hint")
            with Horizontal(classes="nav"):
                yield Button("Close (esc)", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

"""Run: the steps with their state and elapsed time, and lego's output streaming live into a `Log`.

The engine runs in a thread worker and reports into a deque (never blocking on the UI); a timer drains it
twenty times a second and writes lines in batches, so 100,000 lines do not slow key presses. Ctrl+C asks,
then cancels through the ProcessSlot: lego is stopped and the engine rolls every file back.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from bncert_tui.core.events import Cancelled, StepState
from bncert_tui.core.lego import ProcessSlot
from bncert_tui.ui.common import ConfirmModal, step_title

LOG_MAX_LINES = 5_000
DRAIN_INTERVAL = 1 / 20
#: Lines written to the Log per drain: bounds the time one tick holds the event loop.
DRAIN_CHUNK = 1_000
ICONS: dict[str, tuple[str, str]] = {
    "waiting": ("·", "dim"), "running": ("▶", "bold yellow"), "done": ("✓", "bold green"),
    "failed": ("✗", "bold red"), "skipped": ("\u2013", "dim"),
}

Job = Callable[["QueueReporter", ProcessSlot], Any]


class QueueReporter:
    """A core `Reporter` that only appends to a deque: safe and cheap from the worker thread."""

    def __init__(self) -> None:
        self.events: deque[tuple[str, ...]] = deque()

    def step(self, key: str, state: StepState, detail: str = "") -> None:
        self.events.append(("step", key, state, detail))

    def line(self, text: str) -> None:
        self.events.append(("line", text))


@dataclass
class StepRow:
    title: str
    state: StepState = "waiting"
    detail: str = ""
    started: float | None = None
    ended: float | None = None


@dataclass
class RunOutcome:
    """What the job returned, or the error it raised; `cancelled` when the user stopped it."""

    result: Any = None
    error: BaseException | None = None
    cancelled: bool = False
    failed_step: str = ""
    lines: int = 0
    steps: dict[str, StepRow] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled


class RunScreen(Screen[RunOutcome]):
    """Runs `job(reporter, slot)` in a thread and dismisses with a RunOutcome when the user goes on."""

    BINDINGS = [
        Binding("ctrl+c", "cancel", "Cancel (roll back)", priority=True),
        Binding("enter", "continue", "See the result"),
    ]

    def __init__(self, name: str, steps: list[tuple[str, str]], job: Job, *,
                 monotonic: Callable[[], float] = time.monotonic, cancellable: bool = True) -> None:
        super().__init__()
        self.cancellable = cancellable
        self.step_name = name
        self.rows = {key: StepRow(title) for key, title in steps}
        self.job = job
        self.monotonic = monotonic
        self.reporter = QueueReporter()
        self.slot = ProcessSlot()
        self.outcome: RunOutcome | None = None
        self.cancelling = False
        self.lines = 0
        self.pending: deque[str] = deque()
        self.skipped = 0
        self.auto_continue = False

    def compose(self) -> ComposeResult:
        yield step_title(self.step_name)
        yield Static(id="steps")
        yield Static(id="run-status")
        yield Log(max_lines=LOG_MAX_LINES, auto_scroll=True, highlight=False, id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#log").border_title = "Output (lego and checks)"
        self.set_interval(DRAIN_INTERVAL, self.drain)
        self.set_interval(0.5, self.tick)
        self.render_steps()
        status = Text.assemble(("Working… ", "bold"), "the site keeps serving.")
        if self.cancellable:
            status.append(" Ctrl+C cancels and rolls back.")
        self.set_status(status)
        self.start_job()

    @property
    def running(self) -> bool:
        return self.outcome is None

    @work(thread=True, exclusive=True, exit_on_error=False, group="run")
    def start_job(self) -> None:
        outcome = RunOutcome()
        try:
            outcome.result = self.job(self.reporter, self.slot)
        except (Cancelled, KeyboardInterrupt) as exc:
            outcome.cancelled, outcome.error = True, exc
        except BaseException as exc:
            outcome.error = exc
        if self.slot.cancelled and outcome.error is not None:
            outcome.cancelled = True
        self.app.call_from_thread(self.finish, outcome)

    def drain(self, everything: bool = False) -> None:
        """Move what the worker reported onto the screen: steps at once, lines DRAIN_CHUNK at a time.

        When more lines wait than the Log keeps, the older ones are skipped on screen (one line says
        how many; the log file has them all), so a flood never delays key presses.
        """
        events = self.reporter.events
        steps_changed = False
        for _ in range(len(events)):
            event = events.popleft()
            if event[0] == "line":
                self.pending.append(event[1])
            else:
                self._apply_step(event[1], event[2], event[3])  # type: ignore[arg-type]
                steps_changed = True
        if len(self.pending) > LOG_MAX_LINES:
            skipped = len(self.pending) - LOG_MAX_LINES
            for _ in range(skipped):
                self.pending.popleft()
            self.lines += skipped
            self.skipped += skipped
            self.pending.appendleft(f"[... {skipped} lines not shown here; the log file has them all]")
            self.lines -= 1  # the note is not a line of output
        if self.pending:
            size = len(self.pending) if everything else min(DRAIN_CHUNK, len(self.pending))
            chunk = [self.pending.popleft() for _ in range(size)]
            self.lines += len(chunk)
            self.query_one(Log).write_lines(chunk)
        if steps_changed:
            self.render_steps()

    def _apply_step(self, key: str, state: StepState, detail: str) -> None:
        row = self.rows.setdefault(key, StepRow(key))
        now = self.monotonic()
        if state == "running" and row.started is None:
            row.started = now
        elif state in ("done", "failed", "skipped"):
            row.started = row.started if row.started is not None else now
            row.ended = now
        row.state = state
        if detail or state != "running":
            row.detail = detail

    def tick(self) -> None:
        if any(row.state == "running" for row in self.rows.values()):
            self.render_steps()

    def render_steps(self) -> None:
        table = Table(box=None, expand=True, show_header=False, padding=(0, 1, 0, 0))
        table.add_column(width=2, no_wrap=True)
        table.add_column(ratio=3, no_wrap=True, overflow="ellipsis")
        table.add_column(width=6, justify="right", no_wrap=True)
        table.add_column(ratio=2, no_wrap=True, overflow="ellipsis", style="dim")
        now = self.monotonic()
        for row in self.rows.values():
            icon, style = ICONS[row.state]
            elapsed = ""
            if row.started is not None:
                elapsed = f"{(row.ended if row.ended is not None else now) - row.started:.1f}s"
            table.add_row(Text(icon, style), Text(row.title, style if row.state == "running" else ""),
                          elapsed, Text(row.detail.replace("\n", " ")))
        self.query_one("#steps", Static).update(table)

    def set_status(self, text: Text) -> None:
        self.query_one("#run-status", Static).update(text)

    def finish(self, outcome: RunOutcome) -> None:
        self.drain(everything=True)
        outcome.lines = self.lines
        outcome.steps = self.rows
        outcome.failed_step = next((k for k, r in self.rows.items() if r.state == "failed"), "")
        self.outcome = outcome
        self.render_steps()
        if outcome.cancelled:
            message = Text.assemble(("Cancelled. ", "bold yellow"), "Every change was rolled back.")
        elif outcome.error is not None:
            message = Text.assemble(("Failed. ", "bold red"), "Every change was rolled back.")
        else:
            message = Text.assemble(("Finished. ", "bold green"), "All steps done.")
        message.append("  Press Enter to see the result.")
        self.set_status(message)
        self.set_class(True, "finished")
        self.refresh_bindings()
        if self.auto_continue:
            while self.app.screen is not self:  # a question left open (the user is gone)
                self.app.pop_screen()
            self.dismiss(outcome)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "continue":
            return not self.running
        if action == "cancel":
            return self.cancellable and self.running and not self.cancelling
        return True

    def action_cancel(self) -> None:
        if not self.cancellable or not self.running or self.cancelling:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.cancel_now()

        self.app.push_screen(ConfirmModal("Cancel and roll back?",
                                          "lego is stopped and every file this run changed is restored. "
                                          "The site keeps serving what it served before.",
                                          yes="Cancel the run", no="Keep going"), answer)

    def cancel_now(self, *, auto_continue: bool = False) -> None:
        """Stop lego and make the engine roll back; with auto_continue, dismiss once it has."""
        self.auto_continue = self.auto_continue or auto_continue
        if not self.running:
            if self.auto_continue and self.outcome is not None:
                self.dismiss(self.outcome)
            return
        self.cancelling = True
        self.set_status(Text.assemble(("Cancelling… ", "bold yellow"),
                                      "stopping lego and restoring every file."))
        self.slot.cancel()
        self.refresh_bindings()

    def action_continue(self) -> None:
        if self.outcome is not None:
            self.dismiss(self.outcome)

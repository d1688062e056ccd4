"""Renewal schedule: the exact cron entry, in words, the next runs in local time and UTC, why it is random
and the user agent, before anything is written. `r` draws another time."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from bncert_tui import USER_AGENT
from bncert_tui.core.plan import Plan
from bncert_tui.core.schedule import RenewalSchedule
from bncert_tui.ui.common import Back, StepScreen, step_title

WHY_RANDOM = ("Why random: each certificate gets its own time so machines do not all ask the CA at "
              "once (bncert-tool's midnight entry did); never on :00.")


def runs_table(schedule: RenewalSchedule, now: datetime, count: int = 4) -> Table:
    """The next runs side by side in the cron daemon's local time and in UTC."""
    local_name = now.tzname() or "local"
    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="bold")
    table.add_column(f"Next runs ({local_name})")
    table.add_column("UTC")
    for run in schedule.next_runs(count, now):
        table.add_row(f"{run:%a %Y-%m-%d %H:%M:%S}", f"{run.astimezone(UTC):%a %Y-%m-%d %H:%M:%S}")
    return table


class ScheduleScreen(StepScreen[Plan | Back]):
    """Returns the plan, with a newly drawn schedule if the user pressed r."""

    BINDINGS = [Binding("r", "redraw", "Draw another time")]

    def __init__(self, plan: Plan, rng: random.Random | None, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.plan = plan
        self.rng = rng
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield step_title("Schedule")
        with VerticalScroll(classes="body"):
            yield Static(id="cron", classes="panel")
            yield Static(id="words")
            yield Static(id="runs")
            yield Static(Text(WHY_RANDOM, style="dim"), classes="why")
            yield Static(Text.assemble(("User agent sent to the CA: ", "bold"), USER_AGENT))
        yield self.nav_buttons()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#next").focus()
        self.show()

    def show(self) -> None:
        plan = self.plan
        cron = self.query_one("#cron", Static)
        cron.border_title = f"Renewal entry for {plan.options.cron_file}"
        cron.border_subtitle = "new random time" if plan.schedule_is_new else "kept from the last run"
        cron.update(Text(plan.cron_line))
        self.query_one("#words", Static).update(
            Text.assemble(("Checks for renewal ", "bold"), plan.schedule.describe(),
                          " (renews only when due)"))
        self.query_one("#runs", Static).update(runs_table(plan.schedule, self.clock()))

    def action_redraw(self) -> None:
        self.plan = self.plan.with_schedule(RenewalSchedule.draw(self.rng))
        self.show()

    def action_next(self) -> None:
        self.dismiss(self.plan)

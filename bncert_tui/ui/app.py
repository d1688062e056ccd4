"""The wizard: one coroutine that awaits each screen in turn, so the flow reads top to bottom.

Nothing is written before the Review is confirmed: the steps before it only collect answers and build a
Plan (which reads files and runs the config test). The core is imported lazily so the first screen paints
while the heavy modules load in the detection thread.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import LoadingIndicator, Static

from bncert_tui.ui.common import Back, ConfirmModal
from bncert_tui.ui.start import StartScreen

if TYPE_CHECKING:
    from bncert_tui.core.apply import ApplyResult
    from bncert_tui.core.events import Reporter
    from bncert_tui.core.lego import ProcessSlot
    from bncert_tui.core.overview import Overview
    from bncert_tui.core.plan import Answers, GlobalOptions, Plan
    from bncert_tui.core.renew import RenewOutcome
    from bncert_tui.core.webserver.base import WwwRedirect
    from bncert_tui.ui.run import Job, RunOutcome

Planner = Callable[["GlobalOptions", "Answers", "random.Random | None"], "Plan"]
Executor = Callable[["Plan", "Reporter", "ProcessSlot"], "ApplyResult"]
Renewer = Callable[["GlobalOptions", Callable[[str], None], "ProcessSlot"], "list[RenewOutcome]"]
Reverter = Callable[["GlobalOptions"], "list[Path]"]


def local_now() -> datetime:
    return datetime.now().astimezone()


def default_planner(options: GlobalOptions, answers: Answers, rng: random.Random | None) -> Plan:
    from bncert_tui.core.plan import build_plan

    return build_plan(options, answers, rng=rng)


def default_executor(plan: Plan, reporter: Reporter, slot: ProcessSlot) -> ApplyResult:
    from bncert_tui.core.apply import execute

    return execute(plan, reporter, slot)


def default_renewer(options: GlobalOptions, on_line: Callable[[str], None],
                    slot: ProcessSlot) -> list[RenewOutcome]:
    """"Renew now": every managed certificate, whatever its window, lego's output shown live."""
    from bncert_tui.core.renew import renew_all

    return renew_all(options, force=True, interactive=True, on_line=on_line, slot=slot)


def default_reverter(options: GlobalOptions) -> list[Path]:
    from bncert_tui.core.revert import revert

    return revert(options)


class BusyScreen(Screen[None]):
    """Shown while a plan is built (config test, lego --help): a spinner and what is happening."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(self.message, id="busy-message")
            yield LoadingIndicator()


class WizardApp(App[int]):
    """The one factory used by the CLI, tests, screenshots and benches (collaborators injected)."""

    CSS_PATH = str(Path(__file__).with_name("wizard.tcss"))  # absolute: subclasses live elsewhere
    TITLE = "bncert-tui"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, options: GlobalOptions, *, rng: random.Random | None = None,
                 overview: Overview | None = None, clock: Callable[[], datetime] = local_now,
                 monotonic: Callable[[], float] = time.monotonic, planner: Planner | None = None,
                 executor: Executor | None = None, loader: Callable[[], Overview] | None = None,
                 renewer: Renewer | None = None, reverter: Reverter | None = None,
                 cursor_blink: bool = True) -> None:
        super().__init__()
        self.options = options
        self.rng = rng
        self.overview = overview
        self.clock = clock
        self.monotonic = monotonic
        self.planner = planner or default_planner
        self.executor = executor or default_executor
        self.loader = loader or self._gather_overview
        self.renewer = renewer or default_renewer
        self.reverter = reverter or default_reverter
        self.cursor_blink = cursor_blink
        self.exit_code = 0
        self.last_plan: Plan | None = None
        self.received_signal: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- collaborators -------------------------------------------------------------------------
    def _gather_overview(self) -> Overview:
        from bncert_tui.core.overview import gather_overview

        return gather_overview(self.options)

    def _remember(self, view: Overview) -> None:
        self.overview = view

    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.flow()

    # -- signals (an SSH hang-up during a run must roll back, not leave files half-changed) ------
    def handle_signal(self, signum: int) -> None:
        """SIGHUP/SIGTERM/SIGINT: cancel a running job (it rolls back), then exit with 128+signum."""
        if self.received_signal is None:
            self.received_signal = signum
        self.exit_code = 128 + signum
        from bncert_tui.ui.run import RunScreen

        for screen in self.screen_stack:
            if isinstance(screen, RunScreen) and screen.running:
                screen.cancel_now(auto_continue=True)
                return
        self.exit(self.exit_code, return_code=self.exit_code)

    def signal_from_handler(self, signum: int, _frame: object = None) -> None:
        """For signal.signal: hop onto the event loop before touching the app."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.handle_signal, signum)

    # -- the flow ------------------------------------------------------------------------------
    @work(exclusive=True, group="wizard")
    async def flow(self) -> None:
        while True:
            action = await self.push_screen_wait(StartScreen(self.overview, self.loader, self._remember))
            if action == "quit":
                break
            if action in ("new", "change"):
                choice = await self.configure(prefill=action == "change")
            elif action == "renew":
                choice = await self.renew_now()
            else:
                choice = await self.revert_all()
            if choice == "quit":
                break
            if choice != "back":
                self.overview = None  # something may have changed: detect again
        self.exit(self.exit_code, return_code=self.exit_code)

    async def configure(self, *, prefill: bool) -> str:
        """Domains → Redirections → Account → (plan) → Schedule → Review → Run → Result."""
        from bncert_tui.core.errors import BncertError
        from bncert_tui.core.events import APPLY_STEPS
        from bncert_tui.core.plan import Answers, default_www_redirect
        from bncert_tui.ui.account import AccountAnswers, AccountScreen
        from bncert_tui.ui.domains import DomainsScreen
        from bncert_tui.ui.redirects import RedirectsScreen
        from bncert_tui.ui.result import ResultScreen, apply_summary
        from bncert_tui.ui.review import ReviewScreen
        from bncert_tui.ui.schedule import ScheduleScreen

        domains: list[str] = []
        https_redirect, www = True, "none"
        email, accepted, server = "", False, self.options.server
        if prefill:
            domains, https_redirect, www, email = await asyncio.to_thread(self._managed_answers)
            accepted = bool(email)
        known = list(self.overview.stack.server_names) if self.overview and self.overview.stack else []
        https_port = self.overview.stack.ports.https if self.overview and self.overview.stack else None
        plan: Plan | None = None
        plan_error: BaseException | None = None
        step = 0
        while True:
            result: Any
            if step < 0:
                return "back"
            if step == 0:
                result = await self.push_screen_wait(DomainsScreen(domains, known))
                if not isinstance(result, Back) and result != domains:
                    www = default_www_redirect(result)
            elif step == 1:
                result = await self.push_screen_wait(RedirectsScreen(domains, https_redirect, www,  # type: ignore[arg-type]
                                                                     https_port))
            elif step == 2:
                result = await self.push_screen_wait(AccountScreen(email, accepted, server,
                                                                   self.options.server, error=plan_error))
                plan_error = None
            elif step == 3:
                assert plan is not None
                result = await self.push_screen_wait(ScheduleScreen(plan, self.rng, self.clock))
            elif step == 4:
                assert plan is not None
                result = await self.push_screen_wait(ReviewScreen(plan))
            if isinstance(result, Back):
                if step == 0 and result.partial is not None:
                    domains = result.partial  # type: ignore[assignment]
                elif step == 1 and result.partial is not None:
                    https_redirect, www = result.partial  # type: ignore[misc]
                elif step == 2 and isinstance(result.partial, AccountAnswers):
                    email, accepted, server = (result.partial.email, result.partial.accept_tos,
                                               result.partial.server)
                step -= 1
                continue
            if step == 0:
                domains = result
            elif step == 1:
                https_redirect, www = result
            elif step == 2:
                account: AccountAnswers = result
                email, accepted, server = account.email, account.accept_tos, account.server
                answers = Answers(domains=domains, email=email, accept_tos=accepted,
                                  https_redirect=https_redirect, www_redirect=www)  # type: ignore[arg-type]
                options = replace(self.options, server=server)
                await self.push_screen(BusyScreen("Checking the web server, its configuration and lego…"))
                try:
                    fresh = await asyncio.to_thread(self.planner, options, answers, self.rng)
                except BncertError as exc:
                    await self.pop_screen()
                    plan_error = exc  # shown over the Account screen, which comes back
                    continue
                await self.pop_screen()
                if plan is not None and plan.schedule_is_new and fresh.schedule_is_new:
                    fresh = fresh.with_schedule(plan.schedule)  # going back does not move the time
                plan = fresh
            elif step == 3:
                plan = result
            elif step == 4:
                break
            step += 1
        assert plan is not None
        self.last_plan = plan
        final = plan
        outcome = await self.run_job("Run", APPLY_STEPS,
                                     lambda reporter, slot: self.executor(final, reporter, slot))
        if self.received_signal is not None:
            return "quit"
        self.exit_code = 0 if outcome.ok else (130 if outcome.cancelled else 1)
        ok, body = apply_summary(plan, outcome, self.clock())
        return await self.push_screen_wait(ResultScreen(ok, body))

    def _managed_answers(self) -> tuple[list[str], bool, WwwRedirect, str]:
        """Prefill for "change": the first managed certificate's answers from the state file."""
        from bncert_tui.core.state import load_state

        state = load_state(self.options.paths.state_file)
        for cert in state.certificates.values():
            return list(cert.domains), cert.https_redirect, cert.www_redirect, cert.email  # type: ignore[return-value]
        return [], True, "none", ""

    async def run_job(self, name: str, steps: list[tuple[str, str]], job: Job, *,
                      cancellable: bool = True) -> RunOutcome:
        from bncert_tui.ui.run import RunScreen

        return await self.push_screen_wait(RunScreen(name, steps, job, monotonic=self.monotonic,
                                                     cancellable=cancellable))

    async def renew_now(self) -> str:
        from bncert_tui.ui.result import ResultScreen, renew_summary

        sure = await self.push_screen_wait(ConfirmModal(
            "Renew every managed certificate now?",
            "This asks the CA for new certificates whatever their renewal window says. Let's Encrypt "
            "allows 5 certificates for the same names a week.", yes="Renew now", no="Back"))
        if not sure:
            return "back"
        options = self.options

        def job(reporter: Reporter, slot: ProcessSlot) -> Any:
            reporter.step("renew", "running")
            outcomes = self.renewer(options, reporter.line, slot)
            failed = [o for o in outcomes if o.outcome == "failed"]
            reporter.step("renew", "failed" if failed else "done",
                          ", ".join(f"{o.name}: {o.outcome}" for o in outcomes))
            return outcomes

        outcome = await self.run_job("Renew", [("renew", "Renew the managed certificates")], job)
        if self.received_signal is not None:
            return "quit"
        ok, body = renew_summary(outcome)
        self.exit_code = 0 if ok else 1
        return await self.push_screen_wait(ResultScreen(ok, body, title="Renew"))

    async def revert_all(self) -> str:
        from rich.text import Text

        from bncert_tui.ui.result import ResultScreen

        sure = await self.push_screen_wait(ConfirmModal(
            "Revert every change?",
            "Every file this tool changed goes back to what it was before the first apply; the "
            "certificates stay on disk but are no longer used or renewed.", yes="Revert", no="Back"))
        if not sure:
            return "back"
        options = self.options

        def job(reporter: Reporter, slot: ProcessSlot) -> Any:
            reporter.step("revert", "running")
            restored = self.reverter(options)
            for path in restored:
                reporter.line(f"restored {path}")
            reporter.step("revert", "done", f"{len(restored)} file(s) restored")
            return restored

        outcome = await self.run_job("Revert", [("revert", "Restore the original files and reload")],
                                     job, cancellable=False)
        if self.received_signal is not None:
            return "quit"
        body = Text()
        if outcome.ok:
            body.append(f"Reverted: {len(outcome.result)} file(s) are back to what they were before the "
                        "first apply; the server was reloaded.\n\n", "bold green")
            for path in outcome.result:
                body.append(f"  {path}\n")
        else:
            body.append("Revert failed; nothing was changed.\n\n", "bold red")
            body.append(str(outcome.error))
        body.rstrip()
        self.exit_code = 0 if outcome.ok else 1
        return await self.push_screen_wait(ResultScreen(outcome.ok, body, title="Revert"))

    def action_quit(self) -> Any:
        """Ctrl+Q during a run asks to cancel (and roll back) instead of leaving things half-done."""
        from bncert_tui.ui.run import RunScreen

        for screen in self.screen_stack:
            if isinstance(screen, RunScreen) and screen.running:
                screen.action_cancel()
                return None
        self.exit(self.exit_code, return_code=self.exit_code)
        return None


def run_wizard(options: GlobalOptions) -> int:
    """What `bncert-tui` with no command runs; returns the exit code (128+signal when stopped by one)."""
    app = WizardApp(options)
    previous = {sig: signal.signal(sig, app.signal_from_handler)
                for sig in (signal.SIGHUP, signal.SIGTERM)}
    try:
        app.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return app.return_code if app.return_code is not None else 0

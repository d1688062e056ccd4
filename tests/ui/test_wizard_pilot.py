"""Pilot tests of the wizard: navigation, validation, redirect choices, review, run and cancel.

The first group drives the real WizardApp on plain sample data (nothing touches disk); the integration
tests drive it on the real sandbox (pebble + lego + nginx) by keys only.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Log, RadioButton, SelectionList, Static

from bncert_tui.core.errors import StackError
from bncert_tui.core.plan import Answers, GlobalOptions
from bncert_tui.ui import sample
from bncert_tui.ui.account import AccountScreen
from bncert_tui.ui.common import ConfirmModal, ErrorModal
from bncert_tui.ui.domains import DomainsScreen
from bncert_tui.ui.redirects import RedirectsScreen
from bncert_tui.ui.result import ResultScreen
from bncert_tui.ui.review import DiffScreen, ReviewScreen
from bncert_tui.ui.run import RunScreen
from bncert_tui.ui.schedule import ScheduleScreen
from bncert_tui.ui.start import StartScreen

from .helpers import (
    plain,
    sample_app,
    to_domains,
    to_review,
    type_text,
    wait_event,
    wait_for_screen,
)

SIZE = (80, 24)


async def test_escape_goes_back_one_step_and_keeps_answers() -> None:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_domains(pilot)
        await type_text(pilot, "example.com www.example.com")
        await pilot.press("enter")
        await wait_for_screen(pilot, RedirectsScreen)
        await pilot.press("escape")
        screen = await wait_for_screen(pilot, DomainsScreen)
        assert screen.query_one("#domains", Input).value == "example.com www.example.com"
        await pilot.press("enter", "ctrl+n")
        await wait_for_screen(pilot, AccountScreen)
        await type_text(pilot, "admin@example.com")
        await pilot.press("escape")
        await wait_for_screen(pilot, RedirectsScreen)
        await pilot.press("ctrl+n")
        account = await wait_for_screen(pilot, AccountScreen)
        assert account.query_one("#email", Input).value == "admin@example.com"
        await pilot.press("escape", "escape")
        await wait_for_screen(pilot, DomainsScreen)
        await pilot.press("escape")
        await wait_for_screen(pilot, StartScreen)


async def test_back_from_review_reaches_schedule_with_the_same_time() -> None:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        review = await to_review(pilot)
        cron = review.plan.cron_line
        await pilot.press("escape")
        schedule = await wait_for_screen(pilot, ScheduleScreen)
        assert schedule.plan.cron_line == cron
        await pilot.press("r")  # draw another time
        await pilot.pause()
        assert schedule.plan.cron_line != cron
        assert schedule.plan.cron_line in plain(schedule.query_one("#cron", Static)).replace("\n", " ") \
            or schedule.plan.cron_line.split(" && ")[0] in plain(schedule.query_one("#cron", Static))
        await pilot.press("ctrl+n")
        review = await wait_for_screen(pilot, ReviewScreen)
        assert review.plan.cron_line == schedule.plan.cron_line


async def test_back_to_account_and_forward_keeps_the_drawn_time() -> None:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        review = await to_review(pilot)
        cron = review.plan.cron_line
        await pilot.press("escape")
        await wait_for_screen(pilot, ScheduleScreen)
        await pilot.press("escape")
        await wait_for_screen(pilot, AccountScreen)
        await pilot.press("ctrl+n")  # the plan is built again
        schedule = await wait_for_screen(pilot, ScheduleScreen)
        assert schedule.plan.cron_line == cron


@pytest.mark.parametrize(("typed", "problem"), [
    ("foo_bar.com", "Invalid domain 'foo_bar.com': underscores are not allowed"),
    ("https://example.com/", "Invalid domain 'https://example.com/': give the host name only"),
    ("*.example.com", "wildcards need a DNS-01 challenge"),
    ("192.0.2.1", "IP addresses cannot get a Let's Encrypt certificate"),
    ("localhost", "it needs at least two labels"),
])
async def test_domain_validation_names_the_problem_and_blocks(typed: str, problem: str) -> None:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_domains(pilot)
        await type_text(pilot, f"example.com {typed}")
        message = plain(screen.query_one("#validation", Static))
        assert problem in message
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen  # did not advance
        assert problem in plain(screen.query_one("#validation", Static))


async def test_empty_domains_cannot_go_on() -> None:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_domains(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        assert "No domain given" in plain(screen.query_one("#validation", Static))


async def test_counterpart_is_offered_as_a_toggle() -> None:
    app = sample_app(overview=sample.sample_overview())
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_domains(pilot)
        await type_text(pilot, "example.org")
        listing = screen.query_one("#suggestions", SelectionList)
        values = [listing.get_option_at_index(i).value for i in range(listing.option_count)]
        assert values[0] == "www.example.org"
        await pilot.press("tab", "space")  # toggle the first suggestion
        assert "2 domain(s): example.org, www.example.org" in plain(screen.query_one("#validation", Static))
        await pilot.press("shift+tab", "enter")
        redirects = await wait_for_screen(pilot, RedirectsScreen)
        assert redirects.domains == ["example.org", "www.example.org"]


async def test_fast_typing_with_changing_suggestions_does_not_crash() -> None:
    """Real terminals deliver keys faster than Pilot: every keystroke rebuilds the suggestions."""
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_domains(pilot)
        field = screen.query_one("#domains", Input)
        for end in range(1, len("example.test www.example.test") + 1):
            field.insert_text_at_cursor("example.test www.example.test"[end - 1])  # no pause between
        await pilot.press("enter")
        redirects = await wait_for_screen(pilot, RedirectsScreen)
        assert redirects.domains == ["example.test", "www.example.test"]


async def test_email_and_agreement_are_checked() -> None:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_domains(pilot)
        await type_text(pilot, "example.com")
        await pilot.press("enter")
        await wait_for_screen(pilot, RedirectsScreen)
        await pilot.press("ctrl+n")
        screen = await wait_for_screen(pilot, AccountScreen)
        await type_text(pilot, "admin@@example.com")
        assert "Invalid email 'admin@@example.com'" in plain(screen.query_one("#email-check", Static))
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press(*["backspace"] * 18)
        await type_text(pilot, "admin@example.com")
        await pilot.press("enter")  # agreement not ticked
        await pilot.pause()
        assert app.screen is screen
        assert "Subscriber Agreement" in plain(screen.query_one("#email-check", Static))
        await pilot.press("space", "ctrl+n")  # the agreement box has the focus now
        await wait_for_screen(pilot, ScheduleScreen)


async def test_www_redirect_choices_are_exclusive_and_reach_the_plan() -> None:
    seen: list[Answers] = []

    def planner(options: GlobalOptions, answers: Answers, rng: random.Random | None) -> Any:
        seen.append(answers)
        return sample.sample_plan(options, answers, rng)

    app = sample_app(planner=planner)
    async with app.run_test(size=SIZE) as pilot:
        await to_domains(pilot)
        await type_text(pilot, "example.com www.example.com")
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, RedirectsScreen)
        buttons = {b.id: b for b in screen.query(RadioButton)}
        assert buttons["to-www"].value and not buttons["to-nonwww"].value  # bncert-tool's default
        assert "http://example.com/a -> https://www.example.com/a" in plain(
            screen.query_one("#https-example", Static))
        await pilot.click("#to-nonwww")
        assert buttons["to-nonwww"].value and not buttons["to-www"].value and not buttons["none"].value
        assert "https://www.example.com/a -> https://example.com/a" in plain(
            screen.query_one("#www-example", Static))
        assert "http://example.com/a -> https://example.com/a" in plain(
            screen.query_one("#https-example", Static))
        screen.query_one("#www").focus()  # and by keys: up to the previous choice, enter selects it
        await pilot.press("up", "enter")
        assert [b.id for b in buttons.values() if b.value] == ["to-www"]
        await pilot.click("#none")
        assert [b.id for b in buttons.values() if b.value] == ["none"]
        await pilot.click("#to-nonwww")
        await pilot.press("ctrl+n")
        await wait_for_screen(pilot, AccountScreen)
        await type_text(pilot, "admin@example.com")
        await pilot.press("tab", "space", "ctrl+n")
        await wait_for_screen(pilot, ScheduleScreen)
    assert seen[-1].www_redirect == "to-nonwww"
    assert seen[-1].https_redirect is True


async def test_www_choices_disabled_without_both_forms() -> None:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_domains(pilot)
        await type_text(pilot, "app.example.com")
        await pilot.press("enter")
        screen = await wait_for_screen(pilot, RedirectsScreen)
        buttons = {b.id: b for b in screen.query(RadioButton)}
        assert buttons["none"].value
        assert buttons["to-www"].disabled and buttons["to-nonwww"].disabled


async def test_review_lists_every_change_and_shows_diffs() -> None:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        review = await to_review(pilot)
        text = " ".join(plain(review.query_one("#changes", Static)).split())
        changes = review.plan.changes()
        assert len(changes) >= 9
        for number, item in enumerate(changes, 1):
            assert f"{number}. {' '.join(item.split())}" in text
        await pilot.press("d")
        diff = await wait_for_screen(pilot, DiffScreen)
        assert "+    ssl_certificate_key" in diff.change.diff()
        await pilot.press("escape")
        await wait_for_screen(pilot, ReviewScreen)


async def test_planner_error_is_shown_and_keeps_the_account_step() -> None:
    def planner(options: GlobalOptions, answers: Answers, rng: random.Random | None) -> Any:
        raise StackError("The nginx configuration test fails before any change", "line 7",
                         "Fix the configuration first; nothing was changed.")

    app = sample_app(planner=planner)
    async with app.run_test(size=SIZE) as pilot:
        await to_domains(pilot)
        await type_text(pilot, "example.com")
        await pilot.press("enter", "ctrl+n")
        await wait_for_screen(pilot, AccountScreen)
        await type_text(pilot, "admin@example.com")
        await pilot.press("tab", "space", "ctrl+n")
        modal = await wait_for_screen(pilot, ErrorModal)
        assert modal.error_title.startswith("The nginx configuration test fails")
        await pilot.press("escape")
        await wait_for_screen(pilot, AccountScreen)


async def test_run_streams_and_reaches_the_result() -> None:
    app = sample_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await pilot.press("ctrl+n")
        run = await wait_for_screen(pilot, RunScreen)
        for _ in range(100):
            if run.outcome is not None:
                break
            await pilot.pause(0.05)
        assert run.outcome is not None and run.outcome.ok
        assert run.lines == len(sample.LEGO_LINES)
        # lego's "[INFO] [example.com]" lines are shown verbatim, never parsed as markup
        assert run.query_one("#log", Log).lines == sample.LEGO_LINES
        assert all(row.state == "done" for row in run.rows.values())
        await pilot.press("enter")
        result = await wait_for_screen(pilot, ResultScreen)
        text = plain(result.query_one("#result", Static))
        assert "Done." in text and "2026-06-12" in text and "example.com, www.example.com" in text
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_ctrl_c_during_run_asks_then_cancels() -> None:
    executor = sample.SampleExecutor(stop_at="lego")
    app = sample_app(executor=executor)
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await pilot.press("ctrl+n")
        run = await wait_for_screen(pilot, RunScreen)
        assert await wait_event(pilot, executor.reached)
        await pilot.press("ctrl+c")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.press("n")  # keep going: nothing cancelled
        await wait_for_screen(pilot, RunScreen)
        assert not run.slot.cancelled
        await pilot.press("ctrl+c")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.press("y")
        await pilot.pause()
        assert run.slot.cancelled
        executor.release()
        for _ in range(100):
            if run.outcome is not None:
                break
            await pilot.pause(0.05)
        assert run.outcome.cancelled
        await pilot.press("enter")
        result = await wait_for_screen(pilot, ResultScreen)
        assert "Cancelled" in plain(result.query_one("#result", Static))
        await pilot.press("q")
    assert app.return_code == 130


async def test_hangup_during_run_rolls_back_and_exits_129() -> None:
    """An SSH hang-up (SIGHUP) mid-run cancels like Ctrl+C, even with a question open, then exits."""
    import signal

    executor = sample.SampleExecutor(stop_at="lego")
    app = sample_app(executor=executor)
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await pilot.press("ctrl+n")
        run = await wait_for_screen(pilot, RunScreen)
        assert await wait_event(pilot, executor.reached)
        await pilot.press("ctrl+c")  # a question is open when the line drops
        await wait_for_screen(pilot, ConfirmModal)
        app.signal_from_handler(signal.SIGHUP)
        await pilot.pause(0.1)
        assert run.slot.cancelled
        executor.release()
        for _ in range(100):
            if app.return_code is not None:
                break
            await pilot.pause(0.05)
    assert run.outcome is not None and run.outcome.cancelled
    assert app.return_code == 129


async def test_failure_result_says_cause_rollback_and_next_step() -> None:
    app = sample_app(executor=sample.SampleExecutor(fail_at="lego"))
    async with app.run_test(size=SIZE) as pilot:
        await to_review(pilot)
        await pilot.press("ctrl+n")
        run = await wait_for_screen(pilot, RunScreen)
        for _ in range(100):
            if run.outcome is not None:
                break
            await pilot.pause(0.05)
        await pilot.press("enter")
        result = await wait_for_screen(pilot, ResultScreen)
        text = " ".join(plain(result.query_one("#result", Static)).split())
        assert "Obtain the certificate with lego" in text
        assert "lego could not obtain the certificate" in text
        assert "2 file(s) restored" in text
        assert "check that DNS for each domain points to this machine" in text
        await pilot.press("q")
    assert app.return_code == 1


async def test_start_screen_shows_problems_and_disables_actions_without_state() -> None:
    app = sample_app(problems=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await wait_for_screen(pilot, StartScreen)
        problems = plain(screen.query_one("#problems", Static))
        assert "The nginx configuration test fails" in problems and "What to do:" in problems
        await pilot.press("r")  # nothing managed: renew is not offered
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("q")
    assert app.return_code == 0


async def test_change_prefills_from_the_managed_state(tmp_path: Path) -> None:
    from bncert_tui.core.state import ManagedCert, State, save_state

    options = GlobalOptions(installdir=tmp_path, server=sample.LETS_ENCRYPT, cron_file=tmp_path / "cron")
    save_state(options.paths.state_file, State({"example.net": ManagedCert(
        name="example.net", domains=["example.net", "www.example.net"], email="ops@example.net",
        server=sample.LETS_ENCRYPT, https_redirect=False, www_redirect="to-nonwww",
        schedule={"minute": 5, "second": 6, "hour_offset": 1})}))
    app = sample_app(overview=sample.sample_overview(managed=True))
    app.options = options
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, StartScreen)
        await pilot.press("c")
        screen = await wait_for_screen(pilot, DomainsScreen)
        assert screen.query_one("#domains", Input).value == "example.net www.example.net"
        await pilot.press("enter")
        redirects = await wait_for_screen(pilot, RedirectsScreen)
        assert redirects.https_redirect is False
        assert redirects.www == "to-nonwww"
        await pilot.press("ctrl+n")
        account = await wait_for_screen(pilot, AccountScreen)
        assert account.query_one("#email", Input).value == "ops@example.net"


async def test_renew_now_asks_streams_and_reports() -> None:
    app = sample_app(managed=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, StartScreen)
        await pilot.press("r")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.press("n")  # declined: back to Start, nothing ran
        await wait_for_screen(pilot, StartScreen)
        await pilot.press("r")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.press("y")
        run = await wait_for_screen(pilot, RunScreen)
        for _ in range(100):
            if run.outcome is not None:
                break
            await pilot.pause(0.05)
        assert run.lines == 4
        await pilot.press("enter")
        result = await wait_for_screen(pilot, ResultScreen)
        assert "example.com: renewed" in plain(result.query_one("#result", Static))


async def test_revert_asks_then_lists_the_restored_files() -> None:
    app = sample_app(managed=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_screen(pilot, StartScreen)
        await pilot.press("v")
        await wait_for_screen(pilot, ConfirmModal)
        await pilot.press("y")
        run = await wait_for_screen(pilot, RunScreen)
        assert not run.cancellable
        for _ in range(100):
            if run.outcome is not None:
                break
            await pilot.pause(0.05)
        await pilot.press("enter")
        result = await wait_for_screen(pilot, ResultScreen)
        text = plain(result.query_one("#result", Static))
        assert "Reverted: 2 file(s)" in text and str(sample.BLOCK) in text

"""Account: the contact email (validated as typed), the Subscriber Agreement with an explicit agreement,
and the CA (production or staging; a custom ACME server given on the command line stays selectable)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Footer, Input, RadioButton, RadioSet, Static

from bncert_tui.core.errors import InputError
from bncert_tui.core.lego import LETS_ENCRYPT, LETS_ENCRYPT_STAGING, SUBSCRIBER_AGREEMENT
from bncert_tui.core.validation import normalize_email
from bncert_tui.ui.common import Back, ErrorModal, StepScreen, step_title


@dataclass(frozen=True)
class AccountAnswers:
    email: str
    accept_tos: bool
    server: str


def ca_choices(current: str) -> list[tuple[str, str]]:
    """(server URL, label) pairs: production, staging, and the command line's own server if another."""
    choices = [(LETS_ENCRYPT, "Let's Encrypt (production: trusted certificates)"),
               (LETS_ENCRYPT_STAGING, "Let's Encrypt staging (test certificates, not trusted)")]
    if current not in (LETS_ENCRYPT, LETS_ENCRYPT_STAGING):
        choices.append((current, f"This ACME server: {current}"))
    return choices


def email_problem(value: str) -> str:
    try:
        normalize_email(value)
    except InputError as exc:
        return exc.title
    return ""


class AccountScreen(StepScreen[AccountAnswers | Back]):
    def __init__(self, email: str, accept_tos: bool, server: str, default_server: str, *,
                 error: BaseException | None = None) -> None:
        """`error`: why the last attempt to plan failed, shown over this screen on arrival."""
        super().__init__()
        self.error = error
        self.email = email
        self.accept_tos = accept_tos
        self.server = server
        self.choices = ca_choices(default_server)

    def compose(self) -> ComposeResult:
        yield step_title("Account")
        with Vertical(classes="body"):
            yield Static("Let's Encrypt writes to this address about problems with your certificates.",
                         classes="intro")
            yield Input(self.email, placeholder="you@example.com", id="email")
            yield Static(id="email-check")
            yield Static(Text.assemble("Subscriber Agreement: ", (SUBSCRIBER_AGREEMENT, "underline")),
                         classes="example")
            yield Checkbox("I agree to the Let's Encrypt Subscriber Agreement", self.accept_tos, id="tos")
            with RadioSet(id="ca"):
                for index, (url, label) in enumerate(self.choices):
                    yield RadioButton(label, url == self.server, id=f"ca-{index}")
        yield self.nav_buttons()
        yield Footer()

    def on_mount(self) -> None:
        self.setup_inputs()
        self.query_one("#ca").border_title = "Certificate authority"
        self.query_one("#email", Input).focus()
        self.show_email(self.email, final=False)
        if self.error is not None:
            self.app.push_screen(ErrorModal.from_error(self.error))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.email = event.value
        self.show_email(event.value, final=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_next()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.accept_tos = event.value

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self.server = self.choices[event.index][0]

    def show_email(self, value: str, *, final: bool) -> str:
        label = self.query_one("#email-check", Static)
        problem = email_problem(value)
        if not value.strip() and not final:
            label.update(Text("Type the address to use.", style="dim"))
        elif problem:
            label.update(Text.assemble(("✗ ", "bold red"), (problem, "red")))
        else:
            label.update(Text.assemble(("✓ ", "bold green"), normalize_email(value)))
        label.set_class(bool(problem) and (final or bool(value.strip())), "invalid")
        return problem

    def partial(self) -> AccountAnswers:
        return AccountAnswers(self.email, self.accept_tos, self.server)

    def action_next(self) -> None:
        problem = self.show_email(self.email, final=True)
        if problem:
            self.app.bell()
            self.query_one("#email", Input).focus()
            return
        if not self.accept_tos:
            self.app.bell()
            label = self.query_one("#email-check", Static)
            label.update(Text.assemble(("✗ ", "bold red"), ("Tick the Subscriber Agreement box to go "
                                                             "on: Let's Encrypt requires it", "red")))
            label.set_class(True, "invalid")
            self.query_one("#tos", Checkbox).focus()
            return
        self.dismiss(AccountAnswers(normalize_email(self.email), True, self.server))

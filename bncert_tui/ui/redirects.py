"""Redirections: HTTP to HTTPS, and one of none / non-www to www / www to non-www (a RadioSet makes the
last two exclusive). Each shows an example built from the user's own domains, updated as they choose."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Checkbox, Footer, RadioButton, RadioSet, Static

from bncert_tui.core.webserver.base import WwwRedirect
from bncert_tui.ui.common import Back, StepScreen, step_title

WWW_CHOICES: list[tuple[WwwRedirect, str]] = [
    ("none", "No www redirection"),
    ("to-www", "Redirect non-www to www"),
    ("to-nonwww", "Redirect www to non-www"),
]


def www_pair(domains: list[str]) -> tuple[str, str] | None:
    """The first (non-www, www) pair in the list: the www redirections need both forms."""
    for name in domains:
        if not name.startswith("www.") and f"www.{name}" in domains:
            return name, f"www.{name}"
    return None


def canonical(host: str, domains: list[str], www: WwwRedirect) -> str:
    if www == "to-www" and not host.startswith("www.") and f"www.{host}" in domains:
        return f"www.{host}"
    if www == "to-nonwww" and host.startswith("www.") and host[4:] in domains:
        return host[4:]
    return host


def origin(host: str, port: int | None) -> str:
    return f"https://{host}" if port in (None, 443) else f"https://{host}:{port}"


def examples(domains: list[str], https_redirect: bool, www: WwwRedirect,
             https_port: int | None = None) -> dict[str, str]:
    """One example line per option, e.g. "http://example.com/a -> https://www.example.com/a"."""
    first = domains[0]
    pair = www_pair(domains)
    out: dict[str, str] = {}
    if https_redirect:
        out["https"] = f"http://{first}/a -> {origin(canonical(first, domains, www), https_port)}/a"
    else:
        out["https"] = f"http://{first}/a stays on HTTP"
    if pair is None:
        note = "needs both example.com and www.example.com forms in the list"
        out["to-www"] = out["to-nonwww"] = note
        out["none"] = "each name serves the site as it is"
    else:
        bare, www_name = pair
        out["none"] = f"{bare} and {www_name} both serve the site"
        out["to-www"] = f"{origin(bare, https_port)}/a -> {origin(www_name, https_port)}/a"
        out["to-nonwww"] = f"{origin(www_name, https_port)}/a -> {origin(bare, https_port)}/a"
    return out


class RedirectsScreen(StepScreen[tuple[bool, WwwRedirect] | Back]):
    """Returns (https_redirect, www_redirect)."""

    def __init__(self, domains: list[str], https_redirect: bool, www_redirect: WwwRedirect,
                 https_port: int | None = None) -> None:
        super().__init__()
        self.domains = domains
        self.https_redirect = https_redirect
        self.pair = www_pair(domains)
        self.www: WwwRedirect = www_redirect if self.pair else "none"
        self.https_port = https_port

    def compose(self) -> ComposeResult:
        yield step_title("Redirections")
        with Vertical(classes="body"):
            yield Static("All redirections are permanent (301), keep the path and the query, and never "
                         "touch /.well-known/acme-challenge/.", classes="intro")
            yield Checkbox("Redirect HTTP to HTTPS", self.https_redirect, id="https")
            yield Static(id="https-example", classes="example")
            with RadioSet(id="www"):
                for value, label in WWW_CHOICES:
                    yield RadioButton(label, value == self.www, id=value,
                                      disabled=value != "none" and self.pair is None)
            yield Static(id="www-example", classes="example")
        yield self.nav_buttons()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#www").border_title = "www and non-www"
        self.query_one("#https", Checkbox).focus()
        self.update_examples()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.https_redirect = event.value
        self.update_examples()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self.www = event.pressed.id  # type: ignore[assignment]
        self.update_examples()

    def update_examples(self) -> None:
        lines = examples(self.domains, self.https_redirect, self.www, self.https_port)
        self.query_one("#https-example", Static).update(Text(f"  e.g. {lines['https']}", style="dim"))
        self.query_one("#www-example", Static).update(Text(f"  e.g. {lines[self.www]}", style="dim"))

    def partial(self) -> tuple[bool, WwwRedirect]:
        return self.https_redirect, self.www

    def action_next(self) -> None:
        self.dismiss((self.https_redirect, self.www))

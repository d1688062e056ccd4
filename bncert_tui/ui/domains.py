"""Domains: one input, validated as the user types (the message names the problem), with the www/non-www
counterparts and the names already in the config offered as one-key (space) toggles."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from bncert_tui.core.errors import InputError
from bncert_tui.core.validation import MAX_DOMAINS, missing_counterparts, normalize_domain, split_domains
from bncert_tui.ui.common import Back, StepScreen, step_title


def parse_domains(text: str) -> tuple[list[str], str]:
    """The valid names typed so far, and the first problem (empty when all are valid)."""
    names: list[str] = []
    for part in split_domains(text):
        try:
            name = normalize_domain(part)
        except InputError as exc:
            return names, exc.title
        if name not in names:
            names.append(name)
    if len(names) > MAX_DOMAINS:
        return names, f"{len(names)} domains given; a certificate holds at most {MAX_DOMAINS}"
    return names, ""


def usable_names(raw: list[str]) -> list[str]:
    """Server names from the config that could go on a certificate (skips `_`, localhost, wildcards)."""
    names: list[str] = []
    for item in raw:
        try:
            name = normalize_domain(item)
        except InputError:
            continue
        if name not in names:
            names.append(name)
    return names


class DomainsScreen(StepScreen[list[str] | Back]):
    """Returns the normalized domains, input order first, then the suggestions switched on."""

    def __init__(self, prefill: list[str], known_names: list[str]) -> None:
        super().__init__()
        self.prefill = prefill
        self.known_names = usable_names(known_names)
        self.chosen: set[str] = set()

    def compose(self) -> ComposeResult:
        yield step_title("Domains")
        with Vertical(classes="body"):
            yield Static("The names this certificate covers, separated by spaces. The first one names "
                         "the certificate. Each must point to this machine in DNS.", classes="intro")
            yield Input(" ".join(self.prefill), placeholder="example.com www.example.com", id="domains")
            yield Static(id="validation")
            yield SelectionList[str](id="suggestions")
        yield self.nav_buttons()
        yield Footer()

    def on_mount(self) -> None:
        self.setup_inputs()
        self.query_one("#suggestions").border_title = "Also include? (tab here, space toggles)"
        self.query_one("#domains", Input).focus()
        self.refresh_state(self.query_one("#domains", Input).value)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Highlight the first suggestion when the list gets the focus, so space toggles it at once.

        Not while typing: a highlight set then can outlive the option when the next key rebuilds the
        list (Textual's SelectionList then fails on a stale OptionHighlighted).
        """
        listing = self.query_one("#suggestions", SelectionList)
        if event.widget is listing and listing.highlighted is None and listing.option_count:
            listing.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refresh_state(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_next()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        shown = {option.value for option in self._options()}
        self.chosen = (self.chosen - shown) | set(event.selection_list.selected)
        self._show_result()

    def _options(self) -> list[Selection[str]]:
        listing = self.query_one("#suggestions", SelectionList)
        return [listing.get_option_at_index(i) for i in range(listing.option_count)]

    def refresh_state(self, text: str) -> None:
        names, _ = parse_domains(text)
        suggestions = [n for n in missing_counterparts(names) if n not in names]
        suggestions += [n for n in self.known_names if n not in names and n not in suggestions]
        listing = self.query_one("#suggestions", SelectionList)
        current = [option.value for option in self._options()]
        if current != suggestions:
            listing.clear_options()
            for name in suggestions:
                why = "counterpart" if name in missing_counterparts(names) else "in the config"
                listing.add_option(Selection(f"{name}  ({why})", name, name in self.chosen))
        listing.display = bool(suggestions)
        self._show_result()

    def result(self) -> tuple[list[str], str]:
        names, problem = parse_domains(self.query_one("#domains", Input).value)
        listing = self.query_one("#suggestions", SelectionList)
        extra = [n for n in listing.selected if n not in names]
        if not problem and not names and not extra:
            problem = "No domain given: type at least one, like example.com"
        return names + extra, problem

    def _show_result(self) -> None:
        names, problem = self.result()
        label = self.query_one("#validation", Static)
        if problem and self.query_one("#domains", Input).value.strip():
            label.update(Text.assemble(("✗ ", "bold red"), (problem, "red")))
            label.set_class(True, "invalid")
        elif names:
            label.update(Text.assemble(("✓ ", "bold green"),
                                       f"{len(names)} domain(s): {', '.join(names)}"))
            label.set_class(False, "invalid")
        else:
            label.update(Text("Type at least one domain.", style="dim"))
            label.set_class(False, "invalid")

    def partial(self) -> list[str]:
        listing = self.query_one("#suggestions", SelectionList)
        return split_domains(self.query_one("#domains", Input).value) + list(listing.selected)

    def action_next(self) -> None:
        names, problem = self.result()
        if problem:
            label = self.query_one("#validation", Static)
            label.update(Text.assemble(("✗ ", "bold red"), (problem, "red")))
            label.set_class(True, "invalid")
            self.app.bell()
            self.query_one("#domains", Input).focus()
            return
        self.dismiss(names)

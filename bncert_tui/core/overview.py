"""What the start screen (and `status`) shows before any question: the stack as detected, lego, and
the problems found, each with what to do, so nothing is discovered later."""

from __future__ import annotations

from dataclasses import dataclass, field

from bncert_tui.core.errors import BncertError
from bncert_tui.core.legacy import LegacyFindings
from bncert_tui.core.lego import LegoCapabilities, detect_capabilities, find_lego
from bncert_tui.core.options import GlobalOptions
from bncert_tui.core.state import load_state
from bncert_tui.core.status import StatusReport, collect_status
from bncert_tui.core.webserver import detect_web_server
from bncert_tui.core.webserver.base import StackInfo


@dataclass
class Problem:
    title: str
    hint: str


@dataclass
class Overview:
    options: GlobalOptions
    stack: StackInfo | None = None
    lego_path: str = ""
    lego: LegoCapabilities | None = None
    config_ok: bool = False
    running: bool = False
    problems: list[Problem] = field(default_factory=list)
    status: StatusReport | None = None
    legacy: LegacyFindings | None = None  # bncert-tool's setup, when it is still in charge

    @property
    def legacy_lines(self) -> list[str]:
        """Plain words about bncert-tool's setup found here (empty when there is none)."""
        return self.legacy.describe() if self.legacy and self.legacy.found() else []

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def managed_names(self) -> list[str]:
        return [c.name for c in self.status.certificates] if self.status else []


def gather_overview(options: GlobalOptions) -> Overview:
    """Never raises for a stack problem: each one becomes a Problem with a hint."""
    view = Overview(options)
    try:
        web = detect_web_server(options.installdir)
        view.stack = web.inspect()
        test = web.config_test()
        view.config_ok = test.ok
        if not test.ok:
            view.problems.append(Problem(f"The {web.kind} configuration test fails",
                                         test.output.strip().splitlines()[-1] if test.output.strip() else
                                         "Fix the configuration, then run this tool again."))
        view.running = web.is_running()
        if not view.running:
            view.problems.append(Problem(f"{web.kind} is not running",
                                         "Start it (ctlscript.sh start) and run this tool again."))
        if view.stack.ports.https is None:
            view.problems.append(Problem("No HTTPS server block/virtual host found",
                                         "Add one (Bitnami ships it) and run again."))
    except BncertError as exc:
        view.problems.append(Problem(exc.title, exc.hint or exc.detail))
    try:
        lego = find_lego(options.installdir, options.lego)
        view.lego_path = str(lego)
        view.lego = detect_capabilities(lego)
    except BncertError as exc:
        view.problems.append(Problem(exc.title, exc.hint))
    try:
        view.legacy = options.legacy()
    except OSError as exc:
        view.problems.append(Problem(f"Could not look for bncert-tool's setup: {exc}", "Check permissions."))
    try:
        if load_state(options.paths.state_file).certificates:
            view.status = collect_status(options)
    except BncertError as exc:
        view.problems.append(Problem(exc.title, exc.hint))
    return view

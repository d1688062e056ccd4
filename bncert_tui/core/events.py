"""How the engine reports progress: named steps with a state, and lego's output line by line.

The CLI prints these; the wizard's Run screen shows them live. Implementations must be thread-safe
enough to be called from the worker thread that runs the engine.
"""

from __future__ import annotations

from typing import Literal, Protocol

StepState = Literal["waiting", "running", "done", "failed", "skipped"]

APPLY_STEPS: list[tuple[str, str]] = [
    ("checkpoint", "Back up the files to change"),
    ("challenge", "Serve the ACME challenge path"),
    ("preflight", "Check the challenge path for each domain"),
    ("lego", "Obtain the certificate with lego"),
    ("configure", "Configure the certificate, redirects and server name"),
    ("reload", "Test the configuration and reload"),
    ("verify", "Check the certificate served over HTTPS"),
    ("cron", "Install the renewal entry"),
    ("state", "Record the state"),
]


class Reporter(Protocol):
    def step(self, key: str, state: StepState, detail: str = "") -> None: ...

    def line(self, text: str) -> None: ...


class Cancelled(Exception):
    """Raised between steps when the user or a signal asked to stop."""

    def __init__(self, reason: str = "cancelled") -> None:
        super().__init__(reason)
        self.reason = reason

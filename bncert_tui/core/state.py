"""What the tool remembers between runs: each managed certificate, its answers, schedule and last run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bncert_tui.core.fileops import atomic_write

STATE_VERSION = 1


@dataclass
class RunRecord:
    time: str  # ISO 8601 UTC
    outcome: str  # "issued" | "renewed" | "not-due" | "kept" | "failed" | "skipped-backoff"
    message: str = ""
    last_lines: list[str] = field(default_factory=list)
    next_due: str = ""


@dataclass
class ManagedCert:
    name: str
    domains: list[str]
    email: str
    server: str
    https_redirect: bool
    www_redirect: str
    schedule: dict[str, int]
    machine: str = ""  # hash of the machine the schedule was drawn on (clone detection)
    lego_env: dict[str, str] = field(default_factory=dict)  # LEGO_CA_CERTIFICATES for cron runs
    cron_argv: list[str] = field(default_factory=list)
    created: str = ""
    updated: str = ""
    last_run: RunRecord | None = None
    last_failure: str = ""  # ISO time of the last failed order attempt (backoff)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ManagedCert:
        data = dict(raw)
        run = data.pop("last_run", None)
        known = {f for f in cls.__dataclass_fields__}
        cert = cls(**{k: v for k, v in data.items() if k in known})
        cert.last_run = RunRecord(**run) if run else None
        return cert


@dataclass
class State:
    certificates: dict[str, ManagedCert] = field(default_factory=dict)
    web_server: str = ""

    def to_json(self) -> str:
        payload = {"version": STATE_VERSION, "web_server": self.web_server,
                   "certificates": {k: asdict(v) for k, v in sorted(self.certificates.items())}}
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def load_state(path: Path) -> State:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return State()
    except ValueError as exc:
        from bncert_tui.core.errors import StackError

        raise StackError(f"State file {path} is not valid JSON ({exc})",
                         hint="Restore it from a backup or move it away to start afresh.") from None
    certs = {name: ManagedCert.from_dict(item) for name, item in raw.get("certificates", {}).items()}
    return State(certificates=certs, web_server=raw.get("web_server", ""))


def save_state(path: Path, state: State) -> bool:
    """Write only when something changed, so an identical re-run changes no byte."""
    text = state.to_json()
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, text.encode(), mode=0o600)
    return True

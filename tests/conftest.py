"""Shared fixtures: the real ACME lab and Bitnami-like stacks, and a guard against leaked processes.

- `acme_lab`: one pebble + challtestsrv per session (per xdist worker), AUTHZREUSE=100 so renewals
  are fast. `make_acme_lab(**kwargs)` gives a test its own CA (short validity, stop it, ...).
- `nginx_sandbox` / `apache_sandbox`: a fresh install dir and a started stack on the session lab,
  stopped at teardown. Pebble dials lab.http01_port, so a test gets one of them, not both.
- `make_sandbox(kind, **lab_kwargs)`: a stack with its own lab, for tests that need both to differ.
- Tests marked `integration` are skipped (with the reason) when a real program is missing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bncert_tui.sandbox import AcmeLab, Kind, Sandbox
from bncert_tui.sandbox.procs import cmdline, descendants, kill_pids

REQUIRED_PROGRAMS = {
    "lego": "lego",
    "pebble": "pebble",
    "pebble-challtestsrv": "pebble-challtestsrv",
    "nginx": "/usr/sbin/nginx",
    "apache2": "/usr/sbin/apache2",
}


def missing_programs() -> list[str]:
    return [name for name, prog in REQUIRED_PROGRAMS.items() if shutil.which(prog) is None]


def _skip_if_missing() -> None:
    missing = missing_programs()
    if missing:
        pytest.skip(f"needs the real {', '.join(missing)} "
                    "(not installed: apt-get install lego pebble nginx apache2)")


#: PIDs of session-scoped servers: a test may be the first to ask for them (getfixturevalue).
_SESSION_PIDS: set[int] = set()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("integration") is not None:
        _skip_if_missing()


@pytest.fixture(autouse=True)
def _no_leaked_processes() -> Iterator[None]:
    """Fail a test that leaves a child process running, after killing it by PID.

    Higher-scoped fixtures (the session lab) are set up before this one, so their processes are in
    the `before` snapshot; function-scoped fixtures are torn down before this check runs.
    """
    me = os.getpid()
    before = descendants(me)
    yield
    long_lived = _SESSION_PIDS | {c for p in _SESSION_PIDS for c in descendants(p)}
    leaked = descendants(me) - before - long_lived
    if leaked:
        described = {pid: cmdline(pid) for pid in sorted(leaked)}
        kill_pids(leaked)
        pytest.fail(f"test left child processes running (now killed): {described}")


@pytest.fixture(scope="session")
def acme_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AcmeLab]:
    _skip_if_missing()
    lab = AcmeLab(tmp_path_factory.mktemp("acme-lab"), authz_reuse=100)
    lab.start()
    _SESSION_PIDS.update(lab.pids)
    try:
        yield lab
    finally:
        _SESSION_PIDS.difference_update(lab.pids)
        lab.stop()


@pytest.fixture
def make_acme_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., AcmeLab]]:
    """Factory: `make_acme_lab(validity_seconds=..., start=True)` -> the test's own lab."""
    _skip_if_missing()
    labs: list[AcmeLab] = []

    def factory(*, start: bool = True, **kwargs: Any) -> AcmeLab:
        lab = AcmeLab(tmp_path_factory.mktemp("own-acme-lab"), **kwargs)
        labs.append(lab)
        if start:
            lab.start()
        return lab

    yield factory
    for lab in reversed(labs):
        lab.stop()


def _started_sandbox(kind: Kind, lab: AcmeLab) -> Sandbox:
    # Not in tmp_path: as root the workers run as `daemon`, and pytest's temp dirs are 0700.
    sandbox = Sandbox(kind, lab=lab)
    try:
        sandbox.start()
    except BaseException:
        sandbox.close(graceful=False)
        raise
    return sandbox


@pytest.fixture
def nginx_sandbox(acme_lab: AcmeLab) -> Iterator[Sandbox]:
    sandbox = _started_sandbox("nginx", acme_lab)
    yield sandbox
    sandbox.close(graceful=False)


@pytest.fixture
def apache_sandbox(acme_lab: AcmeLab) -> Iterator[Sandbox]:
    sandbox = _started_sandbox("apache", acme_lab)
    yield sandbox
    sandbox.close(graceful=False)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Factory: `make_sandbox("apache", validity_seconds=120)` -> started stack + its own lab."""
    _skip_if_missing()
    made: list[Sandbox] = []

    def factory(kind: Kind = "nginx", **lab_kwargs: Any) -> Sandbox:
        sandbox = Sandbox(kind, **lab_kwargs)
        made.append(sandbox)
        sandbox.start()
        return sandbox

    yield factory
    for sandbox in reversed(made):
        sandbox.close(graceful=False)



# --- the fault matrix (rows recorded by tests/integration/test_faults.py), printed after the run -----
# Here, not in tests/integration/conftest.py: under xdist the controller only loads this conftest.
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows: list[tuple[str, str, str, str]] = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call":
                continue
            for name, value in getattr(report, "user_properties", []):
                if name == "fault_matrix":
                    case, kind, result = json.loads(value)
                    rows.append((case, kind, "PASS" if outcome == "passed" else "FAIL", result))
    if not rows:
        return
    rows.sort(key=lambda r: (r[0], r[1]))
    widths = [max(len(r[i]) for r in [("case", "server", "test", "outcome"), *rows]) for i in range(4)]
    terminalreporter.section("fault matrix")
    for row in [("case", "server", "test", "outcome"), tuple("-" * w for w in widths), *rows]:
        terminalreporter.write_line("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                                    + " |")

"""Print the fault matrix (rows recorded by tests/integration/test_faults.py) at the end of the run.

Rows travel as `user_properties` on the test reports, so they reach the controller under xdist too.
"""

from __future__ import annotations

import json

import pytest


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

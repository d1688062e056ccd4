"""Startup: time to the wizard's first screen against a minimal Textual app, and `bncert-tui --help`.

Both apps run as real processes on a real pseudo-terminal (80x24), started the way a user starts them
(`python -m bncert_tui` for the wizard, through the CLI), and the clock stops when the screen's text has
been written to the terminal. Then Ctrl+Q quits them. Runs alternate so drift hits both equally.
`--help` must not import Textual or Rich (checked with `python -X importtime`).
The last line is `ratio first-screen/minimal: X` (medians). Targets: ratio <= 1.3, --help <= 150 ms.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ANSI = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")

MINIMAL = """
from textual.app import App
from textual.widgets import Footer, Static

class Minimal(App):
    def compose(self):
        yield Static("hello from a minimal app")
        yield Footer()

Minimal().run()
"""


def first_screen(argv: list[str], marker: bytes, timeout: float = 20) -> float:
    """Seconds from spawn until `marker` is visible on the pty; then Ctrl+Q and reap the child."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), "COLUMNS": "80",
           "LINES": "24", "TEXTUAL_ANIMATIONS": "none"}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=str(ROOT),
                            start_new_session=True)
    os.close(slave)
    seen = b""
    elapsed = float("nan")
    try:
        deadline = start + timeout
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen += chunk
            if marker in ANSI.sub(b"", seen):
                elapsed = time.perf_counter() - start
                break
        os.write(master, b"\x11")  # Ctrl+Q: a clean exit restores the terminal
        try:
            end = time.monotonic() + 5
            while proc.poll() is None and time.monotonic() < end:
                select.select([master], [], [], 0.05)
                try:
                    os.read(master, 65536)
                except OSError:
                    break
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        os.close(master)
    if elapsed != elapsed:  # NaN: never saw it
        tail = ANSI.sub(b"", seen)[-600:].decode(errors="replace")
        raise RuntimeError(f"{argv} never showed {marker!r}; output tail:\n{tail}")
    return elapsed


def help_time() -> float:
    start = time.perf_counter()
    subprocess.run([PY, "-m", "bncert_tui", "--help"], cwd=str(ROOT), check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - start


def help_imports() -> list[str]:
    """Top-level packages `--help` imports that it must not (Textual, Rich)."""
    proc = subprocess.run([PY, "-X", "importtime", "-m", "bncert_tui", "--help"], cwd=str(ROOT),
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    names = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return sorted(names & {"textual", "rich"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bncert-startup-") as tmp:
        installdir = Path(tmp) / "bitnami"  # empty: detection (in a thread) finds nothing, fast
        installdir.mkdir()
        wizard = [PY, "-m", "bncert_tui", "wizard", "--installdir", str(installdir), "--cron-file",
                  str(Path(tmp) / "cron")]
        minimal = [PY, "-c", MINIMAL]
        first_screen(minimal, b"hello from a minimal app")  # warm the file cache once
        first_screen(wizard, b"What do you want to do?")
        times: dict[str, list[float]] = {"minimal": [], "wizard": [], "help": []}
        for _ in range(args.runs):
            times["minimal"].append(first_screen(minimal, b"hello from a minimal app"))
            times["wizard"].append(first_screen(wizard, b"What do you want to do?"))
            times["help"].append(help_time())
    med = {k: statistics.median(v) for k, v in times.items()}
    for key, label in (("minimal", "minimal Textual app, first screen"),
                       ("wizard", "bncert-tui wizard, first screen"), ("help", "bncert-tui --help")):
        values = times[key]
        print(f"{label:<36} median {med[key] * 1000:6.0f} ms  (min {min(values) * 1000:.0f}, "
              f"max {max(values) * 1000:.0f}, n={len(values)})")
    leaked = help_imports()
    print(f"--help imports Textual/Rich: {', '.join(leaked) if leaked else 'no'}")
    print(f"--help target <= 150 ms: {'ok' if med['help'] <= 0.150 else 'MISSED'}")
    ratio = med["wizard"] / med["minimal"]
    print(f"ratio first-screen/minimal: {ratio:.2f}")
    return 0 if not leaked else 1


if __name__ == "__main__":
    sys.exit(main())

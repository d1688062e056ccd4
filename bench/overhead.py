"""What bncert-tui adds on top of the lego run it wraps: `apply` for one domain against a bare
`lego run` for one domain, on the same real sandbox (pebble + nginx), several runs each, medians.

Each apply gets a fresh Bitnami-like tree (so it really orders a certificate); the bare lego run then
uses that tree's challenge location, as a hand-run lego would. Prints the figures; the last line is
`ratio apply/lego: X`. Target: <= 1.15.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bncert_tui.sandbox import AcmeLab, Sandbox

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {argv}\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> None:
    apply_times: list[float] = []
    lego_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, AcmeLab(Path(tmp) / "acme", authz_reuse=0) as lab:
        for i in range(RUNS):
            with Sandbox("nginx", lab=lab) as box:
                env = box.env()
                apply_times.append(timed([sys.executable, "-m", "bncert_tui", "apply", *box.global_args(),
                                          "--domain", f"a{i}.example.test", "--email", "bench@example.org",
                                          "--accept-tos"], env))
                lego_times.append(timed(["lego", "--server", lab.directory_url, "--accept-tos",
                                         "--email", "bench@example.org", "--path", str(Path(tmp) / f"lego{i}"),
                                         "--http", "--http.webroot",
                                         str(box.installdir / "bncert-tui" / "webroot"),
                                         "-d", f"b{i}.example.test", "run"], env))
            print(f"run {i + 1}: apply {apply_times[-1]:.2f} s, lego run {lego_times[-1]:.2f} s", flush=True)
    apply_med, lego_med = statistics.median(apply_times), statistics.median(lego_times)
    print(f"apply median {apply_med:.2f} s (min {min(apply_times):.2f}), "
          f"lego run median {lego_med:.2f} s (min {min(lego_times):.2f}), "
          f"overhead {apply_med - lego_med:.2f} s over {RUNS} runs each")
    print(f"ratio apply/lego: {apply_med / lego_med:.2f}")


if __name__ == "__main__":
    main()

"""`bncert-tui demo`: the real flow (real lego, pebble, nginx or Apache) against a throw-away sandbox."""

from __future__ import annotations

import os
import sys

DEMO_DOMAINS = ["example.test", "www.example.test"]
DEMO_EMAIL = "admin@example.org"


def run_demo(kind: str, *, unattended: bool = False) -> int:
    from bncert_tui.cli import main
    from bncert_tui.sandbox import Sandbox

    print(f"Starting the sandbox: pebble (a real ACME CA) and a Bitnami-like {kind} on loopback...")
    with Sandbox(kind) as box:  # type: ignore[arg-type]
        os.environ.update(box.lab.env())
        print(f"  install dir {box.installdir}\n  HTTP port {box.http_port}, HTTPS port {box.https_port}\n"
              f"  CA {box.lab.directory_url} (every name resolves to 127.0.0.1)\n")
        interactive = sys.stdin.isatty() and sys.stdout.isatty() and not unattended
        if interactive:
            code = main(["wizard", *box.global_args()])
        else:
            code = main(["apply", *box.global_args(), *[a for d in DEMO_DOMAINS for a in ("--domain", d)],
                         "--email", DEMO_EMAIL, "--accept-tos"])
            if code == 0:
                main(["status", *box.global_args()])
        print(f"\nDemo finished (exit {code}); stopping the sandbox and removing {box.base}.")
        return code

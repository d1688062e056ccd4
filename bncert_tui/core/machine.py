"""A fingerprint of this machine, to notice when a VM was cloned from an image made after the tool ran
(every clone would otherwise renew at the same second)."""

from __future__ import annotations

import glob
import hashlib
import os


def machine_fingerprint() -> str:
    """sha256 of /etc/machine-id and the SSH host public keys (both are regenerated on a proper clone).

    BNCERT_TUI_MACHINE_ID overrides it, so tests can play a cloned VM without touching /etc.
    """
    override = os.environ.get("BNCERT_TUI_MACHINE_ID")
    if override:
        return hashlib.sha256(override.encode()).hexdigest()[:16]
    digest = hashlib.sha256()
    for path in ["/etc/machine-id", *sorted(glob.glob("/etc/ssh/ssh_host_*_key.pub"))]:
        try:
            with open(path, "rb") as fh:
                digest.update(path.encode() + b"\0" + fh.read())
        except OSError:
            continue
    return digest.hexdigest()[:16]

"""The fault matrix: every way a run can fail, on the real sandbox (nginx and Apache), through the CLI.

Each case asserts the exit code, a message naming the cause and the next step, every config file
byte-identical, the previous certificate still served over TLS, no stray challenge file, no lego left
running and the lock released. Each records a row of the matrix printed at the end of the session
(tests/integration/conftest.py) and copied into README's "Safety" section.

Speed: cases that must get past the lego step use a certificate seeded in DIR/letsencrypt (a valid,
not-due certificate for the names, so the plan keeps it and lego is skipped); lego's own failures
and a signal during lego's run use the real lego against pebble.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bncert_tui.core.events import APPLY_STEPS
from bncert_tui.core.lock import LockBusy, RunLock
from bncert_tui.sandbox import Sandbox, free_port, served_certificate
from bncert_tui.sandbox.procs import cmdline, descendants, kill_pids
from bncert_tui.sandbox.tls import make_ca, make_leaf
from tests.integration.cli_helpers import EMAIL, challenge_files

pytestmark = pytest.mark.integration
Record = Callable[[str, str, str], None]


@pytest.fixture(params=["nginx", "apache"])
def box(request: pytest.FixtureRequest) -> Sandbox:
    sandbox: Sandbox = request.getfixturevalue(f"{request.param}_sandbox")
    return sandbox


@pytest.fixture
def record(record_property: Callable[[str, object], None]) -> Record:
    """record(case, kind, outcome): one row of the printed fault matrix."""
    def add(case: str, kind: str, outcome: str) -> None:
        record_property("fault_matrix", json.dumps([case, kind, outcome]))
    return add


# --- running the CLI --------------------------------------------------------------------------------
class Run:
    """The CLI as a child process whose output is read live (to act at a test-pause marker)."""

    def __init__(self, box: Sandbox, *args: str, env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "bncert_tui", *args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**box.env(), **(env or {})}, stdin=subprocess.DEVNULL)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(s, d), daemon=True)
                         for s, d in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, sink: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for(self, marker: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(marker in line for line in self.out + self.err):
            assert self.proc.poll() is None, f"exited before {marker!r}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {marker!r} within {timeout} s:\n{self.text()}"
            time.sleep(0.02)

    def finish(self, timeout: float = 120) -> int:
        rc = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return rc

    def text(self) -> str:
        return "".join(self.out) + "".join(self.err)

    def kill(self) -> None:
        if self.proc.poll() is None:
            kill_pids({self.pid, *descendants(self.pid)})
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def running(box: Sandbox, *args: str, env: dict[str, str] | None = None) -> Iterator[Run]:
    run = Run(box, *args, env=env)
    try:
        yield run
    finally:
        run.kill()


def apply_args(box: Sandbox, *domains: str, server: str | None = None) -> list[str]:
    args = [a if a != box.lab.directory_url or server is None else server for a in box.global_args()]
    args = ["apply", *args, "--email", EMAIL, "--accept-tos"]
    for domain in domains or ("example.test",):
        args += ["--domain", domain]
    return args


def run_apply(box: Sandbox, *domains: str, server: str | None = None, extra: tuple[str, ...] = (),
              env: dict[str, str] | None = None) -> tuple[int, str]:
    with running(box, *apply_args(box, *domains, server=server), *extra, env=env) as run:
        rc = run.finish()
        return rc, run.text()


# --- what must hold after any failure ---------------------------------------------------------------
@dataclass
class Baseline:
    snapshot: dict[str, bytes]
    certs: dict[str, bytes]
    serial: int


def config_snapshot(box: Sandbox) -> dict[str, bytes]:
    """Every file of the web server's tree (but its logs and temp files) and the cron file.

    (cli_helpers.config_snapshot filters on the absolute path's parts, and the sandbox lives under
    /tmp, so it sees only the cron file; this one filters on the path inside the tree.)
    """
    snap = {}
    root = box.installdir / box.kind
    for path in sorted(root.rglob("*")):
        inner = path.relative_to(root).parts
        if path.is_file() and not {"logs", "tmp", "var"} & set(inner) and path.name != "filler.bin":
            snap[str(path.relative_to(box.installdir))] = path.read_bytes()
    assert any(name.endswith(".conf") for name in snap), "the snapshot must hold the config files"
    if box.cron_file.exists():
        snap["<cron>"] = box.cron_file.read_bytes()
    return snap


def lego_files(box: Sandbox) -> dict[str, bytes]:
    root = box.installdir / "letsencrypt" / "certificates"
    return {p.name: p.read_bytes() for p in sorted(root.glob("*"))} if root.is_dir() else {}


def baseline(box: Sandbox) -> Baseline:
    return Baseline(config_snapshot(box), lego_files(box),
                    served_certificate(box.https_port, "example.test").serial_number)


def lego_processes(box: Sandbox) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            line = cmdline(int(entry))
            if line.split(" ", 1)[0].endswith("lego") and str(box.installdir) in line:
                found.append(f"{entry}: {line}")
    return found


def assert_nothing_lost(box: Sandbox, base: Baseline, *, check_certs: bool = True) -> None:
    assert config_snapshot(box) == base.snapshot, "a config file (or the cron file) changed"
    if check_certs:
        assert lego_files(box) == base.certs, "lego's certificate files changed"
    deadline = time.monotonic() + 5  # a graceful reload takes effect asynchronously
    while served_certificate(box.https_port, "example.test").serial_number != base.serial:
        assert time.monotonic() < deadline, "the previous certificate is no longer served"
        time.sleep(0.1)
    assert challenge_files(box) == [], "a challenge file was left behind"
    assert lego_processes(box) == [], "lego is still running"
    lock = box.installdir / "bncert-tui" / "private" / "lock"
    if lock.parent.exists():
        held = RunLock(lock, "test")
        held.acquire()  # raises LockBusy if a run still holds it
        held.release()


def assert_says(text: str, *parts: str) -> str:
    """The message names the cause and the next step; returns the cause line for the matrix."""
    for part in parts:
        assert part in text, f"{part!r} not in output:\n{text}"
    lines = text.splitlines()
    first = next((line for line in lines if line.startswith(("error:", "Interrupted"))), "")
    hint = next((line for line in lines if line.startswith("What to do:")), "")
    return (first.removeprefix("error: ").strip()[:80] + (f" -> {hint[12:].strip()[:70]}" if hint else ""))


def seed_certificate(box: Sandbox, *names: str) -> None:
    """A valid, not-due certificate where lego keeps it: the plan keeps it and skips lego."""
    names = names or ("example.test",)
    directory = box.installdir / "letsencrypt" / "certificates"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    make_leaf(make_ca("seeded test CA"), list(names), [], days=90).write(
        directory / f"{names[0]}.crt", directory / f"{names[0]}.key")


def dns(box: Sandbox, endpoint: str, payload: dict[str, object]) -> None:
    """challtestsrv's management API (the lab's DNS): per-name records for one test's unique name."""
    conn = http.client.HTTPConnection("127.0.0.1", box.lab.dns_mgmt_port, timeout=5)
    try:
        conn.request("POST", endpoint, body=json.dumps(payload))
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 10**9}.test"


# --- the CA and the challenge -----------------------------------------------------------------------
def test_ca_unreachable(box: Sandbox, record: Record) -> None:
    base = baseline(box)
    rc, text = run_apply(box, server=f"https://127.0.0.1:{free_port()}/dir")
    assert rc == 1
    cause = assert_says(text, "lego could not obtain the certificate", "CA is unreachable", "Rolled back")
    assert_nothing_lost(box, base)
    record("CA unreachable", box.kind, f"exit 1: {cause}")


def test_ca_tls_not_trusted(box: Sandbox, record: Record, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_bytes(make_ca("some other CA").cert_pem())
    base = baseline(box)
    rc, text = run_apply(box, env={"LEGO_CA_CERTIFICATES": str(other)})
    assert rc == 1
    cause = assert_says(text, "lego could not obtain", "TLS certificate is not trusted", "LEGO_CA_CERTIFICATES")
    assert_nothing_lost(box, base)
    record("CA's TLS not trusted", box.kind, f"exit 1: {cause}")


@pytest.mark.parametrize("kind", ["nginx", "apache"])
def test_acme_error_responses(kind: str, make_sandbox: Callable[..., Sandbox], record: Record) -> None:
    box = make_sandbox(kind, nonce_reject=100, authz_reuse=100)
    base = baseline(box)
    rc, text = run_apply(box)
    assert rc == 1
    cause = assert_says(text, "lego could not obtain", "badNonce", "CA returned errors", "run again")
    assert_nothing_lost(box, base)
    record("ACME errors (pebble rejects every nonce)", kind, f"exit 1: {cause}")


@pytest.mark.parametrize("how", ["404", "refused", "servfail"])
def test_challenge_unreachable(box: Sandbox, record: Record, how: str) -> None:
    name = unique(how)
    if how == "404":  # the site answers every request itself: caught by the pre-flight, CA not asked
        from tests.integration.test_apply_flow import blocked_host_config

        blocked_host_config(box)
        name = "blocked.test"
    elif how == "refused":  # the name points at 127.0.0.2, where nothing listens
        dns(box, "/add-a", {"host": name, "addresses": ["127.0.0.2"]})
    else:  # the name does not resolve (SERVFAIL)
        dns(box, "/set-servfail", {"host": name})
    base = baseline(box)
    rc, text = run_apply(box, name)
    assert rc == 1
    if how == "404":
        cause = assert_says(text, "challenge path is not reachable", "instead of the token",
                            "No request was sent to the CA")
        assert not (box.installdir / "letsencrypt" / "accounts").exists(), "the CA was contacted"
    else:
        cause = assert_says(text, "lego could not obtain", "could not fetch the challenge",
                            "connection refused" if how == "refused" else "could not resolve")
    assert_nothing_lost(box, base)
    label = {"404": "HTTP 404/403 (pre-flight)", "refused": "connection refused (CA side)",
             "servfail": "name not resolving (SERVFAIL)"}[how]
    record(f"challenge unreachable: {label}", box.kind, f"exit 1: {cause}")


# --- lego ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["missing", "not-executable"])
def test_lego_unusable(box: Sandbox, record: Record, tmp_path: Path, how: str) -> None:
    lego = tmp_path / "lego"
    if how == "not-executable":
        shutil.copyfile("/usr/bin/lego", lego)
        lego.chmod(0o644)
    base = baseline(box)
    rc, text = run_apply(box, extra=("--lego", str(lego)))
    assert rc == 2
    cause = assert_says(text, "lego not found or not executable", "pass --lego")
    assert_nothing_lost(box, base)
    assert not (box.installdir / "bncert-tui").exists(), "nothing may be created before the plan holds"
    record(f"lego {how.replace('-', ' ')}", box.kind, f"exit 2: {cause}")


def test_lego_killed_mid_run(box: Sandbox, record: Record) -> None:
    base = baseline(box)
    with running(box, *apply_args(box)) as run:
        deadline = time.monotonic() + 30
        lego: list[int] = []
        while not lego:
            assert time.monotonic() < deadline and run.proc.poll() is None, run.text()
            lego = [p for p in descendants(run.pid) if cmdline(p).split(" ", 1)[0].endswith("lego")
                    and cmdline(p).endswith(" run")]
            time.sleep(0.02)
        # Killed as soon as it is seen: with authorizations reused, lego can finish in well under a
        # second, so waiting for it to reach the CA would make the kill race its exit.
        os.kill(lego[0], signal.SIGKILL)
        rc = run.finish()
        text = run.text()
    assert rc == 1
    cause = assert_says(text, "lego was killed by signal 9", "run again", "Rolled back")
    assert_nothing_lost(box, base)
    record("lego killed mid-run (SIGKILL to its PID)", box.kind, f"exit 1: {cause}")


# --- the web server -----------------------------------------------------------------------------------
def test_config_test_fails_after_edit(box: Sandbox, record: Record, tmp_path: Path) -> None:
    """A --lego wrapper runs the real lego, then empties the new key: both servers' -t refuse it."""
    key = box.installdir / "letsencrypt" / "certificates" / "example.test.key"
    wrapper = tmp_path / "lego-wrapper"
    wrapper.write_text(f'#!/bin/sh\n/usr/bin/lego "$@"\nrc=$?\nif [ -f {key} ]; then : > {key}; fi\nexit $rc\n')
    wrapper.chmod(0o755)
    base = baseline(box)
    rc, text = run_apply(box, extra=("--lego", str(wrapper)))
    assert rc == 1
    cause = assert_says(text, "configuration test failed after configuring HTTPS",
                        "previous configuration was restored")
    assert_nothing_lost(box, base)
    record("config test fails after the edit (empty key)", box.kind, f"exit 1: {cause}")


def pid_file(box: Sandbox) -> Path:
    from bncert_tui.core.webserver.apache import ApacheServer
    from bncert_tui.core.webserver.nginx import NginxServer

    if box.kind == "nginx":
        return NginxServer(box.installdir).pid_file()
    return ApacheServer(box.installdir)._runtime()[0]


def test_reload_fails(box: Sandbox, record: Record) -> None:
    """The PID file goes stale after the plan is made (paused at the challenge step)."""
    seed_certificate(box)
    base = baseline(box)
    pid_path = pid_file(box)
    saved = pid_path.read_bytes()
    env = {"BNCERT_TUI_TEST_PAUSE_AT": "challenge", "BNCERT_TUI_TEST_PAUSE_SECONDS": "1"}
    try:
        with running(box, *apply_args(box), env=env) as run:
            run.wait_for("test-pause: challenge")
            pid_path.write_text("4194000\n")
            rc = run.finish()
            text = run.text()
    finally:
        pid_path.write_bytes(saved)
    assert rc == 1
    cause = assert_says(text, "failed to reload after adding the challenge location",
                        f"Check that {box.kind} is running")
    assert_nothing_lost(box, base)
    record("reload fails (stale PID file)", box.kind, f"exit 1: {cause}")


def test_server_not_running(box: Sandbox, record: Record) -> None:
    base = baseline(box)
    box.stack.stop(graceful=False)
    try:
        rc, text = run_apply(box)
    finally:
        box.stack.start()
    assert rc == 2
    cause = assert_says(text, f"{box.kind} is not running", "Start it")
    assert_nothing_lost(box, base)
    record("web server not running", box.kind, f"exit 2: {cause}")


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def umount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    mount("--bind", str(directory), str(directory))
    try:
        mount("-o", "remount,ro,bind", str(directory))
        yield
    finally:
        umount(directory)


@contextlib.contextmanager
def full_tmpfs(directory: Path) -> Iterator[None]:
    """`directory`'s files moved onto a small tmpfs, then the tmpfs filled to the last page."""
    keep = Path(tempfile.mkdtemp())
    shutil.copytree(directory, keep, dirs_exist_ok=True)
    size = sum(p.stat().st_size for p in keep.rglob("*") if p.is_file())
    mount("-t", "tmpfs", "-o", f"size={size // 1024 + 512}k,mode=0755", "tmpfs", str(directory))
    try:
        shutil.copytree(keep, directory, dirs_exist_ok=True)
        with (directory / "filler.bin").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        yield
    finally:
        umount(directory)
        shutil.rmtree(keep, ignore_errors=True)


def mounts_permitted() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.mark.skipif(not mounts_permitted(), reason="needs root to mount a read-only bind mount")
def test_config_read_only(box: Sandbox, record: Record) -> None:
    seed_certificate(box)
    with read_only(box.stack.conf_dir):
        base = baseline(box)
        rc, text = run_apply(box)
        assert rc == 1
        cause = assert_says(text, "the file system is read-only", "Remount it read-write")
        assert_nothing_lost(box, base)
    record("config files read-only (ro bind mount)", box.kind, f"exit 1: {cause}")


@pytest.mark.skipif(not mounts_permitted(), reason="needs root to mount a small tmpfs")
def test_disk_full(box: Sandbox, record: Record) -> None:
    seed_certificate(box)
    with full_tmpfs(box.stack.conf_dir):
        with pytest.raises(OSError) as full:
            (box.stack.conf_dir / "probe").write_bytes(b"x" * 8192)
        assert full.value.errno == errno.ENOSPC
        (box.stack.conf_dir / "probe").unlink()
        base = baseline(box)
        rc, text = run_apply(box)
        assert rc == 1
        cause = assert_says(text, "the disk is full", "Free some space")
        assert_nothing_lost(box, base)
    record("disk full while writing (tmpfs)", box.kind, f"exit 1: {cause}")


# --- runs, signals, crashes ---------------------------------------------------------------------------
def test_second_concurrent_run(box: Sandbox, record: Record) -> None:
    seed_certificate(box)
    base = baseline(box)
    env = {"BNCERT_TUI_TEST_PAUSE_AT": "preflight"}
    with running(box, *apply_args(box), env=env) as first:
        first.wait_for("test-pause: preflight")
        during = config_snapshot(box)
        rc, text = run_apply(box)
        assert rc == 1
        cause = assert_says(text, f"in progress: PID {first.pid} (apply, since", "Wait for it to finish")
        assert config_snapshot(box) == during, "the second run changed something"
        with pytest.raises(LockBusy):
            RunLock(box.installdir / "bncert-tui" / "private" / "lock", "test").acquire()
        first.proc.send_signal(signal.SIGTERM)
        assert first.finish() == 143
    assert_nothing_lost(box, base)
    record("second concurrent run", box.kind, f"exit 1: {cause}")


SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
STEP_SIGNALS = [(step, SIGNALS[i % 3]) for i, (step, _title) in enumerate(APPLY_STEPS)]


@pytest.mark.parametrize(("step", "sig"), STEP_SIGNALS, ids=[f"{s}-{g.name}" for s, g in STEP_SIGNALS])
def test_signal_at_step(box: Sandbox, record: Record, step: str, sig: signal.Signals) -> None:
    seed_certificate(box)
    base = baseline(box)
    with running(box, *apply_args(box), env={"BNCERT_TUI_TEST_PAUSE_AT": step}) as run:
        run.wait_for(f"test-pause: {step}")
        run.proc.send_signal(sig)
        rc = run.finish()
        text = run.text()
    assert rc == EXIT[sig], text
    cause = assert_says(text, f"Interrupted ({sig.name})", "every change was rolled back")
    assert_nothing_lost(box, base)
    record(f"{sig.name} at step {step}", box.kind, f"exit {rc}: {cause}")


def test_signal_while_lego_runs(box: Sandbox, record: Record) -> None:
    base = baseline(box)
    with running(box, *apply_args(box)) as run:
        deadline = time.monotonic() + 30
        while not [p for p in descendants(run.pid) if cmdline(p).endswith(" run")]:
            assert time.monotonic() < deadline and run.proc.poll() is None, run.text()
            time.sleep(0.02)
        time.sleep(0.5)  # lego has registered and put its token in the webroot by now, or nearly
        run.proc.send_signal(signal.SIGTERM)
        rc = run.finish()
        text = run.text()
    assert rc == 143, text
    cause = assert_says(text, "Interrupted (SIGTERM)", "rolled back")
    assert_nothing_lost(box, base, check_certs=False)
    assert not (box.installdir / "letsencrypt" / "certificates" / "example.test.crt").exists()
    record("SIGTERM while lego runs", box.kind, f"exit 143: {cause}")


def test_sigkill_between_two_files_is_undone_next_run(box: Sandbox, record: Record) -> None:
    seed_certificate(box)
    base = baseline(box)
    with running(box, *apply_args(box), env={"BNCERT_TUI_TEST_PAUSE_AT": "configure:1"}) as run:
        run.wait_for("test-pause: configure:1")
        half = config_snapshot(box)
        run.proc.send_signal(signal.SIGKILL)
        assert run.finish() == -signal.SIGKILL
    assert half != base.snapshot, "the killed run had changed a file"
    lock = box.installdir / "bncert-tui" / "private" / "lock"
    assert json.loads(lock.read_text())["pid"] == run.pid, "the dead run's PID is still in the lock"

    # The next run first undoes the dead run's changes (this one then stops: its lego is missing).
    rc, text = run_apply(box, extra=("--lego", "/nonexistent/lego"))
    assert rc == 2
    cause = assert_says(text, "left by an interrupted run", f"Took over the lock of PID {run.pid}")
    assert_nothing_lost(box, base)
    manifests = [json.loads(m.read_text()) for m in lock.parent.glob("backups/*/manifest.json")]
    assert [m.get("status") for m in manifests if "status" in m] == ["recovered"]

    # And a normal run then works; its private files are 0600 in 0700 directories.
    rc, text = run_apply(box)
    assert rc == 0, text
    private = box.installdir / "bncert-tui" / "private"
    for path in [private, *private.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} has mode {mode:o}"
    assert cause
    record("SIGKILL between two config files", box.kind,
           "killed (-9); the next run restores the files and reloads; then a run succeeds (exit 0)")


# --- files: symlinks, user edits ----------------------------------------------------------------------
def test_config_symlinked_outside_is_refused(box: Sandbox, record: Record) -> None:
    seed_certificate(box)
    name = "server_blocks/wordpress-server-block.conf" if box.kind == "nginx" else "vhosts/wordpress-vhost.conf"
    inside = box.stack.conf_dir / name
    elsewhere = Path(tempfile.mkdtemp(prefix="elsewhere-")) / inside.name
    try:
        shutil.move(inside, elsewhere)
        inside.symlink_to(elsewhere)
        outside_before = elsewhere.read_bytes()
        base = baseline(box)
        rc, text = run_apply(box)
        assert rc == 2
        cause = assert_says(text, "outside", "under the install dir")
        assert elsewhere.read_bytes() == outside_before and inside.is_symlink()
        assert_nothing_lost(box, base)
    finally:
        if inside.is_symlink():
            inside.unlink()
            shutil.move(elsewhere, inside)
        shutil.rmtree(elsewhere.parent, ignore_errors=True)
    record("config file symlinked out of the install dir", box.kind, f"exit 2: {cause}")


def test_user_edits_survive_a_rerun(box: Sandbox) -> None:
    seed_certificate(box)
    rc, text = run_apply(box)
    assert rc == 0, text
    if box.kind == "nginx":
        path = box.stack.conf_dir / "server_blocks" / "wordpress-https-server-block.conf"
        opener, custom = "ssl default_server;", ["    # my note: keep me", "    location /custom/ { return 204; }"]
        expect = 204
    else:
        path = box.stack.conf_dir / "vhosts" / "wordpress-https-vhost.conf"
        opener, custom = "<VirtualHost", ["  # my note: keep me", "  <Location /custom/>",
                                          "    Require all denied", "  </Location>"]
        expect = 403
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if opener in line) + 1
    path.write_text("\n".join([*lines[:at], *custom, *lines[at:]]) + "\n")
    assert box.stack.reload().returncode == 0
    rc, text = run_apply(box, extra=("--no-https-redirect",))  # a re-run that rewrites the files
    assert rc == 0, text
    assert all(line in path.read_text().splitlines() for line in custom), path.read_text()
    from bncert_tui.sandbox import http_get

    deadline = time.monotonic() + 5
    while http_get(box.https_port, "example.test", "/custom/", tls=True)[0] != expect:
        assert time.monotonic() < deadline, "the user's location is no longer served"
        time.sleep(0.1)


@pytest.mark.parametrize("kind", ["nginx", "apache"])
def test_signal_while_renew_runs_lego(make_sandbox: Callable[..., Sandbox], record: Record, kind: str) -> None:
    """`renew` (what cron runs) interrupted by SIGHUP while lego talks to the CA: lego is stopped, the
    certificate on disk and the one served stay the previous ones, the lock is free for the next run."""
    box = make_sandbox(kind, authz_reuse=0)  # real validation: lego is still running when the signal lands
    rc, text = run_apply(box)
    assert rc == 0, text
    base = baseline(box)
    with running(box, "renew", *box.global_args(), "--force") as run:
        deadline = time.monotonic() + 30
        while not [p for p in descendants(run.pid) if cmdline(p).split(" ", 1)[0].endswith("lego")]:
            assert time.monotonic() < deadline and run.proc.poll() is None, run.text()
            time.sleep(0.02)
        time.sleep(0.5)  # lego has put its token in the webroot by now (validation takes seconds here)
        run.proc.send_signal(signal.SIGHUP)
        rc = run.finish()
        text = run.text()
    assert rc == 129, text
    cause = assert_says(text, "Interrupted")
    assert_nothing_lost(box, base)
    after = subprocess.run([sys.executable, "-m", "bncert_tui", "renew", *box.global_args(), "--json"],
                           env=box.env(), capture_output=True, text=True, check=False)
    assert after.returncode == 0 and '"not-due"' in after.stdout, after.stdout + after.stderr
    record("SIGHUP while renew runs lego", box.kind, f"exit 129: {cause}")

"""A stack as bncert-tool leaves it (real lego issuance from pebble, its markers, symlinks and cron line
in the test's own crontab), then: detection, our challenge location next to bncert-tool's (stage 1),
and strip_config + the adapter's render passing the real config test with the same certificate served.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bncert_tui.core.legacy import crontab_sources, detect, strip_config, strip_cron_text, takeover_files
from bncert_tui.core.legacy_text import FENCE_HTTPS, FENCE_LETSENCRYPT, FENCE_PROXY
from bncert_tui.core.paths import ToolPaths
from bncert_tui.core.plan import read_config
from bncert_tui.core.webserver import detect_web_server
from bncert_tui.core.webserver.base import Site
from bncert_tui.sandbox import Sandbox, http_get, verify_https
from bncert_tui.sandbox.legacy import FOREIGN_CRON, make_bncert_configured
from tests.integration.cli_helpers import wait_serial

pytestmark = pytest.mark.integration

DOMAIN = "legacy.example.test"
EMAIL = "owner@example.org"
CRON_D_FILE = "# a package's job, system format\n17 4 * * * root /usr/bin/true\n"


@pytest.fixture(params=[("nginx", True), ("apache", False)], ids=["nginx-old-cron", "apache-new-cron"])
def case(request: pytest.FixtureRequest) -> tuple[Sandbox, bool]:
    kind, old_cron = request.param
    return request.getfixturevalue(f"{kind}_sandbox"), old_cron


def write_all(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.write_text(text)


def test_detect_then_take_over_config(case: tuple[Sandbox, bool], tmp_path: Path) -> None:
    box, old_cron = case
    spool, cron_d = tmp_path / "spool", tmp_path / "cron.d"
    cron_d.mkdir()
    (cron_d / "other-package").write_text(CRON_D_FILE)
    t0 = time.monotonic()
    made = make_bncert_configured(box, [DOMAIN], EMAIL, old_cron=old_cron, crontab=spool / "bitnami")
    built = time.monotonic() - t0
    # bncert-tool's stack serves lego's certificate, chained to pebble's root.
    assert verify_https(box.https_port, DOMAIN, box.root_pem()).serial_number == made.serial

    # --- detection -------------------------------------------------------------------------------
    sources = crontab_sources(box.installdir, spool=spool, cron_d=cron_d)
    assert (spool / "bitnami", "bitnami") in sources and (cron_d / "other-package", None) in sources
    found = detect(box.installdir, sources)
    assert found.found()
    [line] = found.cron_lines
    assert (line.source, line.user, line.line_no) == (spool / "bitnami", "bitnami", FOREIGN_CRON.count("\n") + 1)
    assert line.domains == [DOMAIN] and line.email == EMAIL and line.old_midnight is old_cron
    assert line.schedule == ("0 0 * * *" if old_cron else "43 0 * * *")
    assert line.user_agent == (None if old_cron else "bitnami-bncert/1.1.0")
    assert line.webroot == str(made.challenge_dir)
    assert found.lego_path == box.installdir / "letsencrypt" / "lego"
    assert found.accounts == [EMAIL]
    [cert] = found.certificates
    assert (cert.name, cert.names, cert.file) == (DOMAIN, (DOMAIN,), made.cert_file)
    assert cert.serial == format(made.serial, "x")
    conf = box.stack.conf_dir
    assert sorted(found.symlinks) == [(conf / f"{DOMAIN}.crt", made.cert_file), (conf / f"{DOMAIN}.key", made.key_file)]
    assert found.cert_directives and all(d.value.startswith(str(conf / DOMAIN)) for d in found.cert_directives)
    assert found.challenge_dir == made.challenge_dir
    words = " ".join(found.describe())
    assert ("every day at 00:00" in words and "170,000" in words) if old_cron else "every day at 00:43" in words
    if box.kind == "nginx":
        assert found.nginx_bncert_conf == conf / "bitnami" / "bncert.conf" and not found.apache_fences
        assert http_get(box.http_port, DOMAIN, "/?y=1")[0] == 200  # bncert-tool adds no redirect on nginx
    else:
        assert found.nginx_bncert_conf is None
        whats = {f.what for f in found.apache_fences}
        assert {FENCE_LETSENCRYPT, FENCE_HTTPS, FENCE_PROXY} <= whats
        status, headers, _ = http_get(box.http_port, DOMAIN, "/?y=1")
        assert (status, headers["location"]) == (302, f"https://{DOMAIN}/?y=1")

    # --- stage 1: our challenge location next to bncert-tool's, nothing stripped -------------------
    web = detect_web_server(box.installdir)
    stack = web.inspect()
    paths = ToolPaths(box.installdir)
    paths.ensure()
    challenge_site = Site(name=DOMAIN, domains=(DOMAIN,), webroot=paths.webroot, https_port=stack.ports.https or 0)
    write_all(web.render(read_config(web, stack), [challenge_site]))
    assert web.config_test().ok, web.config_test().output
    assert web.reload().ok
    token = paths.webroot / ".well-known" / "acme-challenge" / "tok-legacy"
    token.write_text("ours")
    token.chmod(0o644)
    assert http_get(box.http_port, DOMAIN, "/.well-known/acme-challenge/tok-legacy")[2] == b"ours"
    assert wait_serial(box, DOMAIN, made.serial) == made.serial

    # --- stage 2: strip bncert-tool's edits + the full render -------------------------------------
    files = read_config(web, web.inspect())
    site = Site(name=DOMAIN, domains=(DOMAIN,), webroot=paths.webroot, https_port=stack.ports.https or 0,
                cert_file=paths.cert_file(DOMAIN), key_file=paths.key_file(DOMAIN), https_redirect=True,
                www_redirect="none")
    new = takeover_files(web, files, found, [site])
    stripped = strip_config(files, found)
    assert set(stripped) <= set(new)
    write_all(new)
    test = web.config_test()
    assert test.ok, test.output
    assert web.reload().ok
    assert wait_serial(box, DOMAIN, made.serial) == made.serial, "the same certificate must still be served"
    status, headers, _ = http_get(box.http_port, DOMAIN, "/?y=1")
    assert (status, headers["location"]) == (301, f"https://{DOMAIN}:{box.https_port}/?y=1")
    assert http_get(box.http_port, DOMAIN, "/.well-known/acme-challenge/tok-legacy")[2] == b"ours"

    # Nothing of bncert-tool's is in charge any more; a second pass changes nothing.
    cron_text = made.crontab.read_text()
    made.crontab.write_text(strip_cron_text(cron_text))
    after = detect(box.installdir, [(made.crontab, "bitnami")])
    assert not after.cron_lines and not after.replaced_fences and after.nginx_bncert_conf is None
    assert after.symlinks == found.symlinks and not after.found()
    # Only blocks that do not serve the site (Apache's bitnami-ssl.conf _default_ vhost, shadowed by the
    # WordPress vhost) still go through the symlinks, which lead to the same file.
    assert {d.file.name for d in after.cert_directives} <= {"bitnami-ssl.conf"}
    files_after = read_config(web, web.inspect())
    assert strip_config(files_after, found) == {} and strip_config(files_after, after) == {}
    assert takeover_files(web, files_after, after, [site]) == {}
    if box.kind == "apache":
        kept = [f for f in after.apache_fences if f.what == FENCE_PROXY]
        assert kept, "the ProxyPass exclusions stay"
    # The crontab without bncert-tool's line: every other byte as it was.
    assert strip_cron_text(cron_text) == FOREIGN_CRON
    print(f"\n{box.kind}: bncert-tool stack built in {built:.1f} s")

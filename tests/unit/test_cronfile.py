"""cron.d surgery: our lines in, our lines out, everyone else's bytes untouched."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bncert_tui.core.cronfile import (
    TAG_PREFIX,
    CronFile,
    entry_command,
    parse_line,
    render_entry,
)
from bncert_tui.core.schedule import RenewalSchedule

S1 = RenewalSchedule(minute=17, second=42, hour_offset=3)
S2 = RenewalSchedule(minute=5, second=9, hour_offset=0)
ARGV = ["/opt/bitnami/bncert/venv/bin/python", "-m", "bncert_tui", "renew", "--cert", "example.com"]

# Foreign content python-crontab would rewrite: env lines, quotes, odd spacing, @daily, a `0 0`
# line, a tab-indented comment with trailing blanks, a Latin-1 byte, and no newline at the very end.
FOREIGN = (
    b"# /etc/cron.d/ops: managed by hand\n"
    b"SHELL=/bin/sh\n"
    b'MAILTO="ops@example.com"\n'
    b"\n"
    b"*/5  *   * * *   root   test -x /usr/bin/foo && /usr/bin/foo   --flag\n"
    b"@daily www-data /bin/true # trailing comment\n"
    b"0 0 * * * root sudo /opt/bitnami/letsencrypt/lego renew # bncert-autorenew\n"
    b"\t# indented comment \xe9  \n"
    b"30 2 * * 1 root /usr/local/bin/weekly"
)


def foreign_lines(data: bytes) -> list[bytes]:
    return [ln for ln in data.split(b"\n") if TAG_PREFIX.encode() not in ln]


def test_entry_command_and_rendered_line() -> None:
    assert entry_command(S1, ["/usr/bin/lego", "--path", "/a b", "renew"]) == (
        "sleep 42 && /usr/bin/lego --path '/a b' renew")
    line = render_entry("example.com", S1, ARGV, user="bitnami")
    assert line == ("17 3,9,15,21 * * * bitnami sleep 42 && /opt/bitnami/bncert/venv/bin/python "
                    "-m bncert_tui renew --cert example.com # bncert-tui:example.com")


@pytest.mark.parametrize("bad", ["50%", "a\nb", "x\rb"])
def test_percent_and_newlines_are_rejected_naming_the_value(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        entry_command(S1, ["/usr/bin/echo", bad])
    assert repr(bad) in str(info.value)
    with pytest.raises(ValueError):
        render_entry("example.com", S1, ["/usr/bin/echo", bad])


@pytest.mark.parametrize("name", ["", "a b", "a%b", "a\nb"])
def test_bad_cert_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        render_entry(name, S1, ARGV)


def test_odd_arguments_round_trip() -> None:
    argv = ["/usr/bin/x", "it's", "a # b", "$HOME", "back\\slash", '"q"', "ünï"]
    line = render_entry("xn--bcher-kva.example", S2, argv)
    entry = parse_line(line)
    assert entry is not None
    assert entry.cert_name == "xn--bcher-kva.example"
    assert entry.schedule == S2
    assert entry.command == entry_command(S2, argv)
    assert entry.user == "root"


def test_the_shell_runs_the_command_and_ignores_the_tag(tmp_path: Path) -> None:
    out = tmp_path / "out"
    schedule = RenewalSchedule(minute=1, second=1, hour_offset=0)
    argv = ["/bin/sh", "-c", 'printf "%s|" "$@" > "$0"', str(out), "a # b", "it's"]
    with pytest.raises(ValueError):  # '%' is cron's newline: refused
        render_entry("example.com", schedule, argv)
    argv[2] = 'for a in "$@"; do echo "$a"; done > "$0"'
    line = render_entry("example.com", schedule, argv)
    command_with_tag = line.split(None, 6)[6]  # what cron hands to /bin/sh -c
    subprocess.run(["/bin/sh", "-c", command_with_tag], check=True, timeout=10)
    assert out.read_text() == "a # b\nit's\n"


def test_missing_file_has_no_entries(tmp_path: Path) -> None:
    cron = CronFile(tmp_path / "nope")
    assert cron.entries() == []
    assert cron.get("example.com") is None
    assert cron.remove_entry("example.com") is False
    assert not (tmp_path / "nope").exists()


def test_new_file_is_0644_and_planned_text_matches(tmp_path: Path) -> None:
    path = tmp_path / "bncert-tui"
    cron = CronFile(path)
    planned = cron.planned_text("example.com", S1, ARGV)
    assert not path.exists()
    assert cron.write_entry("example.com", S1, ARGV) is True
    assert path.read_text() == planned == render_entry("example.com", S1, ARGV) + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["bncert-tui"]  # no temp file left behind


def test_round_trip_keeps_foreign_lines_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "ops"
    path.write_bytes(FOREIGN)
    os.chmod(path, 0o600)
    cron = CronFile(path)
    planned = cron.planned_text("example.com", S1, ARGV)
    assert cron.write_entry("example.com", S1, ARGV)
    data = path.read_bytes()
    assert data.decode("utf-8", "surrogateescape") == planned
    assert data.startswith(FOREIGN + b"\n")  # only a newline added to end the last foreign line
    assert foreign_lines(data) == foreign_lines(FOREIGN + b"\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # existing mode kept
    entry = cron.get("example.com")
    assert entry is not None and entry.schedule == S1 and entry.user == "root"
    # removing ours gives the foreign bytes back (plus the newline that ends the last line)
    assert cron.remove_entry("example.com")
    assert path.read_bytes() == FOREIGN + b"\n"


def test_two_certs_keep_two_entries_and_removing_one_keeps_the_other(tmp_path: Path) -> None:
    path = tmp_path / "bncert-tui"
    path.write_bytes(FOREIGN + b"\n")
    cron = CronFile(path)
    argv2 = [*ARGV[:-1], "shop.example.org"]
    assert cron.write_entry("example.com", S1, ARGV)
    assert cron.write_entry("shop.example.org", S2, argv2)
    entries = cron.entries()
    assert [(e.cert_name, e.schedule) for e in entries] == [("example.com", S1),
                                                            ("shop.example.org", S2)]
    # replacing the first one keeps its place and leaves the second alone
    s3 = RenewalSchedule(minute=44, second=3, hour_offset=5)
    assert cron.write_entry("example.com", s3, ARGV, user="bitnami")
    entries = cron.entries()
    assert [(e.cert_name, e.schedule, e.user) for e in entries] == [
        ("example.com", s3, "bitnami"), ("shop.example.org", S2, "root")]
    assert cron.remove_entry("example.com")
    assert cron.remove_entry("example.com") is False
    assert [e.cert_name for e in cron.entries()] == ["shop.example.org"]
    assert foreign_lines(path.read_bytes()) == foreign_lines(FOREIGN + b"\n")


def test_same_schedule_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "bncert-tui"
    cron = CronFile(path)
    assert cron.write_entry("example.com", S1, ARGV)
    old = 1_600_000_000
    os.utime(path, (old, old))
    inode = path.stat().st_ino
    assert cron.write_entry("example.com", S1, ARGV) is False
    assert path.stat().st_mtime == old
    assert path.stat().st_ino == inode
    assert cron.planned_text("example.com", S1, ARGV) == path.read_text()


def test_duplicates_of_ours_collapse_to_one(tmp_path: Path) -> None:
    path = tmp_path / "bncert-tui"
    line = render_entry("example.com", S2, ARGV)
    path.write_text(f"{line}\nMAILTO=\"\"\n{line}\n")
    cron = CronFile(path)
    assert cron.write_entry("example.com", S1, ARGV)
    assert path.read_text() == render_entry("example.com", S1, ARGV) + '\nMAILTO=""\n'


def test_edited_or_commented_lines(tmp_path: Path) -> None:
    path = tmp_path / "bncert-tui"
    path.write_text("0 4 * * * root /bin/true # bncert-tui:edited.example\n"
                    "# 17 3,9,15,21 * * * root sleep 42 && x # bncert-tui:off.example\n")
    cron = CronFile(path)
    entries = cron.entries()
    assert [(e.cert_name, e.schedule, e.command) for e in entries] == [
        ("edited.example", None, "/bin/true")]  # ours, but not a shape we write: no schedule
    assert cron.get("off.example") is None  # a commented-out line is a comment


def test_group_writable_file_loses_group_write(tmp_path: Path) -> None:
    path = tmp_path / "bncert-tui"
    path.write_text("MAILTO=root\n")
    os.chmod(path, 0o664)
    assert CronFile(path).write_entry("example.com", S1, ARGV)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_removing_the_last_entry_deletes_our_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "bncert-tui"
    cron = CronFile(path)
    cron.write_entry("example.com", S1, ARGV)
    assert cron.remove_entry("example.com")
    assert not path.exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chown") is None, reason="needs root")
def test_owner_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "bncert-tui"
    path.write_text("MAILTO=root\n")
    os.chown(path, 1, 1)
    assert CronFile(path).write_entry("example.com", S1, ARGV)
    assert (path.stat().st_uid, path.stat().st_gid) == (1, 1)

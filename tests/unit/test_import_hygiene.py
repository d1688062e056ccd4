"""The core never imports textual or rich (so cron runs and --help stay light)."""

import pkgutil
import subprocess
import sys

import bncert_tui.core

CORE_MODULES = sorted(m.name for m in pkgutil.walk_packages(bncert_tui.core.__path__, "bncert_tui.core."))


def test_core_has_modules() -> None:
    assert "bncert_tui.core.apply" in CORE_MODULES
    assert "bncert_tui.core.webserver.nginx" in CORE_MODULES


def _loaded_after_import(module: str) -> set[str]:
    code = (f"import sys, {module}; "
            "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_each_core_module_imports_no_ui() -> None:
    offenders = {m: loaded for m in CORE_MODULES if (loaded := _loaded_after_import(m))}
    assert offenders == {}


def test_cli_help_imports_no_textual() -> None:
    code = ("import sys; from bncert_tui import cli; "
            "import contextlib, io\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    cli.main(['--help'])\n"
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

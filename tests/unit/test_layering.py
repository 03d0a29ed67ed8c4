"""The core must work without the UI or torch: import each core module alone and check sys.modules."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import tui_tagger.core as core

FORBIDDEN = ("textual", "torch", "rich")


def _core_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(core.__path__, prefix="tui_tagger.core.")]


def test_core_modules_import_neither_ui_nor_torch():
    mods = _core_modules()
    assert "tui_tagger.core.vocabulary" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        f"bad = sorted({{k.split('.')[0] for k in sys.modules}} & set({FORBIDDEN!r}))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_help_does_not_import_torch_or_textual():
    code = (
        "import sys, contextlib, io\n"
        "from tui_tagger import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: cli.main(['--help'])\n"
        "    except SystemExit: pass\n"
        f"print(','.join(sorted({{k.split('.')[0] for k in sys.modules}} & set({FORBIDDEN[:2]!r}))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_run_dialogs_options_do_not_import_torch():
    """P and T build their options on the UI thread: torch (a second to import) must stay out of it."""
    code = (
        "import sys\n"
        "from tui_tagger.ui import run_options\n"
        "run_options.predict_options(); run_options.train_options()\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_import_contracts_hold():
    """The layer contracts in pyproject.toml ([tool.importlinter]): core <- model <- learn <- ui <- commands,
    nothing imports upward; a module that breaks one is named in the output. import-linter comes with
    the test extra (pip install -e ".[test]")."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
         "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"],
        cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr

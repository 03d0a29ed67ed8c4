"""Every test gets its own cache and config folders: nothing touches the user's ~/.cache."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("TUI_TAGGER_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("TUI_TAGGER_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("TUI_TAGGER_FSYNC", "0")
    monkeypatch.delenv("TUI_TAGGER_SCHEDULER", raising=False)  # a developer's cluster never runs the tests' models
    # the terminal a test models is its own: a developer's tmux (TMUX) would wrap inline images in passthrough
    monkeypatch.delenv("TMUX", raising=False)
    # the TUI looks at its folder again only where a test asks (tests/ui/test_recheck.py): no change on disk
    # that a test makes reaches the lists at a moment of the recheck's choosing
    monkeypatch.setenv("TUI_TAGGER_RECHECK_S", "0")
    # the journal's fallback folder (and any other temp file) stays in the test's own folder
    tmp = base / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    # the TUI's live head on the numpy-only physics features unless a test asks for the CNN's
    monkeypatch.setenv("TUI_TAGGER_HEAD_FEATURES", "physics")


@pytest.fixture
def data_dir() -> Path:
    return DATA

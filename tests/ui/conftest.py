"""Fixtures for the TUI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import make_folder


@pytest.fixture
def folder(tmp_path) -> Path:
    return make_folder(
        tmp_path / "data",
        tagged={"img00": ["Ring: Isotropic", "TSAXS"], "img01": ["Ring: Isotropic"], "img02": ["TSAXS"]},
    )

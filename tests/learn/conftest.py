"""Fixtures for the learn tests."""

from __future__ import annotations

import pytest
from support import ring_frames_folder


@pytest.fixture
def folder(tmp_path):
    """24 small frames, 18 tagged, one broken (tests/support.py)."""
    return ring_frames_folder(tmp_path)

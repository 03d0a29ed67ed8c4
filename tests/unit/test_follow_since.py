"""core.follow.Follower(backlog="none", since=T): what was there before T is the baseline, what changed from T on
is handed out (the TUI lists the folder, then follows it: nothing written between the two is lost)."""

from __future__ import annotations

import os
import time

import numpy as np
import tifffile

from tui_tagger.core.follow import Follower


def _frame(path) -> None:
    tifffile.imwrite(path, np.zeros((16, 16), np.uint16))


def test_files_changed_since_the_listing_are_new_the_rest_baseline(tmp_path):
    old, fresh = tmp_path / "old.tif", tmp_path / "fresh.tif"
    _frame(old)
    since = os.stat(old).st_ctime + 0.001  # the listing began after old.tif was written...
    while os.stat(fresh).st_ctime < since if fresh.exists() else True:
        _frame(fresh)  # ...and before fresh.tif was (the file system's clock ticks coarsely)
    follower = Follower([tmp_path], backlog="none", since=since, state=False, settle=0.2)
    with follower:
        got = []
        end = time.monotonic() + 10
        while time.monotonic() < end and not got:
            got += follower.next(timeout=0.2)
    assert [a.ref for a in got] == [str(fresh)]


def test_without_since_everything_there_is_the_baseline(tmp_path):
    _frame(tmp_path / "a.tif")
    with Follower([tmp_path], backlog="none", state=False, settle=0.2) as follower:
        assert follower.next(timeout=1.0) == []

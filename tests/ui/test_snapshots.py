"""Snapshots of the main screens (pytest-textual-snapshot). Content is fixed: a folder made here with
seeded frames and tag files, thumbnails and the inspected image rendered and waited for, no paths or
times on screen. Update after an intended change: pytest tests/ui/test_snapshots.py --snapshot-update"""

from __future__ import annotations

import pytest
from textual.worker import WorkerCancelled
from support import make_folder, until

from tui_tagger.ui.app import TaggerApp

RING = "Ring: Isotropic"


@pytest.fixture
def snap_app(tmp_path):
    folder = make_folder(
        tmp_path / "snap", n=8,
        tagged={"img00": [RING, "TSAXS"], "img01": [RING], "img02": ["TSAXS"], "img05": [RING, "Beam Stop"]},
    )
    # no image drawn: the snapshots hold the layout and the text; a frame's pixels are tested elsewhere
    # (tests/unit/test_display.py, tests/ui/test_app.py), and their render raced the snapshot now and then
    return TaggerApp(folder, tag=RING, graphics="none")


async def settle(pilot) -> None:
    """Until the scan, the thumbnails and the inspected image are all in."""
    app = pilot.app
    def thumbnails_in() -> bool:  # (none pending can also mean none asked for yet: the lists not painted)
        return all(app.thumbs.peek(row.path) is not None for lst in (app.pos, app.neg) for row in lst.rows)

    for _ in range(200):
        await pilot.pause(0.05)
        if not app.scanning and app.thumbs.pending == 0 and app.pos.rows and thumbnails_in():
            break
    for _ in range(20):  # an image load replaced by a newer one (exclusive workers) counts as cancelled
        try:
            await app.workers.wait_for_complete()
            break
        except WorkerCancelled:
            await pilot.pause(0.05)
    await pilot.pause(0.2)


def test_main_screen_160x48(snap_app, snap_compare):
    assert snap_compare(snap_app, terminal_size=(160, 48), run_before=settle)


def test_main_screen_80x24(snap_app, snap_compare):
    assert snap_compare(snap_app, terminal_size=(80, 24), run_before=settle)


def test_tag_picker(snap_app, snap_compare):
    async def picker(pilot):
        await settle(pilot)
        await pilot.press("t", *"ring")
        await pilot.pause(0.1)

    assert snap_compare(snap_app, terminal_size=(120, 36), run_before=picker)


def test_help_screen(snap_app, snap_compare):
    async def help_screen(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)

    assert snap_compare(snap_app, terminal_size=(120, 36), run_before=help_screen)


def test_inspect_pane_swapped_in_at_80x24(snap_app, snap_compare):
    async def inspect(pilot):
        await settle(pilot)
        await pilot.press("tab", "tab")  # negatives, then the inspect pane in their place
        app = pilot.app
        checklist = app.inspect.query_one("#checklist")
        # swapped in and focused after the next refresh (then its image loads): wait for that, then settle
        assert await until(pilot, lambda: app.inspect.region.width > 0 and app.focused is checklist)
        await settle(pilot)

    assert snap_compare(snap_app, terminal_size=(80, 24), run_before=inspect)


def test_restore_dialog_after_a_crash(tmp_path, snap_compare):
    folder = make_folder(tmp_path / "snap", n=4, tagged={"img00": [RING]})
    from tui_tagger.core.journal import Journal

    journal = Journal(folder, fsync=False)
    journal.extend([{"image": str(folder / "img01.tif"), "tag": RING, "present": True, "t": 0.0}])
    journal.close()
    assert snap_compare(TaggerApp(folder, tag=RING, graphics="halfcell"), terminal_size=(120, 36),
                        run_before=settle)

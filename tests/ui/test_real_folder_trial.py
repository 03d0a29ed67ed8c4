"""Pilot tests of what a trial on a real beamline folder (tmux, 160x48 and 80x24) found: the grid's labels
of a run of frames must tell the frames apart."""

from __future__ import annotations

from support import RING, app_on, make_folder, ready, until

from tui_tagger.ui.fit import frame_ellipsis

RUN = [f"xsp__latest_{n:07d}_craw.tiff" for n in (61517, 77024, 77026, 77027, 78645, 79035)]


def text_of(strip) -> str:
    return "".join(seg.text for seg in strip)


def test_a_cut_name_keeps_its_frame_number_before_its_extension():
    assert frame_ellipsis("xsp__latest_0081042_craw.tiff", 15) == "xs…0081042_craw"
    assert frame_ellipsis("xsp__latest_0081042_craw.tiff", 10) == "xs…0081042"
    assert frame_ellipsis("fabio__Cr8F8140k103.0026", 10).endswith("0026")  # a numeric "extension" is the number
    assert frame_ellipsis("smi__AgBeh Calibrant.tif", 15) == "smi_…ibrant.tif"  # no digits: the middle cut
    assert frame_ellipsis("img01.tif", 15) == "img01.tif"
    # digits far from the end are no frame number: the middle cut, never 'smi__2022-…2'
    assert frame_ellipsis("smi__2022-2_sample_data.tif", 15) == "smi_…e_data.tif"
    assert frame_ellipsis("fabio__corkcont2_H_0089.mccd.gz", 15) == "fabio__cor…0089"  # the start over the extension


def run_app(where):
    """An app on a folder of frames named as RUN (a real run's names), thumbnails off."""
    folder = make_folder(where, n=len(RUN))
    for i, name in enumerate(RUN):
        (folder / f"img{i:02d}.tif").rename(folder / name)
    return app_on(folder, thumbnails=False)


async def test_the_grid_labels_of_a_run_of_frames_differ_and_show_their_numbers(tmp_path):
    app = run_app(tmp_path / "run")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        lst = app.neg
        app.apply_predictions([(row.path, {RING: 0.70}, None) for row in lst.rows], "model")
        await pilot.press("tab", "v")  # the grid at its first zoom: 17-cell cells at 160 columns
        assert lst.grid
        await pilot.pause(0.1)
        labels = []
        for band in range((len(lst.rows) + lst.cols - 1) // lst.cols):
            line = text_of(lst.render_line(lst.thumb_h + band * lst.row_h))
            width = len(line) // lst.cols
            labels += [line[c * width:(c + 1) * width].strip() for c in range(lst.cols)]
        labels = [label for label in labels if label]
        assert len(labels) == len(RUN)
        # each shows its p and its whole frame number ('0.70 xs…aw.tiff' under every one before)
        for label in labels:
            assert label.startswith("0.70 ") and any(name[12:19] in label for name in RUN), labels
        assert len(set(labels)) == len(labels), labels
        await pilot.press("v")


async def test_the_focused_checklist_cursor_row_and_every_tick_box_are_not_dimmed(folder):
    """tmux, 256 colours: the focused checklist's cursor row drew '[ ]', the source, p and the group in dim
    text on the cursor's colour (dark teal on steel blue), and every row's tick box dim grey."""
    from tui_tagger.ui.widgets.checklist import TagChecklist

    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        checklist = app.inspect.query_one(TagChecklist)
        await pilot.press("tab", "tab")  # the negatives, then the checklist
        assert await until(pilot, lambda: app.focused is checklist)
        await pilot.pause(0.1)
        at = checklist.highlighted - checklist.scroll_offset.y
        cursor = [seg for seg in checklist.render_line(at) if seg.text.strip()]
        assert cursor[0].text == "[ ] " or cursor[0].text == "[x] "
        assert not any(seg.style.dim for seg in cursor), [(seg.text, seg.style) for seg in cursor]
        below = list(checklist.render_line(at + 1))
        assert below[0].text in ("[ ] ", "[x] ") and not below[0].style.dim
        assert any(seg.style.dim for seg in below)  # off the cursor, the source / p / group stay quiet


def test_the_learning_job_keeps_its_counts_in_a_narrow_status_line():
    """80x24, right after a first tick on a real folder: 'learning…atures 26/26' (the job's words cut in
    the middle as if they were a name). The job is shortened to 'learning 26/26' and kept whole."""
    from rich.text import Text

    from tui_tagger.ui.widgets.status_bar import fit_line

    line = Text(" Circular beamstop ", style="bold")
    line.append(" +12 −14  of 26 images  sort: p")
    line.append("  ● 1 unsaved", style="bold")
    line.append("  learning: features 26/26  cmr/log")
    fitted = fit_line(line, 80).plain
    assert "learning 26/26" in fitted and "…atures" not in fitted and fitted.endswith("cmr/log"), fitted
    # where it does not fit even so, it goes whole, and the line says items were cut
    narrow = fit_line(line, 60).plain
    assert "learning" not in narrow or "26/26" in narrow, narrow
    assert narrow.endswith(" …"), narrow


async def test_stepping_through_the_full_screen_image_follows_the_order_the_user_saw(tmp_path):
    """tmux, real frames: z on the first positive, p, then Down through the list: the lists re-sorted by the
    new p while the image was looked at (an idle moment), so Down went from '1/12' to '3/12', one image
    never shown. Under z the lists keep their order; an idle moment after closing re-sorts them."""
    from support import names

    folder = make_folder(tmp_path / "steps", n=8)
    app = app_on(folder, thumbnails=False)
    app.idle_resort_s = 0  # the user rests at once
    app._head_enabled = False
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.neg.focus()
        await pilot.press("home", "z")
        assert await until(pilot, lambda: getattr(app.screen, "holds_list_order", False))
        order = names(app.neg)
        # p arrive that would reverse the list (the last image most likely a mistake: on top)
        app.apply_predictions([(r.path, {RING: i / 10}, None) for i, r in enumerate(app.neg.rows)], "model")
        await pilot.pause(0.5)  # idle ticks pass
        assert names(app.neg) == order and app.neg.cursor == 0
        shown = [app.neg.current.rel]
        for _ in range(len(order) - 1):
            await pilot.press("down")
            shown.append(app.neg.current.rel)
        assert shown == order  # every image once, in the order the user saw
        await pilot.press("escape")
        assert await until(pilot, lambda: names(app.neg) != order)  # resting after closing re-sorts


async def test_ctrl_c_says_which_key_quits_in_plain_words(folder):
    """A new user's ctrl+c showed 'Press [b]ctrl+q[/b] to quit the app' (Textual's markup, shown as it is by
    the app's plain notices)."""
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press("ctrl+c")
        await pilot.pause(0.1)
        messages = [n.message for n in app._notifications]
        assert any("Press q to quit" in m for m in messages), messages
        assert not any("[b]" in m or "[/b]" in m for m in messages), messages
        assert app.is_running  # ctrl+c itself does not quit


async def test_a_zoomed_list_row_keeps_the_frame_number_of_its_name(tmp_path):
    """80x24, rows zoomed to the largest thumbnails: 11 cells for the name, which read 'fabi…df.bz2' and
    'xsp_…aw.tiff'; the frame number is what tells a run's frames apart."""
    app = run_app(tmp_path / "zoom")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        await pilot.press(*["plus"] * 5)  # the largest row zoom (the negatives have the focus: all are there)
        lst = app.neg
        await pilot.pause(0.1)
        assert lst.thumb_w == 24 and app.focused is lst
        for i, row in enumerate(lst.rows[:2]):
            line = text_of(lst.render_line(i * lst.row_h - int(lst.scroll_y)))
            assert "…" in line and row.name[12:19] in line, (line, row.name)
        await pilot.press(*["minus"] * 5)


def test_inside_tmux_a_16_colour_term_still_gets_256_colours(folder, monkeypatch):
    """tmux's default $TERM is 'screen': Rich then drew the thumbnails and the cursor rows in the 16 ANSI
    colours (a focused and a blurred cursor row the same grey). tmux keeps 256 colours itself."""
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.setenv("TERM", "screen")
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    assert app_on(folder).console.color_system == "256"
    monkeypatch.delenv("TMUX")  # outside tmux, what the terminal says stands
    assert app_on(folder).console.color_system == "standard"
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLORTERM", "truecolor")
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    assert app_on(folder).console.color_system == "truecolor"


async def test_the_palettes_screenshot_notice_is_plain_words(folder, tmp_path):
    """ctrl+p → Screenshot said 'Saved screenshot to [$text-success]'…'' (Textual's markup, shown as it is)."""
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        app.deliver_screenshot(path=str(tmp_path))
        assert await until(pilot, lambda: any("screenshot" in n.message for n in app._notifications))
        messages = [n.message for n in app._notifications if "screenshot" in n.message]
        assert len(messages) == 1 and "[$" not in messages[0] and str(tmp_path) in messages[0], messages

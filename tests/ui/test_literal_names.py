"""Pilot tests: names from files reach the screen literally. Control characters (C1 CSI, bidi override,
CR / LF / tab inside a name) in tag names, tag sources and file names show as visible escapes in the
checklist, the tag picker, the image lists, the status bar and the list titles; markup in a name is text."""

from __future__ import annotations

import time

from support import make_folder, ready

from tui_tagger.ui.app import TaggerApp
from tui_tagger.ui.screens.tag_picker import TagPicker
from tui_tagger.ui.widgets.checklist import TagChecklist

C1_TAG, BIDI_TAG, CRLF_TAG, MARKUP_TAG = "Pow\x9b31mder", "\u202eevil", "Bad\r\nna\tme", "[bold red]Markup[/]"
SHOWN = {C1_TAG: "Pow\\x9b31mder", BIDI_TAG: "\\u202eevil", CRLF_TAG: "Bad\\r\\nna\\tme", MARKUP_TAG: MARKUP_TAG}
ODD_FILE = "new\nline\r\ttab\x9b31m\u202e[blink]x.tif"
ODD_FILE_SHOWN = "new\\nline\\r\\ttab\\x9b31m\\u202e[blink]x.tif"
RAW = [chr(c) for c in (*range(0x20), *range(0x7f, 0xa0))] + ["\u202e"]


def raw_controls(text: str) -> list[str]:
    return [c for c in RAW if c in text]


def hostile_folder(tmp_path):
    folder = make_folder(tmp_path / "d", n=3)
    # a <tag_list> keeps a C1 CSI and a bidi override in tag names, and CR/LF/tab in a source attribute
    (folder / "img00.xml").write_bytes(
        f'<tag_list><tag>{C1_TAG}</tag><tag>{BIDI_TAG}</tag><tag source="hu&#10;m&#9;a&#13;n">'
        f"{MARKUP_TAG}</tag></tag_list>".encode())
    # a results XML keeps CR/LF/tab in a tag name (character references in its name attribute)
    (folder / "img01.xml").write_bytes(
        b'<DataFile name="img01"><protocol name="tag_generated" end_timestamp="1">'
        b'<result name="Bad&#13;&#10;na&#9;me" value="True"/></protocol></DataFile>')
    (folder / "img02.tif").rename(folder / ODD_FILE)
    return folder


def text_of(strip) -> str:
    return "".join(s.text for s in strip)


async def until(pilot, cond, limit=10.0):
    end = time.monotonic() + limit
    while not cond() and time.monotonic() < end:
        await pilot.pause(0.05)
    return cond()


async def test_checklist_lists_and_status_show_controls_in_names_visibly(tmp_path):
    folder = hostile_folder(tmp_path)
    app = TaggerApp(folder, tag=C1_TAG, graphics="halfcell")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert app.session.tag == C1_TAG
        # the status bar and the Positive list's title name the tag, its CSI shown
        status = str(app.status.render())
        assert SHOWN[C1_TAG] in status and raw_controls(status) == []
        title = app.pos._border_title.plain  # as drawn (border_title reads back as markup)
        assert SHOWN[C1_TAG] in title and raw_controls(title) == []
        # the image list: the odd file name on one line, escapes shown, no markup applied
        odd = next(i for i, r in enumerate(app.neg.rows) if r.rel == ODD_FILE)
        assert app.neg.rows[odd].name == ODD_FILE_SHOWN
        app.neg.focus()
        app.neg.cursor = odd
        await pilot.pause(0.1)
        y = odd * 3 - int(app.neg.scroll_y)
        line = text_of(app.neg.render_line(y))
        assert ODD_FILE_SHOWN in line and raw_controls(line) == []
        assert await until(pilot, lambda: app.inspect.path == str(folder / ODD_FILE))
        title = str(app.inspect.query_one("#inspect-title").render())
        assert ODD_FILE_SHOWN in title and raw_controls(title) == []

        # img00 in the inspect pane: its checklist shows every tag name (and the odd source) literally
        app.pos.focus()
        assert await until(pilot, lambda: app.inspect.path == str(folder / "img00.tif"))
        checklist = app.inspect.query_one(TagChecklist)
        values = [checklist.get_option_at_index(i).value for i in range(checklist.option_count)]
        for name, shown in SHOWN.items():
            assert name in values  # the option's value is the real name (ticking writes it back as is)
            checklist.highlighted = values.index(name)
            await pilot.pause(0.1)
            drawn = text_of(checklist.render_line(checklist.highlighted - checklist.scroll_offset.y))
            assert shown in drawn and raw_controls(drawn) == [], (name, drawn)
            if name == MARKUP_TAG:
                assert drawn.startswith("[x] hu\\nm")  # the source attribute's newline, shown
        for y in range(checklist.size.height):
            assert raw_controls(text_of(checklist.render_line(y))) == []


async def test_tag_picker_shows_controls_in_tag_names_visibly(tmp_path):
    folder = hostile_folder(tmp_path)
    app = TaggerApp(folder, tag="Ring: Isotropic", graphics="halfcell")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("t")
        assert await until(pilot, lambda: isinstance(app.screen, TagPicker))
        options = app.screen.query_one("#tag-options")
        prompts = {options.get_option_at_index(i).id: options.get_option_at_index(i).prompt
                   for i in range(options.option_count)}
        for name, shown in SHOWN.items():
            plain = prompts[name].plain  # the option's id is the real name: picking it sets that tag
            assert shown in plain and raw_controls(plain) == [], (name, plain)
        assert all(raw_controls(p.plain) == [] for p in prompts.values())
        await pilot.press(*"evil")  # the bidi-override tag, found by what follows the override
        await pilot.pause(0.2)
        assert options.get_option_at_index(options.highlighted).id == BIDI_TAG
        drawn = [text_of(options.render_line(y)) for y in range(options.size.height)]
        assert any(SHOWN[BIDI_TAG] in line for line in drawn)
        assert all(raw_controls(line) == [] for line in drawn)
        await pilot.press("enter")
        assert await until(pilot, lambda: app.session.tag == BIDI_TAG)
        status = str(app.status.render())
        assert SHOWN[BIDI_TAG] in status and raw_controls(status) == []


async def test_notifications_show_controls_in_names_visibly(tmp_path):
    folder = hostile_folder(tmp_path)
    app = TaggerApp(folder, tag="Ring: Isotropic", graphics="halfcell")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        app.notify(f"{folder / ODD_FILE}: cannot read [bold]it[/]")
        await pilot.pause(0.1)
        message = app._notifications.__iter__().__next__().message
        assert ODD_FILE_SHOWN in message and "[bold]it[/]" in message and raw_controls(message) == []


async def test_the_predict_and_train_dialogs_show_a_folder_name_with_controls_visibly(tmp_path):
    from textual.widgets import Static

    from tui_tagger.ui.screens.run_dialog import RunDialog

    folder = make_folder(tmp_path / "run\x1b[31mred\x9b1m[bold]x", n=2)  # ESC / C1 CSI reach the terminal raw
    app = TaggerApp(folder, tag="Ring: Isotropic", graphics="halfcell")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        for key in ("P", "T"):
            await pilot.press(key)
            assert await until(pilot, lambda: isinstance(app.screen, RunDialog))
            texts = [str(w.render()) for w in app.screen.query(Static) if not w.id == "run-error"]
            title, shell = texts[0], texts[-1]
            assert "run\\x1b[31mred\\x9b1m[bold]x" in title and raw_controls(title) == []
            assert "run\\x1b[31mred" in shell and raw_controls(shell) == []  # the config path under the folder's name
            await pilot.press("escape")

"""The tag picker's options (widgets/tag_options.py, one Line-API widget): the current tag highlighted and in
view however small the terminal, the keys skip the group headers, Enter and a click pick."""

from __future__ import annotations

from support import app_on, ready, until

from tui_tagger.ui.screens.tag_picker import TagPicker
from tui_tagger.ui.widgets.tag_options import TagOptions

LAST = "LaB6"  # the vocabulary's last tag (G7): far below the first screen of options at 80x24


def drawn(options: TagOptions) -> list[str]:
    height = options.scrollable_content_region.height
    return ["".join(seg.text for seg in options.render_line(y)) for y in range(height)]


def highlighted(options: TagOptions) -> str:
    return options.get_option_at_index(options.highlighted).id


async def open_picker(app, pilot) -> TagOptions:
    await pilot.press("t")
    assert await until(pilot, lambda: isinstance(app.screen, TagPicker))
    await pilot.pause(0.1)
    return app.screen.query_one("#tag-options", TagOptions)


async def test_at_80x24_the_current_tag_is_highlighted_on_screen_and_keys_skip_the_group_headers(folder):
    app = app_on(folder, tag=LAST)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        options = await open_picker(app, pilot)
        assert highlighted(options) == LAST
        lines = drawn(options)
        at = options.highlighted - options.scroll_offset.y
        assert 0 <= at < len(lines) and LAST in lines[at]
        # the highlight is drawn on its line only
        back = {y: next(iter(options.render_line(y))).style.bgcolor for y in range(len(lines))}
        assert [y for y in back if back[y] == back[at]] == [at]
        # past the last tag, Down goes round to the first one, not to the G1 header above it
        await pilot.press("down")
        first = highlighted(options)
        assert not options.get_option_at_index(options.highlighted).disabled
        assert options.get_option_at_index(options.highlighted - 1).disabled  # the G1 header
        assert first in drawn(options)[options.highlighted - options.scroll_offset.y]
        await pilot.press("up")
        assert highlighted(options) == LAST
        # Up from a group's first tag goes to the last tag of the group above (its header skipped)
        g2 = next(i for i in range(options.option_count) if options.get_option_at_index(i).id
                  and options.get_option_at_index(i - 1).disabled and i > 1)
        options.highlighted = g2
        await pilot.press("up")
        assert options.highlighted == g2 - 2
        # PageDown moves a page of lines on and lands on a tag; Enter picks it
        before = options.highlighted
        await pilot.press("pagedown")
        assert options.highlighted >= before + options.scrollable_content_region.height - 1
        picked = highlighted(options)
        assert picked is not None
        await pilot.press("enter")
        assert await until(pilot, lambda: app.session.tag == picked)


async def test_a_click_on_a_tag_picks_it(folder):
    app = app_on(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        options = await open_picker(app, pilot)
        await pilot.press(*"tsax")  # typed: the matches only, TSAXS first
        await pilot.pause(0.1)
        assert highlighted(options) == "TSAXS"
        line = options.get_option_index("TSAXS") - options.scroll_offset.y
        # (the widget's border is its first line; the text starts after a column of padding)
        await pilot.click(TagOptions, offset=(4, 1 + line))
        assert await until(pilot, lambda: app.session.tag == "TSAXS")

"""Pilot tests: an empty list says why it is empty and what to do, on its first line (a blank pane said
nothing)."""

from __future__ import annotations

from support import app_on, ready, until


def first_line(lst) -> str:
    return "".join(seg.text for seg in lst.render_line(0))


async def test_a_tag_with_no_positives_says_p_predicts(folder):
    app = app_on(folder, tag="Beam Stop")  # no image has it
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert not app.pos.rows and app.neg.rows
        assert "no images with Beam Stop — p predicts" in first_line(app.pos)
        assert "img" in first_line(app.neg)  # a list with rows shows its first row there, no hint
    narrow = app_on(folder, tag="Instrumental: beamstop shadow")  # too long for the hint at 80 columns
    async with narrow.run_test(size=(80, 24)) as pilot:
        await ready(narrow, pilot)
        line = first_line(narrow.pos).rstrip()
        assert "no image has this tag — p predicts" in line and "…" not in line  # shorter, whole, in a narrow list


async def test_a_filter_matching_nothing_in_a_list_says_how_to_clear_it(folder):
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("slash", *"img02", "enter")  # img02 has TSAXS only: Negative
        assert await until(pilot, lambda: app.filter_text == "img02" and not app.pos.rows)
        assert "none match the filter — / then Enter clears it" in first_line(app.pos)
        await pilot.press("v")  # the grid view says it too
        assert "/ then Enter clears it" in first_line(app.pos)
        await pilot.press("v", "slash", "enter")
        assert await until(pilot, lambda: app.filter_text == "" and app.pos.rows)
        assert "clears" not in first_line(app.pos) and "img0" in first_line(app.pos)


async def test_moving_the_last_image_of_a_list_follows_it_to_the_other(folder):
    """With a filter showing one image, m moves it and the cursor goes with it: m again moves it back (the
    cursor stayed on the emptied list, and m did nothing)."""
    app = app_on(folder)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        await pilot.press("slash", *"img02", "enter")  # img02 lacks the tag: Negative
        assert await until(pilot, lambda: app.filter_text == "img02" and len(app.neg.rows) == 1)
        app.neg.focus()
        await pilot.press("m")
        assert await until(pilot, lambda: len(app.pos.rows) == 1 and not app.neg.rows)
        assert app.focused is app.pos and app.pos.current.name.startswith("img02")
        await pilot.press("m")
        assert await until(pilot, lambda: len(app.neg.rows) == 1 and not app.pos.rows)
        assert app.focused is app.neg

"""The screen's repaint of changed spans (ui/widgets/span_repaint.py) sends the terminal what Textual's own
partial update sends, byte for byte (less the cursor moves Textual sends with nothing drawn after them), for
the regions a key changes and for arbitrary ones."""

from __future__ import annotations

import random
import re

from support import app_on, make_folder, ready
from textual._compositor import Compositor
from textual.geometry import Region

from tui_tagger.ui.widgets import span_repaint


# a cursor move with nothing drawn after it (Textual sends one for a piece of a line that starts where a
# changed span ends): not a difference the screen shows
BARE_MOVE = re.compile(r"\x1b\[\d+;\d+H(?=\x1b\[\d+;\d+H|\n|$)")


def both(app, regions) -> tuple[str, str]:
    """(ours, Textual's) terminal output for ``regions`` changed, bare cursor moves left out."""
    comp = app.screen._compositor
    screen = comp.size.region  # (Textual clips what changed to the screen before it gets here)
    regions = [r.intersection(screen) for r in regions if r.intersection(screen)]
    comp._dirty_regions.clear()
    comp._dirty_regions.update(regions)
    ours = span_repaint.render_partial_update(comp)
    comp._dirty_regions.update(regions)
    theirs = Compositor.render_partial_update(comp)
    return tuple(BARE_MOVE.sub("", update.render_segments(app.console)) for update in (ours, theirs))


async def test_changed_spans_reach_the_terminal_as_textual_sends_them(tmp_path):
    app = app_on(make_folder(tmp_path / "f", n=30, tagged={f"img{i:02d}": ["Ring: Isotropic"] for i in range(0, 30, 3)}))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(app, pilot)
        assert app.screen._compositor.render_partial_update.__func__ is span_repaint.render_partial_update
        await pilot.press("down", "down", "space", "tab", "down")
        await pilot.pause(0.3)
        pos, title, status = app.pos.region, app.inspect.query_one("#inspect-title").region, app.status.region
        cases = [
            [Region(pos.x, pos.y + 3, pos.width, 6), title, status],  # a Down: two rows, the title, the status
            [pos],  # a scroll
            [Region(0, 0, 160, 48)],
            [app.neg.region, Region(150, 40, 30, 20)],  # and one partly off screen
        ]
        rng = random.Random(7)
        for _ in range(20):
            cases.append([Region(rng.randrange(160), rng.randrange(48), rng.randrange(1, 80), rng.randrange(1, 12))
                          for _ in range(rng.randrange(1, 5))])
        for regions in cases:
            ours, theirs = both(app, regions)
            assert ours == theirs and theirs, regions


def test_the_terminal_output_is_written_in_order_and_at_once_after_the_switch():
    """The driver's output thread gives way to writes in the UI thread (_InPlaceWriter): what the thread still
    held is written first, then each write reaches the terminal before the call returns (no thread's turn)."""
    import io
    import threading

    from textual.drivers._writer_thread import WriterThread

    class Terminal(io.StringIO):
        def fileno(self):
            return 1

    class Driver:
        pass

    class App:
        pass

    terminal, driver, app = Terminal(), Driver(), App()
    thread = driver._writer_thread = WriterThread(terminal)
    app._driver = driver
    gate = threading.Event()

    def write(text, write=terminal.write):
        if threading.current_thread() is thread:  # the thread is slow
            gate.wait(5)
        return write(text)

    terminal.write = write
    thread.start()
    driver._writer_thread.write("first ")
    threading.Timer(0.2, gate.set).start()
    span_repaint._write_in_place(app)
    assert isinstance(driver._writer_thread, span_repaint._InPlaceWriter)
    driver._writer_thread.write("second")
    assert terminal.getvalue() == "first second"
    driver._writer_thread.stop()

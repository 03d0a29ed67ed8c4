"""The TUI's long jobs on a big folder (issue 20, a million frames): review's start (`r`, then `r` for the
outliers and `r` to leave), the tag counts (`t`: the picker with its counts) and a name filter (`/`: one that
matches, one that matches nothing, then cleared). For each: the UI thread's longest hold from the key until
its result is on screen (the event loop's longest stall, a 1 ms sleeper's; keys' own repaints included),
the time the key's handlers and the result's took on the UI thread, how long until the result showed, and
Down and Up in turn meanwhile (~30/s, key-press-to-repaint); for `t`, also when the picker first painted.

``BENCH_STALLS=FILE``: every thread's stack written there whenever the UI thread stalls past 150 ms
(``BENCH_STALLS_MS``: another threshold).
Run by ``bench_tui.py --data DIR --jobs`` after its other figures (the same app, warm, every row loaded).
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import time

from textual import events

from bench_tui import spread  # (benchmarks/ is on the path: run from there)

# the handlers of these keys and of their results, in any tree (a name a tree lacks is skipped)
TIMED = ("action_review", "on_review_found", "on_lists_split", "action_pick_tag", "_filtered",
         "on_names_checked", "on_tags_counted")


class Stalls:
    """The event loop's (the UI thread's) stalls: a task that sleeps 1 ms and notes how late it wakes."""

    def __init__(self) -> None:
        self.longest, self.running = 0.0, True
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        last = time.perf_counter()
        dump = open(os.environ["BENCH_STALLS"], "w") if os.environ.get("BENCH_STALLS") else None
        past = float(os.environ.get("BENCH_STALLS_MS", 150)) / 1000
        while self.running:
            if dump is not None:  # every thread's stack, from C (no GIL), when the loop stalls past 150 ms
                faulthandler.dump_traceback_later(past, file=dump)
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - 0.001)
            last = now

    def reset(self) -> None:
        self.longest = 0.0

    async def stop(self) -> None:
        self.running = False
        await self.task
        faulthandler.cancel_dump_traceback_later()


class Handlers:
    """Time spent in the handlers named in TIMED (patched on each class of the app's MRO, or the tag picker,
    that defines one: Textual calls each class's own handler)."""

    def __init__(self, app) -> None:
        from tui_tagger.ui.screens.tag_picker import TagPicker

        self.spent: list[tuple[str, float]] = []
        for name in TIMED:
            for cls in (*type(app).__mro__, TagPicker):
                if name in cls.__dict__:
                    setattr(cls, name, self._timed(name, cls.__dict__[name]))

    def _timed(self, name, fn):
        spent = self.spent

        def timed(*args, **kw):
            t = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                spent.append((name, time.perf_counter() - t))

        timed.__name__ = fn.__name__
        return timed

    def take(self) -> str:
        out = ", ".join(f"{n} {s * 1000:.0f}" for n, s in self.spent)
        self.spent.clear()
        return out or "none"


async def held_keys(app, clock, done, every: float = 0.033) -> list[float]:
    """Down and Up in turn every ``every`` s until ``done()`` (as bench_tui.held_down, whose Down alone stops
    repainting at a short list's end: a review's), each key's press-to-repaint latency."""
    lat: list[float] = []
    while not done():
        t = time.perf_counter()
        app.post_message(events.Key("down" if len(lat) % 2 == 0 else "up", None))
        lat.append(await clock.next_after(t))
        await asyncio.sleep(max(0.0, every - (time.perf_counter() - t)))
    return lat


async def long_jobs(app, pilot, clock, timeout: float = 180.0) -> None:
    from tui_tagger.ui.screens.tag_picker import TagPicker

    stalls, handlers = Stalls(), Handlers(app)
    pending = getattr(app, "lists_pending", lambda: None)
    said: list[str] = []  # every notification (the app's own list drops them as they time out)
    notify = app.notify
    app.notify = lambda message, *a, **kw: (said.append(str(message)), notify(message, *a, **kw))[1]
    notes = lambda: said  # noqa: E731

    async def job(label: str, start, done, keys: bool = True) -> None:
        await pilot.pause(0.5)
        handlers.take()
        stalls.reset()
        t = time.perf_counter()
        start()
        if keys:
            lat = await held_keys(app, clock, lambda: done() or time.perf_counter() - t > timeout)
        else:
            while not done() and time.perf_counter() - t < timeout:
                await asyncio.sleep(0.002)
        took = time.perf_counter() - t
        print(f"{label}: done in {took:.2f} s{' (TIMED OUT)' if took > timeout else ''}; UI thread's longest hold "
              f"{stalls.longest * 1000:.0f} ms; handlers (ms) {handlers.take()}"
              + (f"; Down/Up meanwhile: {spread(lat)}" if keys else ""))

    # the live head's features first (the bench's m started them): r waits for them, as a user would
    t = time.perf_counter()
    while getattr(app, "_head_loading", False) and time.perf_counter() - t < timeout:
        await asyncio.sleep(0.1)
    print(f"(live head's features in after {time.perf_counter() - t:.1f} s more)")
    app.pos.focus()
    for _ in range(3):  # r: questionable labels (or, none found, straight on to the outliers), outliers, off
        was, before = app.review_mode, len(notes())
        await job(f"r from review {was}", lambda: app.post_message(events.Key("r", "r")),
                  lambda: not app._review_pending and pending() is None and (
                      app.review_mode != was or len(notes()) > before and "failed" in notes()[-1]))
        print(f"   review now: {app.review_mode}, lists +{len(app.pos.rows):,} -{len(app.neg.rows):,}")
        if app.review_mode is None:
            break

    def counted() -> bool:
        screen = app.screen
        return isinstance(screen, TagPicker) and isinstance(getattr(screen, "counts", None), dict) and bool(screen.counts)

    # the picker is another screen (the repaint clock watches the lists'): its opening timed instead of keys
    opened = []

    def picker_counted() -> bool:
        if isinstance(app.screen, TagPicker) and not opened:
            opened.append(time.perf_counter())
        return counted()

    pressed, painted = [], []
    paint = TagPicker._compositor_refresh  # (Screen's): the picker's first repaint noted

    def noted(screen) -> None:
        paint(screen)
        painted.append(time.perf_counter())

    TagPicker._compositor_refresh = noted
    await job("t -> tag picker with counts", lambda: (pressed.append(time.perf_counter()),
                                                      app.post_message(events.Key("t", "t"))), picker_counted, keys=False)
    del TagPicker._compositor_refresh
    print(f"   the picker pushed after {(opened[0] - pressed[0]) * 1000:.0f} ms, painted after "
          f"{(painted[0] - pressed[0]) * 1000:.0f} ms" if opened and painted else "   no picker")
    app.screen.dismiss(None)
    app.pos.focus()
    for needle, want in (("frame_1", "match"), ("no-such-name", "none"), ("", "all")):
        before = len(notes())

        def landed(needle=needle, want=want, before=before) -> bool:
            if pending() is not None or getattr(app, "_names_pending", None):
                return False
            if want == "none":
                return len(notes()) > before
            return app.filter_text == needle

        await job(f"/ {needle or '(empty: all)'}", lambda needle=needle: app.call_later(app._filtered, needle), landed)
        print(f"   filter: {app.filter_text!r}, lists +{len(app.pos.rows):,} -{len(app.neg.rows):,}"
              + (f"; note: {notes()[-1][:80]}" if want == "none" and len(notes()) > before else ""))
    await stalls.stop()

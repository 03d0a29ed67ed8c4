"""The inspect pane's image (a mixin of TaggerApp): the selected row shown, its frame decoded and rendered
in a worker process (``ui/decoding.py``) for a thread worker that posts ``ImageRendered`` / ``ImageFailed``
(only the newest request is served: the pane follows the cursor without holding it), and the display keys
(colour map, scaling, expression) whose settings are adopted once an image renders with them.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from textual import work

from tui_tagger.core.errors import TaggerError
from tui_tagger.ui import backend, decoding
from tui_tagger.ui.messages import ImageFailed, ImageRendered, InspectResized
from tui_tagger.ui.screens.dialogs import PromptDialog
from tui_tagger.ui.widgets import halfcell

REST_S = 0.1  # a cursor still this long gets its details and image (a held key repeats every 30-40 ms, at
# the slow end of the usual settings every ~90 ms: a repeat still counts as moving)


class RenderingMixin:
    _frame: tuple = (None, None)  # (path, Frame) of the inspected image while a heat map is on
    _inspect_box: "_Latest | None" = None
    _last_move = 0.0  # monotonic time of the last cursor move (_show_selected)
    _rest_timer = None
    _shown = -1  # session.version when the inspect pane was last filled

    def _show_selected(self) -> None:
        """The inspect pane follows the cursor's row without holding it: while the cursor moves (a held key:
        moves closer than REST_S), only the title follows each move; the checklist, p, the metadata and the
        image (``_show_details``) once the cursor rests, so that filling them never delays the next key (the
        checklist's ticks and their repaint were ~1.3 ms of each key). Not while the pane has the focus (keys
        there act on what the checklist shows), nor when the image shown changed (a tag change, an undo)."""
        row = self.active_list().current
        self._shown = self.session.version
        moving = False
        if row is not None and row.path != self.inspect.path:  # on to another image (else its state changed)
            now = time.monotonic()
            moving, self._last_move = now - self._last_move < REST_S, now
        if row is not None:
            self.seen.add(row.path)
        if moving and row is not None and not self.inspect.has_focus_within:
            self.inspect.show_title(row, self._show_details)
            if self._rest_timer is None:
                self._rest_timer = self.set_timer(REST_S, self._rested)
            return
        self._show_details()

    def _show_details(self) -> None:
        """The inspect pane filled for the cursor's row, its image asked for unless drawn as it is."""
        row = self.active_list().current
        self.inspect.show_row(row, self.session.tags(row) if row else {}, self.session.vocab, self.session.tag)
        if row is None or row.error or self.inspect.size.width <= 0:
            return
        if self.heatmap_mode == "off" and self.inspect.shown_key == (row.path, self.settings.key(),
                                                                      self.inspect.pixel_size()):
            return  # drawn as it is (a correction shows its image again)
        self.load_image(row.path, self.settings)

    def _rested(self) -> None:
        self._rest_timer = None
        if not self.screen_stack:  # the app is closing (its screens are gone): nothing to draw into
            return
        wait = self._last_move + REST_S - time.monotonic()
        if wait > 0.002:  # still moving: look again when it may have stopped
            self._rest_timer = self.set_timer(wait, self._rested)
            return
        self.inspect.show_details()

    def load_image(self, path: str, settings, remember: bool = False) -> None:
        """Render ``path`` into the inspect pane (in worker processes); ``remember``: adopt ``settings`` once
        it did. Only the newest request matters: one held Down asks for many images, and those passed over
        while one decodes are never decoded (the cursor never waits for them)."""
        if self._inspect_box is None:
            self._inspect_box = _Latest()
        want_frame = self.heatmap_mode != "off"  # a heat map needs the pixels here; else they stay in the worker
        if self._inspect_box.put((path, settings, self.inspect.pixel_size(), remember, want_frame)):
            self.render_images(self._inspect_box)

    @work(thread=True, group="image", description="image")
    def render_images(self, box: "_Latest") -> None:
        """Serves the box's newest request until none is left (one such worker at a time)."""
        try:
            while (req := box.take()) is not None:
                self._render_one(*req)
        except BaseException:
            box.take()  # the next request starts a worker again
            raise

    def _render_one(self, path: str, settings, size: tuple[int, int], remember: bool, want_frame: bool) -> None:
        try:
            rgb, meta, frame = decoding.render(path, settings, size, want_frame)
        except Exception as err:  # the worker pool broke twice
            rgb, meta, frame = None, f"{path}: cannot show: {err}", None
        if rgb is None:
            self.post_message(ImageFailed(path, meta, remember))
            return
        heat_note, heat_key = "", ""
        if frame is not None:
            rgb, heat_note, heat_key = self.heat_overlay(path, frame, rgb)  # h: a heat map over it
        if self.graphics == "halfcell":
            halfcell.warm(rgb)  # its cells made here, not in the UI thread's repaint (the image is pre-sized)
        from PIL import Image as PILImage

        pil = PILImage.fromarray(rgb)
        if heat_note:
            meta = {"heat map": heat_note, **meta}
        self.post_message(ImageRendered(path, pil, meta, (path, settings.key() + heat_key, size), frame,
                                        settings if remember else None))

    def on_image_rendered(self, msg: ImageRendered) -> None:
        if msg.frame is not None:
            self._frame = (msg.path, msg.frame)
        if msg.settings is not None:
            self._commit_settings(msg.settings)
        self._image_loaded(msg.path, msg.image, msg.meta, msg.key)

    def on_image_failed(self, msg: ImageFailed) -> None:
        if msg.remember:  # a bad expression: say so, keep the image as it was
            self.notify(msg.message, severity="error", timeout=8)
        else:
            self._image_failed(msg.path, msg.message)

    def _image_loaded(self, path, pil, meta, key=None) -> None:
        if self.inspect.path == path:
            self.inspect.show_image(pil, meta, key)

    def _image_failed(self, path: str, message: str) -> None:
        if path in self.session.index:
            self.session.row(path).error = message
            self.pos.refresh_paths({path})
            self.neg.refresh_paths({path})
        if self.inspect.path == path:
            self.inspect.show_error(message)

    def on_inspect_resized(self, _: InspectResized) -> None:
        row = self.active_list().current
        if row is not None and row.path == self.inspect.path and not row.error:
            self.load_image(row.path, self.settings)  # the frame is cached: a re-render only

    # ---- zoom and the grid view (+, -, v; ui/zoom.py remembers them) ---------------------------------
    def apply_zoom(self) -> None:
        """The lists' rows (or grid cells) and thumbnails at the zoom's size."""
        w, h = self.zoom.thumb_cells()
        if self.thumbs is not None:
            self.thumbs.set_size(self.zoom.thumb_pixels(self.thumb_cell))
        for lst in (self.pos, self.neg):
            lst.set_geometry(w, h, self.zoom.grid)

    def _zoom_changed(self) -> None:
        self.apply_zoom()
        problem = self.zoom.save()
        if problem:
            self.notify(problem, severity="warning", timeout=6)

    def action_zoom_in(self) -> None:
        if self.zoom.step(1):
            self._zoom_changed()

    def action_zoom_out(self) -> None:
        if self.zoom.step(-1):
            self._zoom_changed()

    def action_grid(self) -> None:
        self.zoom.grid = not self.zoom.grid
        self._zoom_changed()

    # ---- display settings --------------------------------------------------------------------
    def _thumb_settings(self):
        return dataclasses.replace(self.settings, expression="")

    def _commit_settings(self, settings) -> None:
        self.settings = settings
        if self.thumbs is not None and self._thumb_settings() != self.thumbs.settings:
            self.thumbs.set_settings(self._thumb_settings())
        self.pos.refresh()
        self.neg.refresh()

    def _apply_settings(self, **changes) -> None:
        try:
            settings = dataclasses.replace(self.settings, **changes)
        except TaggerError as err:
            self.notify(str(err), severity="error")
            return
        row = self.active_list().current
        if row is None or row.error:
            self._commit_settings(settings)
        else:
            self.load_image(row.path, settings, remember=True)

    def action_colormap(self) -> None:
        names = backend.colormap_names()
        cur = self.settings.colormap
        self._apply_settings(colormap=names[(names.index(cur) + 1) % len(names)] if cur in names else names[0])

    def action_scaling(self) -> None:
        order = ("log", "gamma", "linear")
        self._apply_settings(scaling=order[(order.index(self.settings.scaling) + 1) % 3])

    def action_expression(self) -> None:
        self.push_screen(
            PromptDialog("Image expression on img (e.g. log1p(img), img - background(img)); empty for none",
                         self.settings.expression, "img"),
            lambda text: None if text is None else self._apply_settings(expression=text.strip()),
        )


class _Latest:
    """A one-request box between the UI thread (``put``) and the render worker (``take``): a newer request
    replaces an older one not yet taken."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._req = None
        self._serving = False

    def put(self, req) -> bool:
        """Leave ``req``; True when no worker is serving the box (the caller starts one)."""
        with self._lock:
            self._req = req
            start, self._serving = not self._serving, True
        return start

    def take(self):
        """The newest request, or None (and the worker ends) when there is none."""
        with self._lock:
            req, self._req = self._req, None
            if req is None:
                self._serving = False
        return req

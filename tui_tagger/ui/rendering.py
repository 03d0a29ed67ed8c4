"""The inspect pane's image (a mixin of TaggerApp): the selected row shown, its frame decoded and rendered
in a worker that posts ``ImageRendered`` / ``ImageFailed``, and the display keys (colour map, scaling,
expression) whose settings are adopted once an image renders with them.
"""

from __future__ import annotations

import dataclasses

from textual import work

from tui_tagger.core.errors import TaggerError
from tui_tagger.ui import backend
from tui_tagger.ui.messages import ImageFailed, ImageRendered, InspectResized
from tui_tagger.ui.screens.dialogs import PromptDialog


class RenderingMixin:
    _frame: tuple = (None, None)  # (path, Frame) of the inspected image, so a colour map change doesn't re-read
    _shown = -1  # session.version when the inspect pane was last filled

    def _show_selected(self) -> None:
        row = self.active_list().current
        self._shown = self.session.version
        self.inspect.show_row(row, self.session.tags(row) if row else {}, self.session.vocab, self.session.tag)
        if row is not None:
            self.seen.add(row.path)
            if not row.error and self.inspect.size.width > 0:
                self.load_image(row.path, self.settings)

    def load_image(self, path: str, settings, remember: bool = False) -> None:
        """Render ``path`` into the inspect pane (in a worker); ``remember``: adopt ``settings`` once it did."""
        self.render_image(path, settings, self.inspect.pixel_size(), self._frame, remember)

    @work(thread=True, exclusive=True, group="image")
    def render_image(self, path: str, settings, size: tuple[int, int], cached: tuple, remember: bool) -> None:
        try:
            cached_path, frame = cached
            if cached_path != path:
                frame = backend.read_frame(path)
            rgb = backend.render(frame, settings, size)
            rgb, heat_note, heat_key = self.heat_overlay(path, frame, rgb)  # h: a heat map over it
        except TaggerError as err:
            self.post_message(ImageFailed(path, str(err), remember))
            return
        except Exception as err:  # never a traceback on screen
            self.post_message(ImageFailed(path, f"{path}: cannot show: {err}"))
            return
        from PIL import Image as PILImage

        pil = PILImage.fromarray(rgb)
        meta = {"format": frame.format, **{k: v for k, v in frame.meta.items() if not isinstance(v, (list, dict))}}
        if heat_note:
            meta = {"heat map": heat_note, **meta}
        self.post_message(ImageRendered(path, pil, meta, (path, settings.key() + heat_key, size), frame,
                                        settings if remember else None))

    def on_image_rendered(self, msg: ImageRendered) -> None:
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

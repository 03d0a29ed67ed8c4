"""Where the model looks / where the anomaly is: a heat map over the inspect image (a mixin of TaggerApp).

``h`` cycles off -> Grad-CAM of the current tag (``model.cam``) -> outlier patches against the folder
(``learn.patches``) -> off. Maps are computed in a thread worker (torch is imported there, never on the
UI thread), kept per (mode, image, tag), and alpha-blended into the RGB picture before it goes to the
image widget; the inspect pane's metadata line says what is shown. The image re-renders when its map
arrives, and moving the cursor with a mode on computes the next image's map.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from textual import work

from tui_tagger.ui.messages import HeatReady, HeatRequested

MODES = ("off", "cam", "patches")
LABELS = {"cam": "where the model looks (Grad-CAM)", "patches": "where the anomaly is (outlier patches)"}
ALPHA = 0.65  # opacity at heat 1 (heat 0 leaves the image as it is)
HEAT_RGB = np.array([80, 255, 80], dtype=np.float32)  # lime: apart from every colour map's hues
_KEEP = 64  # maps kept in memory


def blend(rgb: np.ndarray, heat: np.ndarray, alpha: float = ALPHA, color: np.ndarray = HEAT_RGB) -> np.ndarray:
    """uint8 (H, W, 3) with ``heat`` (H, W, in [0, 1]) blended in: out = rgb (1 - a h) + color a h."""
    a = (np.clip(np.nan_to_num(heat, nan=0.0), 0.0, 1.0) * np.float32(alpha))[..., None]
    out = rgb.astype(np.float32) * (1 - a) + color * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def model_label(path) -> str:
    """The model as a user knows it: its file ('tagger.pt (shipped)', or the path of their own model),
    never the training-stage name inside the checkpoint."""
    from pathlib import Path

    from tui_tagger.core.text import printable
    from tui_tagger.model.locate import shipped_model_paths  # no torch

    try:
        shipped = Path(path).resolve() in {p.resolve() for p in shipped_model_paths()}
    except (OSError, RuntimeError):
        shipped = False
    return f"{Path(path).name} (shipped)" if shipped else printable(str(path))


class _Heat:
    """One computed map: ``result`` has ``to_frame(shape)`` (CamResult, PatchMap), or None with ``note``
    saying why there is no map."""

    def __init__(self, result, note: str, detail: str = "") -> None:
        self.result, self.note = result, note  # note: the metadata line's (short)
        self.detail = detail or note  # the notice's


class _CamModels:
    """The app's Grad-CAM model, loaded in a heat-map worker and kept there (the app holds this box, the
    workers fill it). One model, one Grad-CAM at a time: its hooks are per module."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.model = None  # model.cam.CamModel

    def get(self, model: str | None):
        """Under ``self.lock``: the loaded model, loaded again when ``model`` names another one."""
        from tui_tagger.model.cam import CamModel

        cm = self.model
        if cm is None or (model and cm.path != str(model)):
            cm = self.model = CamModel(model)
        return cm


class HeatmapMixin:
    heatmap_mode = "off"
    _heat_cache: OrderedDict | None = None
    _heat_pending: set | None = None
    _heat_told: str | None = None  # the last note announced since the toggle
    _cams: _CamModels | None = None

    # ---- the key ----------------------------------------------------------------------------
    def action_heatmap(self) -> None:
        self.heatmap_mode = MODES[(MODES.index(self.heatmap_mode) + 1) % len(MODES)]
        self._heat_told = None
        if self._heat_cache:  # failures are tried again
            for k in [k for k, h in self._heat_cache.items() if getattr(h, "failed", False)]:
                del self._heat_cache[k]
        row = self.active_list().current
        if self.heatmap_mode == "off":
            self.notify("Heat map off.", timeout=3)
        elif row is None or row.error:
            self.notify(f"Heat map: {LABELS[self.heatmap_mode]}; no image to show it on.", timeout=4)
        elif self.inspect.size.width == 0:  # 80x24: the lists fill the screen, the map waits for the pane
            self.notify(f"Heat map: {LABELS[self.heatmap_mode]}: tab shows it in the inspect pane.", timeout=5)
        else:
            self.notify(f"Heat map: {LABELS[self.heatmap_mode]}: computing…", timeout=3)
        if row is not None and not row.error and self.inspect.size.width > 0:
            self.load_image(row.path, self.settings)  # re-rendered with (or without) the map

    def _heat_key(self, path: str) -> tuple:
        return (self.heatmap_mode, path, self.session.tag if self.heatmap_mode == "cam" else "")

    # ---- called by the render worker (ui/rendering.py, a thread) ---------------------------
    def heat_overlay(self, path: str, frame, rgb: np.ndarray) -> tuple[np.ndarray, str, str]:
        """(rgb with the current mode's map blended in, a note for the metadata line, a cache-key part).
        Where the map is not computed yet, asks for it (the image is shown again when it arrives)."""
        if self.heatmap_mode == "off":
            return rgb, "", ""
        key = self._heat_key(path)
        cache = self._heat_cache if self._heat_cache is not None else {}
        heat = cache.get(key)
        if heat is None:
            self.post_message(HeatRequested(key, frame))
            return rgb, f"{self.heatmap_mode}: computing…", f"{key}:pending"
        if heat.result is None:
            return rgb, heat.note, f"{key}:none"
        try:
            return blend(rgb, heat.result.to_frame(rgb.shape[:2])), heat.note, str(key)
        except Exception as err:  # never lose the image to its overlay
            return rgb, f"{self.heatmap_mode}: cannot overlay: {err}", f"{key}:none"

    # ---- computing ---------------------------------------------------------------------------
    def on_heat_requested(self, msg: HeatRequested) -> None:
        key, frame = msg.key, msg.frame
        if self._heat_pending is None:
            self._heat_pending = set()
        if key in self._heat_pending or key[0] != self.heatmap_mode:
            return
        self._heat_pending.add(key)
        mode, path, tag = key
        items = []
        if mode == "patches":
            items = [(r.path, r.size, r.mtime_ns) for r in self.session.rows if not r.error]
        model = (getattr(self, "predict_options", None) or {}).get("model") or getattr(self, "model", None)
        if self._cams is None:
            self._cams = _CamModels()
        self.compute_heat(key, frame, items, model, self._cams)

    @work(thread=True, group="heatmap", description="heatmap")
    def compute_heat(self, key: tuple, frame, items: list, model: str | None, cams: _CamModels) -> None:
        import time

        from tui_tagger.core.errors import TaggerError

        mode, path, tag = key
        t0 = time.perf_counter()
        try:
            heat = self._cam(frame, tag, model, cams) if mode == "cam" else self._patches(frame, path, items)
        except Exception as err:  # never a traceback: say why, once, and keep the image as it is
            what = "Grad-CAM" if mode == "cam" else "outlier patches"
            heat = _Heat(None, f"{what}: {err}" if isinstance(err, TaggerError) else f"{what}: {type(err).__name__}: {err}")
            heat.failed = True
        heat.seconds = time.perf_counter() - t0
        self.post_message(HeatReady(key, heat))

    def _cam(self, frame, tag: str, model: str | None, cams: _CamModels) -> _Heat:
        with cams.lock:
            cm = cams.get(model)
            if tag not in cm.tags:
                return _Heat(None, f"the model has no tag {tag!r}: no Grad-CAM",
                             f"Grad-CAM: the model ({model_label(cm.path)}) has no tag {tag!r} and no head for it, so no "
                             f"map ({len(cm.tags)} tags; tui-tagger train-head learns one; h again: outlier patches)")
            r = cm.cam(frame.data, frame.mask, tag)
        if r.empty:
            return _Heat(None, f"Grad-CAM {tag}: no evidence for it anywhere (network p={r.p:.2f})")
        return _Heat(r, f"Grad-CAM {tag} (network p={r.p:.2f}: before the physics check)",
                     f"Heat map: where {model_label(cm.path)} looks for {tag} (Grad-CAM, the network's "
                     f"p={r.p:.2f}, before the physics check); h: outlier patches")

    def _patches(self, frame, path: str, items: list) -> _Heat:
        from tui_tagger.learn import patches

        if len(items) < 2:
            return _Heat(None, "outlier patches: the folder needs 2+ readable images to compare with")
        reference = patches.folder_reference(items)
        pm = patches.patch_map(frame.data, frame.mask, reference)
        r, c = pm.top
        how = "per position" if pm.per_position else "pooled"
        return _Heat(pm, f"outlier patches: top z {pm.top_score:.1f} at row {r + 1} col {c + 1}",
                     f"Heat map: where this image differs from the folder ({patches.GRID}x{patches.GRID} patches "
                     f"vs {pm.reference_images} images, {how}); top z {pm.top_score:.1f} at row {r + 1} col {c + 1}")

    def on_heat_ready(self, msg: HeatReady) -> None:
        key, heat = msg.key, msg.heat
        if self._heat_pending is not None:
            self._heat_pending.discard(key)
        if self._heat_cache is None:
            self._heat_cache = OrderedDict()
        self._heat_cache[key] = heat  # a failure too: said once, tried again on the next toggle
        while len(self._heat_cache) > _KEEP:
            self._heat_cache.popitem(last=False)
        if key[0] != self.heatmap_mode:
            return  # toggled on meanwhile
        failed = getattr(heat, "failed", False)
        if self._heat_told is None or (failed and heat.note != self._heat_told):
            # the first map after a toggle, and a new reason for having none, get a one-line notice
            self._heat_told = heat.note
            self.notify(heat.detail, severity="warning" if heat.result is None else "information",
                        timeout=6, markup=False)  # tag names are literal
        row = self.active_list().current
        if row is not None and row.path == key[1] and self.inspect.path == key[1]:
            self.load_image(row.path, self.settings)

"""Where in an image the anomaly sits: per-patch anomaly scores against the folder (as in the AI4SD report
"Detect Defects in Electron Microscopy Images", 2022: scores per patch, not per image).

numpy only (no torch). A frame is log-normalised as for the physics features (``physics._block_mean``,
``physics._log_normalised``: at most ``_WORK_SIDE`` px a side) and cut into ``GRID`` x ``GRID`` patches
at relative positions, so frames of any size line up. Each patch is described by ``FEATURES`` (intensity,
texture, gradient and spectral statistics). A ``PatchReference`` holds, per patch position and feature,
the folder's median and robust spread (MAD, floored); a patch's score is the RMS of its 3 largest robust
z-scores, so a
patch scores high where this image differs from what the folder's images have at the same place. With
fewer than ``MIN_PER_POSITION`` reference images, the positions are pooled (all patches of all images).

Patch features are cached on disk per image (``learn.featcache``, source ``patches``) and the folder's
reference is kept in memory per folder listing, so the second map of a folder costs one frame's work.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from tui_tagger.learn.physics import _WORK_SIDE, _block_mean, _log_normalised

GRID = 8
FEATURES = ("mean", "std", "max", "bright", "gradient", "coherence", "high-frequency", "masked")
NF = len(FEATURES)
VERSION = f"patches-v2-g{GRID}-f{NF}"
MIN_PER_POSITION = 8  # reference images needed for per-position statistics
MAX_REFERENCE = 256  # images of a folder that form its reference (an even spread of the listing)
SHOW = 4.0  # a patch scoring this (robust z RMS) or more is drawn at full heat when it is the top one
_Z_CLIP = 20.0
# the smallest spread each feature is measured against (all are on about [0, 1] scales): a feature that
# is constant over the folder (no masked pixels anywhere) does not make a few masked pixels a 100-sigma event
_MIN_SCALE = np.array([0.02, 0.01, 0.02, 0.01, 0.005, 0.05, 0.03, 0.05])
_TOP_Z = 3  # a patch's score: RMS of its 3 largest robust z-scores (an anomaly changes a few features)


@dataclass
class PatchGeometry:
    """How frame pixels map to patches: frame row r -> work row r // f -> patch min(r // f // ph, GRID-1)."""

    frame_shape: tuple[int, int]
    f: int  # block-mean factor frame -> work image
    ph: int  # work rows per patch
    pw: int  # work columns per patch

    def index(self, shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(patch row per row, patch column per column) of the frame, or of a ``shape`` grid laid over the
        whole frame (a display rendering), sampled at its pixel centres."""
        rows, cols = self.frame_shape
        r = np.arange(rows) if shape is None else ((np.arange(shape[0]) + 0.5) * rows / shape[0]).astype(np.intp)
        c = np.arange(cols) if shape is None else ((np.arange(shape[1]) + 0.5) * cols / shape[1]).astype(np.intp)
        return (np.minimum(r // self.f // self.ph, GRID - 1).astype(np.intp),
                np.minimum(c // self.f // self.pw, GRID - 1).astype(np.intp))


def geometry(frame_shape: tuple[int, int]) -> PatchGeometry:
    rows, cols = int(frame_shape[0]), int(frame_shape[1])
    f = max(1, math.ceil(max(rows, cols) / _WORK_SIDE))
    return PatchGeometry((rows, cols), f, max(1, (rows // f) // GRID), max(1, (cols // f) // GRID))


def patch_features(data: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """float32 (GRID, GRID, NF): ``FEATURES`` of each patch of the log-normalised frame."""
    data = np.asarray(data, dtype=np.float32)
    valid = np.isfinite(data) if mask is None else (np.asarray(mask, dtype=bool) & np.isfinite(data))
    out = np.zeros((GRID, GRID, NF), dtype=np.float32)
    if data.ndim != 2 or valid.sum() < 16 or min(data.shape) < GRID:
        out[..., FEATURES.index("masked")] = 1.0
        return out
    geo = geometry(data.shape)
    small, sv = _block_mean(np.where(valid, data, 0), valid, geo.f)
    img = _log_normalised(small, sv)
    # cut to whole patches; the remainder (< GRID work px) joins the last patch row/column in the mapping
    rows, cols = geo.ph * GRID, geo.pw * GRID
    img, sv = img[:rows, :cols], sv[:rows, :cols]
    gy, gx = np.gradient(img)
    w = sv.astype(np.float32)

    def blocks(a: np.ndarray) -> np.ndarray:  # (GRID, GRID, ph*pw)
        return a.reshape(GRID, geo.ph, GRID, geo.pw).transpose(0, 2, 1, 3).reshape(GRID, GRID, -1)

    b_img, b_w = blocks(img), blocks(w)
    n = b_w.sum(-1)
    nz = np.maximum(n, 1)
    mean = (b_img * b_w).sum(-1) / nz
    var = ((b_img - mean[..., None]) ** 2 * b_w).sum(-1) / nz
    top = np.where(b_w > 0, b_img, 0).max(-1)
    mag = blocks(np.hypot(gx, gy)).mean(-1)
    jxx, jyy, jxy = blocks(gx * gx).sum(-1), blocks(gy * gy).sum(-1), blocks(gx * gy).sum(-1)
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / np.maximum(jxx + jyy, 1e-12)
    # spectral: share of each patch's power above half the Nyquist frequency (noise, sharp peaks, edges)
    p = img.reshape(GRID, geo.ph, GRID, geo.pw).transpose(0, 2, 1, 3)
    p = p - p.mean(axis=(2, 3), keepdims=True)
    power = np.abs(np.fft.rfft2(p)) ** 2
    fy = np.fft.fftfreq(geo.ph)[:, None]
    fx = np.fft.rfftfreq(geo.pw)[None, :]
    high = np.hypot(fy, fx) > 0.25
    total = power.sum(axis=(2, 3))
    hf = (power * high).sum(axis=(2, 3)) / np.maximum(total, 1e-12)
    out[..., 0] = mean
    out[..., 1] = np.sqrt(var)
    out[..., 2] = top
    # share of the patch above the frame's 99.5th percentile (1 after the normalisation): hot spots
    out[..., 3] = ((b_img > 1.0) & (b_w > 0)).sum(-1) / nz
    out[..., 4] = mag
    out[..., 5] = coherence
    out[..., 6] = hf
    out[..., 7] = 1.0 - n / b_w.shape[-1]
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


class PatchReference:
    """The folder's distribution of patch features: median and robust scale per position and feature."""

    def __init__(self, X: np.ndarray) -> None:
        X = np.asarray(X, dtype=np.float64).reshape(-1, GRID, GRID, NF)
        if len(X) == 0:
            raise ValueError("a patch reference needs at least one image")
        self.n = len(X)
        pooled = X.reshape(-1, NF)
        g_med = np.median(pooled, axis=0)
        g_scale = 1.4826 * np.median(np.abs(pooled - g_med), axis=0)
        g_scale = np.maximum(g_scale, _MIN_SCALE)
        self.per_position = self.n >= MIN_PER_POSITION
        if self.per_position:
            self.median = np.median(X, axis=0)
            mad = 1.4826 * np.median(np.abs(X - self.median), axis=0)
            # a position where every image agrees (a beamstop in the same place): its spread is not 0
            self.scale = np.maximum(mad, np.maximum(0.25 * g_scale, _MIN_SCALE))
        else:
            self.median = np.broadcast_to(g_med, (GRID, GRID, NF))
            self.scale = np.broadcast_to(g_scale, (GRID, GRID, NF))

    def scores(self, feats: np.ndarray) -> np.ndarray:
        """(GRID, GRID) float32: RMS of each patch's largest robust z-scores (0 = typical of the folder)."""
        z = (np.asarray(feats, dtype=np.float64) - self.median) / self.scale
        z2 = np.sort(np.minimum(z * z, _Z_CLIP**2), axis=-1)[..., -_TOP_Z:]
        return np.sqrt(z2.mean(axis=-1)).astype(np.float32)


@dataclass
class PatchMap:
    scores: np.ndarray  # (GRID, GRID) robust z RMS
    heat: np.ndarray  # (GRID, GRID) in [0, 1]
    geometry: PatchGeometry
    reference_images: int
    per_position: bool

    @property
    def top(self) -> tuple[int, int]:
        """(patch row, patch column) of the highest score."""
        i = int(np.argmax(self.scores))
        return divmod(i, GRID)

    @property
    def top_score(self) -> float:
        return float(self.scores.max())

    def to_frame(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """The heat on the frame's pixel grid (or on a display grid of ``shape`` over the whole frame)."""
        ri, ci = self.geometry.index(shape)
        return np.ascontiguousarray(self.heat[np.ix_(ri, ci)], dtype=np.float32)


def heat_of(scores: np.ndarray) -> np.ndarray:
    """Scores -> [0, 1]: the top patch at 1 when it is clearly unusual (>= SHOW), fainter otherwise."""
    top = float(scores.max()) if scores.size else 0.0
    return np.clip(scores / max(top, SHOW), 0.0, 1.0).astype(np.float32)


def patch_map(data: np.ndarray, mask: np.ndarray | None, reference: PatchReference,
              feats: np.ndarray | None = None) -> PatchMap:
    feats = patch_features(data, mask) if feats is None else feats
    scores = reference.scores(feats)
    return PatchMap(scores, heat_of(scores), geometry(np.shape(data)), reference.n, reference.per_position)


# ---- the folder ---------------------------------------------------------------------------------
Item = tuple[str, int, int]  # (image ref, size, mtime_ns): the feature cache's key


def _features_of(ref: str) -> np.ndarray | None:
    from tui_tagger.core.errors import TaggerError
    from tui_tagger.core.formats import read_image

    try:
        frame = read_image(ref)
        return patch_features(frame.data, frame.mask)
    except (TaggerError, ValueError, MemoryError, FloatingPointError):
        return None  # unreadable images take no part in the reference


def sample_items(items: Sequence[Item], limit: int = MAX_REFERENCE) -> list[Item]:
    """An even, deterministic spread of at most ``limit`` items (runs of similar frames are sampled across)."""
    items = list(items)
    if len(items) <= limit:
        return items
    idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


def folder_features(items: Sequence[Item], cache_dir=None, workers: int | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] | None = None) -> dict[int, np.ndarray]:
    """Patch features by position in ``items`` (unreadable images left out), through the disk cache."""
    from tui_tagger.learn.featcache import FeatureCache

    items = list(items)
    cache = FeatureCache("patches", VERSION, cache_dir)
    try:
        found = {i: v.reshape(GRID, GRID, NF) for i, v in cache.get_many(items).items() if v.size == GRID * GRID * NF}
        todo = [i for i in range(len(items)) if i not in found]
        done = len(found)
        if progress:
            progress(done, len(items))
        if todo:
            workers = workers or max(1, min(8, (os.cpu_count() or 2) - 1))
            new = []
            with ThreadPoolExecutor(workers) as pool:
                for i, feats in zip(todo, pool.map(lambda i: _features_of(items[i][0]), todo)):
                    if cancelled and cancelled():
                        break
                    done += 1
                    if feats is not None:
                        found[i] = feats
                        new.append((*items[i], feats.ravel()))
                    if progress and (done % 32 == 0 or done == len(items)):
                        progress(done, len(items))
            cache.put_many(new)
    finally:
        cache.close()
    return found


_REFERENCES: dict[tuple, PatchReference] = {}


def folder_reference(items: Sequence[Item], cache_dir=None, **kw) -> PatchReference:
    """The reference of a folder's listing (an even spread of at most MAX_REFERENCE images), kept in
    memory for the same listing. Raises ValueError when no image could be read."""
    sample = sample_items(items)
    key = (str(cache_dir), tuple(sample))
    ref = _REFERENCES.get(key)
    if ref is None:
        feats = folder_features(sample, cache_dir, **kw)
        if not feats:
            raise ValueError("no readable image in the folder to compare with")
        ref = PatchReference(np.stack(list(feats.values())))
        _REFERENCES.clear()  # one folder at a time
        _REFERENCES[key] = ref
    return ref


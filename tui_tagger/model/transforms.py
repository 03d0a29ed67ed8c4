"""The one preprocessing function, shared by training and inference and stored in each checkpoint.

numpy only (no torch), so decoding workers and a remote client can run it without the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tui_tagger.core.hotpixels import hot_pixels
from tui_tagger.core.photons import normalised, photon_gain, whole_numbers

# Version the behaviour: a checkpoint trained with another version must not be fed different inputs.
PREPROCESS_VERSION = 1

DEFAULT_PREPROCESS: dict[str, Any] = {
    "version": PREPROCESS_VERSION,
    "size": 256,  # the model sees size x size
    "floor_percentile": 1.0,  # robust background floor subtracted before log1p
    "pmin": 0.5,  # percentiles (of valid pixels, after log) mapped to 0 and 1
    "pmax": 99.9,
    "fit": "pad",  # "pad": pad to a square (masked) first, keeps ring shapes; "stretch": do not
    "reduce": "max",  # block reduction when shrinking: "max" keeps thin peaks and streaks, or "mean"
    # what masked pixels, detector gaps and the padding to a square become. 0 (the first models) is also
    # the darkest real pixel, so padding can pass for a dark region (a strip detector's padding looked like
    # a GISAXS horizon); -1 sits outside [0, 1], so the network can tell what is not a pixel at all.
    "invalid": 0.0,
    # isolated hot pixels and zingers (``core.hotpixels``) masked: block max would make each a dot of
    # scattering. Checkpoints stored before the key get it too: it changes only such pixels.
    "hot": True,
    # a frame of more than _MAX_GAIN units per photon (``core.photons``: an integrating detector's ADU,
    # counts per second) brought to _MAX_GAIN before log1p, whose knee is one unit, and normalised
    # intensities (core.photons.NORMALISED_BELOW) to photons: the network's input no longer depends on the
    # frame's units outside that range. Checkpoints stored before get it too.
    "unit": True,
}
INVALID_VALUES = (0.0, -1.0)

# Percentiles from at most this many valid pixels (a fixed stride, so the result is deterministic).
_SAMPLE = 1 << 18
# Hot pixels are looked for this many times further above the floor than the 99th percentile: a zinger or a
# hot pixel stands far above the frame's scattering, and a frame of noise alone then has no candidate to
# look at (the check cost 0.7 ms per megapixel there when every top-0.1 % pixel was one). The 99th, not
# pmax's 99.9th: 0.1 % of hot pixels would be that percentile themselves.
_HOT_LEVEL, _HOT_PERCENTILE = 2.0, 99.0
_MAX_GAIN = 4.0  # see _photon_unit
# Hot pixels over 1 in this many pixels (5 % of the top 0.1 % that pmax cuts) shift the percentiles: they
# are taken again without them. Fewer (a real frame's 0-9) change nothing and cost no second pass.
_HOT_SHARE_OF_TAIL = 20000


def preprocess_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default config with ``overrides`` applied; unknown keys or values are refused."""
    cfg = dict(DEFAULT_PREPROCESS)
    for key, value in (overrides or {}).items():
        if key not in cfg:
            raise ValueError(f"unknown preprocessing option {key!r}")
        cfg[key] = value
    if cfg["version"] != PREPROCESS_VERSION:
        raise ValueError(f"preprocessing version {cfg['version']} is not supported (this is {PREPROCESS_VERSION})")
    if not isinstance(cfg["size"], int) or not 64 <= cfg["size"] <= 1024:
        raise ValueError(f"preprocessing size must be a whole number from 64 to 1024, not {cfg['size']!r}")
    if cfg["invalid"] not in INVALID_VALUES:
        raise ValueError(f"preprocessing invalid must be one of {INVALID_VALUES}, not {cfg['invalid']!r}")
    for key in ("hot", "unit"):
        if not isinstance(cfg[key], bool):
            raise ValueError(f"preprocessing {key} must be true or false, not {cfg[key]!r}")
    if cfg["fit"] not in ("pad", "stretch") or cfg["reduce"] not in ("max", "mean"):
        raise ValueError(f"bad preprocessing fit/reduce: {cfg['fit']!r}/{cfg['reduce']!r}")
    return cfg


def preprocess(data: np.ndarray, mask: np.ndarray | None, config: dict[str, Any]) -> np.ndarray:
    """Detector counts -> float32 (size, size) in [0, 1]; masked and non-finite pixels, hot pixels
    (``config["hot"]``), and the padding to a square, -> ``config["invalid"]`` (0 or -1; a block with any
    valid pixel is valid).

    log1p(x - floor), then percentiles of the valid pixels set the range, then resize. Percentiles are
    taken on the counts (log1p is monotonic, so the order statistics are the same), once, on a strided
    sample. With block-max reduction the per-pixel mapping is monotonic, so it commutes with the max:
    shrink first, then map (masked pixels enter as -inf, which maps to 0): the same result, ~2x faster.
    """
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 2 or data.size == 0:
        raise ValueError(f"expected a 2-D image, got shape {data.shape}")
    size = int(config["size"])
    valid = np.isfinite(data)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    all_valid = bool(valid.all())  # the common case: no copy through the mask (the same values, in order)
    values = data.ravel() if all_valid else data[valid]
    invalid = np.float32(config.get("invalid", 0.0))
    if not values.size:
        return np.full((size, size), invalid, dtype=np.float32)
    if values.size > _SAMPLE:
        values = values[:: values.size // _SAMPLE]
    qs = (config["floor_percentile"], config["pmin"], config["pmax"])
    floor, lo, hi, p99 = _percentiles(values, (*qs, _HOT_PERCENTILE))
    unit = _photon_unit(data, None if all_valid else valid, values) if config.get("unit", False) else 1.0
    find_hot = bool(config.get("hot", False))
    hot = np.empty(0, dtype=np.intp)
    hot_level = floor + _HOT_LEVEL * (p99 - floor)
    if find_hot and config["reduce"] != "max":
        hot = hot_pixels(data, None if all_valid else valid, floor, hot_level)
        if hot.size:
            valid.flat[hot] = False  # our own array (isfinite's), never the caller's mask
            all_valid = False
    if config["reduce"] == "max":
        x = _resize(data if all_valid else np.where(valid, data, np.float32(-np.inf)), size, config["fit"], "max",
                    -np.inf)
        if np.shares_memory(x, data):  # a frame already of the input size: to_unit works in place
            x = x.copy()
        if find_hot:  # found from the shrunk frame's bright blocks: no second pass over the frame
            hot = _drop_hot(x, data, None if all_valid else valid, floor, hot_level, config["fit"])
            if hot.size * _HOT_SHARE_OF_TAIL > data.size:
                valid.flat[hot] = False
    if hot.size * _HOT_SHARE_OF_TAIL > data.size:  # enough of them to have raised the top percentile: again
        values = data[valid]
        floor, lo, hi = _percentiles(values[:: max(1, values.size // _SAMPLE)], qs)
    lo = np.log1p(max(lo - floor, 0.0) * unit)
    hi = np.log1p(max(hi - floor, 0.0) * unit)
    scale = 1.0 / (hi - lo) if hi > lo else 0.0

    def to_unit(x: np.ndarray) -> np.ndarray:  # in place; -inf -> 0
        np.subtract(x, np.float32(floor), out=x)
        np.clip(x, 0.0, None, out=x)
        if unit != 1.0:
            np.multiply(x, np.float32(unit), out=x)
        np.log1p(x, out=x)
        np.subtract(x, np.float32(lo), out=x)
        np.multiply(x, np.float32(scale), out=x)
        return np.clip(x, 0.0, 1.0, out=x)

    if config["reduce"] == "max":
        hole = np.isneginf(x) if invalid else None
        x = to_unit(x)
    else:
        x = _resize(to_unit(np.where(valid, data, np.float32(-np.inf))), size, config["fit"], "mean", 0.0)
        hole = _resize(valid.astype(np.float32), size, config["fit"], "max", 0.0) == 0 if invalid else None
    if hole is not None:
        x[hole] = invalid
    return x


def _percentiles(values: np.ndarray, qs) -> list[float]:
    """``np.percentile(values, qs)`` (its "linear" method, float64, bit for bit) from one sort: numpy's
    partition-based selection for three order statistics took 4 ms on 262144 values, a sort takes under 1."""
    s = np.sort(values)
    n = s.size
    out = []
    for q in qs:
        at = (n - 1) * np.true_divide(q, 100.0)
        below = int(np.floor(at))
        gamma = np.float64(at - below)
        a, b = s[below], s[min(below + 1, n - 1)]
        diff = b - a  # in the values' own type, as numpy does
        out.append(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)  # numpy's _lerp
    return out


def _photon_unit(data: np.ndarray, valid: np.ndarray | None, values: np.ndarray) -> float:
    """What the counts above the floor are multiplied by before log1p: 1, or for a frame of more than
    ``_MAX_GAIN`` units per photon (``core.photons``) the factor that brings it to ``_MAX_GAIN``. Not to 1:
    95 % of the synthetic frames the model learnt from measure under 4 (a counting detector about 1, its
    CCDs and image plates drawn with gains 0.7-20), so up to 4 the input stays what it was trained on. A
    frame of normalised intensities (``core.photons.normalised``; ``values``: a sample of its pixels) is
    brought back to the photons it came from, the best guess."""
    whole = whole_numbers(values)  # counts are never normalised: only whether they are over _MAX_GAIN matters
    g = photon_gain(data, valid, enough=_MAX_GAIN if whole else None)
    if not whole and normalised(g, values):
        return 1.0 / g
    return 1.0 if g is None or g <= _MAX_GAIN else _MAX_GAIN / g


def _blocks(n: int, size: int) -> tuple[int, np.ndarray]:
    """How ``_resize_axis`` maps ``n`` pixels to ``size``: (block f, the block of each output pixel)."""
    f = -(-n // size) if n > size else 1
    return f, (np.arange(size) * -(-n // f)) // size


def _drop_hot(x: np.ndarray, data: np.ndarray, valid: np.ndarray | None, floor: float, bright: float,
              fit: str) -> np.ndarray:
    """The hot pixels of ``data`` (``core.hotpixels``) taken out of ``x``, its block-max shrink (in counts,
    edited in place: each block that held one gets the max of its other valid pixels); their flat indices.
    A hot pixel lies in a block whose max is above ``bright``: where those blocks hold fewer pixels than an
    eighth of the frame, only theirs are looked at, else one pass over the frame finds the candidates."""
    js, ks = np.nonzero(x > bright)
    if js.size == 0:
        return np.empty(0, dtype=np.intp)
    h, w = data.shape
    n_r, n_c = (max(h, w),) * 2 if fit == "pad" else (h, w)
    top, left = (n_r - h) // 2, (n_c - w) // 2
    (f0, idx0), (f1, idx1) = _blocks(n_r, x.shape[0]), _blocks(n_c, x.shape[1])

    def pixels(j: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The flat indices of the blocks of output pixels (j, k), (n, f0, f1), and which are valid pixels."""
        rows = (idx0[j] * f0 - top)[:, None, None] + np.arange(f0)[None, :, None]
        cols = (idx1[k] * f1 - left)[:, None, None] + np.arange(f1)[None, None, :]
        ok = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        flat = np.clip(rows, 0, h - 1) * w + np.clip(cols, 0, w - 1)
        return flat, ok if valid is None else ok & valid.ravel()[flat]

    if js.size * f0 * f1 * 8 < data.size:
        flat, ok = pixels(js, ks)
        cand = np.unique(flat[ok & (data.ravel()[flat] > bright)])
        hot = hot_pixels(data, valid, floor, bright, candidates=cand)
    else:
        hot = hot_pixels(data, valid, floor, bright)
    if hot.size:
        r, c = np.divmod(hot, w)
        held = np.isin(idx0[js] * n_c + idx1[ks], np.unique((r + top) // f0 * n_c + (c + left) // f1))
        flat, ok = pixels(js[held], ks[held])
        vals = np.where(ok & ~np.isin(flat, hot), data.ravel()[flat], -np.inf)
        x[js[held], ks[held]] = vals.max(axis=(1, 2))
    return hot


def _resize(x: np.ndarray, size: int, fit: str, reduce: str, fill: float) -> np.ndarray:
    h, w = x.shape
    if fit == "pad" and h != w:
        n = max(h, w)
        square = np.full((n, n), fill, dtype=np.float32)
        top, left = (n - h) // 2, (n - w) // 2
        square[top : top + h, left : left + w] = x
        x = square
    x = _resize_axis(x, size, 0, reduce, fill)
    x = _resize_axis(x, size, 1, reduce, fill)
    return np.ascontiguousarray(x, dtype=np.float32)


def _resize_axis(x: np.ndarray, size: int, axis: int, reduce: str, fill: float) -> np.ndarray:
    """Shrink by an integer block (``fill``-padded at the end) then pick rows; grow by nearest neighbour."""
    n = x.shape[axis]
    if n > size:
        f = -(-n // size)  # ceil
        m = -(-n // f)
        if m * f != n:
            pad = [(0, 0), (0, 0)]
            pad[axis] = (0, m * f - n)
            x = np.pad(x, pad, constant_values=fill)
        shape = (m, f, x.shape[1]) if axis == 0 else (x.shape[0], m, f)
        if reduce == "max":  # the max of f strided slices: the blocks' max exactly, without a strided reduction
            pick = (lambda i: x[i::f]) if axis == 0 else (lambda i: x[:, i::f])
            out = pick(0).copy()
            for i in range(1, f):
                np.maximum(out, pick(i), out=out)
            x = out
        else:
            x = x.reshape(shape).mean(axis=axis + 1)
        n = m
    if n != size:  # nearest neighbour to the exact size (grows small images, fixes ceil rounding)
        idx = (np.arange(size) * n) // size
        x = np.take(x, idx, axis=axis)
    return x

"""The one preprocessing function, shared by training and inference and stored in each checkpoint.

numpy only (no torch), so decoding workers and a remote client can run it without the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
}
INVALID_VALUES = (0.0, -1.0)

# Percentiles from at most this many valid pixels (a fixed stride, so the result is deterministic).
_SAMPLE = 1 << 18


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
    if cfg["fit"] not in ("pad", "stretch") or cfg["reduce"] not in ("max", "mean"):
        raise ValueError(f"bad preprocessing fit/reduce: {cfg['fit']!r}/{cfg['reduce']!r}")
    return cfg


def preprocess(data: np.ndarray, mask: np.ndarray | None, config: dict[str, Any]) -> np.ndarray:
    """Detector counts -> float32 (size, size) in [0, 1]; masked and non-finite pixels, and the padding
    to a square, -> ``config["invalid"]`` (0 or -1; a block with any valid pixel is valid).

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
    floor, lo, hi = _percentiles(values, (config["floor_percentile"], config["pmin"], config["pmax"]))
    lo = np.log1p(max(lo - floor, 0.0))
    hi = np.log1p(max(hi - floor, 0.0))
    scale = 1.0 / (hi - lo) if hi > lo else 0.0

    def to_unit(x: np.ndarray) -> np.ndarray:  # in place; -inf -> 0
        np.subtract(x, np.float32(floor), out=x)
        np.clip(x, 0.0, None, out=x)
        np.log1p(x, out=x)
        np.subtract(x, np.float32(lo), out=x)
        np.multiply(x, np.float32(scale), out=x)
        return np.clip(x, 0.0, 1.0, out=x)

    if config["reduce"] == "max":
        x = _resize(data if all_valid else np.where(valid, data, np.float32(-np.inf)), size, config["fit"], "max",
                    -np.inf)
        if np.shares_memory(x, data):  # a frame already of the input size: to_unit works in place
            x = x.copy()
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

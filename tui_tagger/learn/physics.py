"""Hand-made "physics" features of a detector frame: no training, no torch.

Everything is measured on a log-scaled, percentile-normalised copy of the frame reduced to at most
``_WORK_SIDE`` pixels a side, around the beam centre (``core.radial.find_beam_center``; the frame
centre when no centre of symmetry is found). The vector concatenates, in this order:

- intensity statistics of the raw counts (log10 percentiles, fractions of masked/zero/saturated pixels),
- beam-centre position and whether it was found, the anisotropy score,
- a radial profile on log-spaced radius bins (scale-free: the same bins for 256 px and 4k frames),
- per radius bin, the 1st/2nd/4th angular Fourier harmonics of the intensity (arcs oriented along
  z give a negative cos 2chi term, along xy a positive one), relative to the ring's mean,
- a coarse polar grid (chi sectors x log-radius bins) of mean intensity,
- a small block-max thumbnail of the whole frame,
- translation-invariant texture: the power spectrum of the image in (direction x log-frequency) bins and
  histograms of gradient direction (whole frame and 3 x 3 cells). These need no beam centre, so they
  still describe frames whose beam is off the detector or not found: oriented arcs, rods and streaks
  put their spectral power and gradients along one direction, isotropic rings spread them evenly.
"""

from __future__ import annotations

import math

import numpy as np

from tui_tagger.core import radial
from tui_tagger.core.display import downsample_max

VERSION = 2
_WORK_SIDE = 512
_PERCENTILES = (1, 5, 25, 50, 75, 95, 99, 99.9)
N_RADII = 24  # log-spaced radius bins for the profile and the harmonics
N_CHI, N_Q = 12, 12  # the polar grid
THUMB = 16
_TEXTURE_SIDE = 256
N_DIR, N_FREQ = 12, 8  # power spectrum bins
N_ORIENT, CELLS = 8, 3  # gradient-direction histograms

# lengths of each block, for naming and tests
BLOCKS = {
    "stats": len(_PERCENTILES) + 5,
    "geometry": 4,
    "profile": N_RADII,
    "harmonics": 4 * N_RADII,
    "polar": N_CHI * N_Q,
    "thumb": THUMB * THUMB,
    "spectrum": N_DIR * N_FREQ + 1,
    "gradients": N_ORIENT * (1 + CELLS * CELLS) + 1,
}
DIM = sum(BLOCKS.values())


def _block_mean(data: np.ndarray, valid: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """f x f block mean of valid pixels (edge remainder dropped) and whether a block had any."""
    if f == 1:
        return np.where(valid, data, 0).astype(np.float32), valid
    rows, cols = (data.shape[0] // f) * f, (data.shape[1] // f) * f
    d = np.where(valid, data, 0)[:rows, :cols].astype(np.float64)
    v = valid[:rows, :cols]
    s = d.reshape(rows // f, f, cols // f, f).sum(axis=(1, 3))
    n = v.reshape(rows // f, f, cols // f, f).sum(axis=(1, 3))
    return (s / np.maximum(n, 1)).astype(np.float32), n > 0


def _log_normalised(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """log(1 + counts above the floor), scaled so the 99.5th percentile of valid pixels is 1."""
    values = data[valid]
    floor = float(np.percentile(values, 0.5))
    lg = np.log1p(np.maximum(data - floor, 0)).astype(np.float32)
    top = float(np.percentile(lg[valid], 99.5))
    lg /= top if top > 0 else 1.0
    return np.where(valid, np.minimum(lg, 2.0), 0).astype(np.float32)


def _stats(data: np.ndarray, valid: np.ndarray, meta: dict) -> np.ndarray:
    values = data[valid].astype(np.float64)
    pct = np.percentile(values, _PERCENTILES)
    top = float(values.max())
    # a saturated detector piles pixels up at its maximum value; count those sitting at the max
    saturated = float(np.mean(values >= top)) if top > 0 else 0.0
    signed_log = np.sign(pct) * np.log10(1 + np.abs(pct))
    return np.concatenate([
        signed_log,
        [np.sign(top) * math.log10(1 + abs(top)), 1 - valid.mean(), float(np.mean(values <= 0)),
         min(saturated * 100, 1.0), float(np.std(np.log1p(np.maximum(values - pct[0], 0))))],
    ])


def physics_features(data: np.ndarray, mask: np.ndarray | None = None, meta: dict | None = None) -> np.ndarray:
    """The feature vector (float32, length ``DIM``) of one frame; a frame without a valid pixel gives zeros."""
    data = np.asarray(data, dtype=np.float32)
    valid = np.isfinite(data) if mask is None else (np.asarray(mask, dtype=bool) & np.isfinite(data))
    out = np.zeros(DIM, dtype=np.float32)
    if data.ndim != 2 or valid.sum() < 16:
        return out
    parts = [_stats(data, valid, meta or {})]

    f = max(1, math.ceil(max(data.shape) / _WORK_SIDE))
    small, sv = _block_mean(data, valid, f)
    img = _log_normalised(small, sv)
    header = (meta or {}).get("beam_center_px")
    hint = None
    if isinstance(header, (list, tuple)) and len(header) == 2:
        # block k has its centre at full-resolution (k + 0.5) f - 0.5
        hint = ((float(header[0]) + 0.5) / f - 0.5, (float(header[1]) + 0.5) / f - 0.5)
    # a header centre is a hint, not the truth: nominal defaults are common, and the image overrules them
    found = radial.find_beam_center(small, sv, center=hint)
    rows, cols = img.shape
    cx, cy = found if found is not None else ((cols - 1) / 2, (rows - 1) / 2)
    aniso = radial.anisotropy_score(img, sv, (cx, cy))
    parts.append([cx / cols, cy / rows, float(found is not None), 0.0 if math.isnan(aniso) else aniso])

    y = np.arange(rows, dtype=np.float32)[:, None] - cy
    x = np.arange(cols, dtype=np.float32)[None, :] - cx
    r = np.sqrt(x * x + y * y)
    chi = np.arctan2(-y, x)  # 0 = +x (horizontal), pi/2 = up (z): rows grow downwards
    # radii from 1 px to the farthest pixel, log-spaced: the same relative q bins at any detector size
    rmax = float(np.hypot(max(cx, cols - 1 - cx), max(cy, rows - 1 - cy))) + 1
    lr = np.log(np.maximum(r, 1.0)) / math.log(rmax)  # 0 .. 1
    w = sv.astype(np.float64)
    vals = img.astype(np.float64)

    rb = np.minimum((lr * N_RADII).astype(np.intp), N_RADII - 1).ravel()
    wv, vv = w.ravel(), (vals * w).ravel()
    n = np.bincount(rb, wv, N_RADII)
    mean_r = np.bincount(rb, vv, N_RADII) / np.maximum(n, 1)
    parts.append(mean_r)
    harm = []
    for k, fn in ((1, np.cos), (1, np.sin), (2, np.cos), (4, np.cos)):
        basis = fn(k * chi).ravel()
        harm.append(2 * np.bincount(rb, vv * basis, N_RADII) / np.maximum(n, 1))
    # 2nd-harmonic phase matters (z vs xy); 1st says how lopsided the ring is (beamstop, horizon, GI)
    harm = np.stack(harm)
    parts.append((harm / np.maximum(mean_r, 0.02)).clip(-4, 4).ravel())

    qb = np.minimum((lr * N_Q).astype(np.intp), N_Q - 1)
    cb = np.minimum(((chi + math.pi) / (2 * math.pi) * N_CHI).astype(np.intp), N_CHI - 1)
    cell = (cb * N_Q + qb).ravel()
    cn = np.bincount(cell, wv, N_CHI * N_Q)
    parts.append(np.bincount(cell, vv, N_CHI * N_Q) / np.maximum(cn, 1))

    thumb, tv = downsample_max(img, sv, (THUMB, THUMB))
    parts.append(np.where(tv, thumb, 0).ravel())

    tex, tv = img, sv
    if max(img.shape) > _TEXTURE_SIDE:
        ft = math.ceil(max(img.shape) / _TEXTURE_SIDE)
        tex, tv = _block_mean(img, sv, ft)
    filled = _fill(tex, tv)
    parts.append(_spectrum(filled))
    parts.append(_gradients(filled))

    vec = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])
    return np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def _fill(img: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Masked pixels replaced by a blur of their valid neighbours, so beamstops and detector gaps do not
    add edges of their own to the spectrum and gradients."""
    from scipy.ndimage import gaussian_filter

    if valid.all():
        return img.astype(np.float32)
    w = valid.astype(np.float32)
    num = gaussian_filter(img * w, 4.0)
    den = gaussian_filter(w, 4.0)
    far = float(img[valid].mean()) if valid.any() else 0.0
    smooth = np.where(den > 1e-3, num / np.maximum(den, 1e-3), far)
    return np.where(valid, img, smooth).astype(np.float32)


def _spectrum(img: np.ndarray) -> np.ndarray:
    """log10 share of spectral power in (direction over 180 deg x log-frequency) bins, and log total."""
    rows, cols = img.shape
    win = np.outer(np.hanning(rows), np.hanning(cols)).astype(np.float32)
    a = (img - img.mean()) * win
    power = np.abs(np.fft.rfft2(a)) ** 2
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.rfftfreq(cols)[None, :]
    fr = np.sqrt(fx * fx + fy * fy)
    ang = np.mod(np.arctan2(fy, fx), np.pi)  # the spectrum of a real image is point-symmetric
    lo = 1.0 / max(rows, cols)
    use = fr >= lo
    lf = np.log(np.maximum(fr, lo) / lo) / np.log(0.5 / lo)
    fb = np.minimum((lf * N_FREQ).astype(np.intp), N_FREQ - 1)
    ab = np.minimum((ang / np.pi * N_DIR).astype(np.intp), N_DIR - 1)
    cell = (fb * N_DIR + ab)[use]
    n = np.bincount(cell, minlength=N_FREQ * N_DIR)
    mean = np.bincount(cell, power[use], N_FREQ * N_DIR) / np.maximum(n, 1)
    total = float(power[use].mean()) + 1e-20
    return np.concatenate([np.log10(mean / total + 1e-8), [np.log10(total)]])


def _gradients(img: np.ndarray) -> np.ndarray:
    """Histograms of gradient direction (mod 180 deg), magnitude-weighted and normalised: for the whole
    frame, then for 3 x 3 cells; and the log mean gradient magnitude."""
    gy, gx = np.gradient(img.astype(np.float32))
    mag = np.hypot(gx, gy)
    ob = np.minimum((np.mod(np.arctan2(gy, gx), np.pi) / np.pi * N_ORIENT).astype(np.intp), N_ORIENT - 1)
    out = [np.bincount(ob.ravel(), mag.ravel(), N_ORIENT)]
    rows, cols = img.shape
    for i in range(CELLS):
        for j in range(CELLS):
            sl = (slice(i * rows // CELLS, (i + 1) * rows // CELLS), slice(j * cols // CELLS, (j + 1) * cols // CELLS))
            out.append(np.bincount(ob[sl].ravel(), mag[sl].ravel(), N_ORIENT))
    hist = np.stack(out)
    hist = hist / np.maximum(hist.sum(axis=1, keepdims=True), 1e-12)
    return np.concatenate([hist.ravel(), [np.log10(float(mag.mean()) + 1e-8)]])

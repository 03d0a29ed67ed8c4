"""Hot pixels and zingers: single bright pixels that are not scattering (numpy only).

A hot pixel (a CCD defect, an unmasked counting-detector pixel that counts on its own) or a zinger (a cosmic
ray) is one pixel far above every neighbour. The network sees a frame shrunk by block max (``model.
transforms``), so each one becomes a bright dot of a block 6-9 pixels wide: a few hundred of them read as a
field of peaks or a ring of spots (real-dev with 0.05 % hot pixels: experiment type right on 9 of 14
frames against 14, ``benchmarks/bench_real_robust.py``). Scattering is never that alone: the point spread of
a detector, the beam's size and the sample's own spread put a real spot over several pixels, its
neighbours a good share of its peak (a Bragg spot's next pixel holds 10-50 % of it).

Only pixels above the caller's bright level (preprocessing: twice the 99th percentile) are candidates: one
comparison pass plus a few thousand gathers, or only the gathers where the caller knows the candidates
(preprocessing finds them in the bright blocks of the shrunk frame).
"""

from __future__ import annotations

import numpy as np

# A candidate is hot when its brightest valid neighbour (of 8) holds less than this share of its counts
# above the floor. Real-dev's own frames hold 0-9 such pixels each, the same values at the same places on
# frames of one detector: hot pixels.
NEIGHBOUR_SHARE = 0.05
_DR = np.array([-1, -1, -1, 0, 0, 1, 1, 1])
_DC = np.array([-1, 0, 1, -1, 1, -1, 0, 1])


def hot_pixels(data: np.ndarray, valid: np.ndarray | None, floor: float, bright: float,
               share: float = NEIGHBOUR_SHARE, candidates: np.ndarray | None = None) -> np.ndarray:
    """Flat indices into ``data`` (2-D) of the valid pixels above ``bright`` whose brightest valid neighbour
    is under ``share`` of their height above ``floor`` (a pixel with no valid neighbour is not judged).
    ``candidates``: flat indices of the valid pixels above ``bright`` when the caller knows them already
    (else one pass over the frame finds them)."""
    h, w = data.shape
    if candidates is not None:
        cand = np.asarray(candidates, dtype=np.intp)
    else:
        cand = np.flatnonzero(data > bright)  # one pass; the mask is read at the candidates only
        if valid is not None:
            cand = cand[valid.ravel()[cand]]
    if cand.size == 0:
        return cand
    r, c = np.divmod(cand, w)
    rr, cc = r[:, None] + _DR, c[:, None] + _DC  # (candidates, 8): one gather, not eight
    ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    at = np.clip(rr, 0, h - 1) * w + np.clip(cc, 0, w - 1)
    if valid is not None:
        ok &= valid.ravel()[at]
    nmax = np.where(ok, data.ravel()[at], -np.inf).max(axis=1)
    v = data.ravel()[cand]
    return cand[np.isfinite(nmax) & (nmax - floor < share * (v - floor))]

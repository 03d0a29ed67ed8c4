"""Beam centre, azimuthal profiles, isotropic background and an anisotropy score (used by the physics
features, learn/physics.py, the calibrant check, core/calibrant.py, and the image expression's background()).

A scattering image is treated as an isotropic part (rings: a function of the distance from the beam
centre only, e.g. solvent scattering) plus an anisotropic part (arcs, spots, streaks, diffuse
features). The isotropic part is the azimuthal median per one-pixel radius bin over valid pixels;
the median ignores the few bright spots and arcs that cover less than half of a ring.

Coordinates: ``center = (x, y)`` in pixels, x along columns, y along rows, (0, 0) the centre of the
first pixel.
"""

from __future__ import annotations

import math

import numpy as np

# work-image sides (pixels) of the coarse-to-fine beam-centre search
_VOTE_SIDE = 128  # gradient-line voting, point symmetry, beamstop shape
_COARSE_SIDE = 64  # choosing between candidates
_FINE_SIDE = 256  # final refinement
_FINE_PIXELS = 6000  # pixels (the strongest gradients) the final refinement scores
# below this share of the (log) image's variance explained by a function of the radius there is no centre
_MIN_RADIAL_R2 = 0.05
# a centre hint (from the file header) is kept unless the image's own best centre explains clearly more
_HINT_SLACK = 0.9
# candidates may lie this far (fraction of the image side) outside the frame: ring arcs still define them
_OFF_IMAGE = 0.5


class _Work:
    """One resolution of the search: log image, the pixels that count, and its scale to full resolution."""

    def __init__(self, data: np.ndarray, valid: np.ndarray, side: int):
        self.f = f = max(1, math.ceil(max(data.shape) / side))
        small, count = _block_mean(data, valid, f)
        self.valid = count >= max(1, (f * f) // 2)  # a block counts when at least half of it is valid
        self.g = np.zeros(small.shape)
        self.dark = np.zeros(small.shape, bool)
        if self.valid.sum() < 16:
            return
        v = small[self.valid]
        floor, mid = np.percentile(v, (0.5, 50.0))
        # log compresses the rings' dynamic range so the whole pattern counts, not just the brightest
        # spot; clipping at the top keeps hot pixels and saturated blobs from dominating
        g = np.log1p(np.maximum(small - floor, 0) / max(mid - floor, 1e-6))
        self.g = np.minimum(g, np.percentile(g[self.valid], 99.5))
        # beamstop (and a dark shadow): at the floor over a 3x3 neighbourhood, so single zero-count
        # pixels of a weak frame do not count
        from scipy import ndimage

        # a tungsten stop leaves next to nothing: within half a count (or 3 % of the median) of the floor,
        # in most of the 3x3 neighbourhood (a narrow bar keeps its edges)
        dark = self.valid & (small - floor <= min(0.03 * max(mid - floor, 1e-6), 0.5))
        self.dark = dark & (ndimage.uniform_filter(dark.astype(np.float32), 3, mode="nearest") >= 0.55)
        if self.dark.mean() > 0.6:  # a mostly empty (weak) frame: darkness says nothing
            self.dark[:] = False

    def shade_below(self, row: float) -> None:
        """Leave out everything below full-resolution ``row`` (a grazing-incidence sample's shadow)."""
        first = max(0, math.floor(self.from_full(0, row)[1]) + 1)
        self.dark[first:] = True

    def to_full(self, x: float, y: float) -> tuple[float, float]:
        # block index k has its centre at full-resolution (k + 0.5) f - 0.5
        return (x + 0.5) * self.f - 0.5, (y + 0.5) * self.f - 0.5

    def from_full(self, x: float, y: float) -> tuple[float, float]:
        return (x + 0.5) / self.f - 0.5, (y + 0.5) / self.f - 0.5


def _radial_r2(vals: np.ndarray, ys: np.ndarray, xs: np.ndarray, cxs: np.ndarray, cys: np.ndarray) -> np.ndarray:
    """Per candidate centre: the adjusted R^2 of ``vals`` explained by their mean in one-pixel radius bins.

    The centre that makes the azimuthal average sharpest explains the most: rings, halos and the
    small-angle decay all fall on circles about the beam, even when only arcs of them are on the image.
    """
    k, n = len(cxs), len(vals)
    r = np.hypot(xs[None, :] - cxs[:, None], ys[None, :] - cys[:, None])
    b = r.astype(np.int32)
    nb = int(b.max()) + 1
    idx = (b + (np.arange(k, dtype=np.int32) * nb)[:, None]).ravel()
    cnt = np.bincount(idx, minlength=k * nb).reshape(k, nb)
    s1 = np.bincount(idx, np.broadcast_to(vals, (k, n)).ravel(), minlength=k * nb).reshape(k, nb)
    sst = float(((vals - vals.mean()) ** 2).sum())
    if not sst > 0 or n < 16:
        return np.zeros(k)
    between = (s1 * s1 / np.maximum(cnt, 1)).sum(axis=1) - vals.sum() ** 2 / n
    bins = (cnt > 0).sum(axis=1)  # adjusted: many near-empty bins explain noise, not structure
    return 1 - ((sst - between) / np.maximum(n - bins, 1)) / (sst / (n - 1))


def _climb(
    score, x: float, y: float, step: float, stop: float, shape: tuple[int, ...], max_move: float
) -> tuple[float, float, float]:
    """Pattern search: move to the best of the 3 x 3 neighbours, halve the step when staying put; the
    centre stays within ``_OFF_IMAGE`` of the frame (far away, circles look like lines)."""
    offs = np.array([(i, j) for j in (-1, 0, 1) for i in (-1, 0, 1)], dtype=np.float64)
    (h, w), m = shape, _OFF_IMAGE
    x, y = float(np.clip(x, -m * w, (1 + m) * w)), float(np.clip(y, -m * h, (1 + m) * h))
    x0, y0 = x, y
    best = -math.inf
    while step >= stop:
        s = score(x + step * offs[:, 0], y + step * offs[:, 1])
        s[(np.abs(x + step * offs[:, 0] - w / 2) > (0.5 + m) * w) | (np.abs(y + step * offs[:, 1] - h / 2) > (0.5 + m) * h)
          | (np.hypot(x + step * offs[:, 0] - x0, y + step * offs[:, 1] - y0) > max_move)] = -np.inf
        k = int(np.argmax(s))
        if k == 4 or s[k] <= s[4]:
            best = float(s[4])
            step /= 2
        else:
            x, y, best = x + step * offs[k, 0], y + step * offs[k, 1], float(s[k])
    return x, y, best


def _scorer(w: _Work, pixels: int | None = None):
    """score(cxs, cys) -> radial R^2 on the valid, non-dark pixels of ``w`` (the ``pixels`` with the
    strongest gradients when given: flat areas carry no position information)."""
    use = w.valid & ~w.dark
    ys, xs = np.nonzero(use)
    vals = w.g[ys, xs]
    if pixels is not None and len(vals) > pixels:
        from scipy import ndimage

        grad = np.hypot(ndimage.sobel(w.g, 0), ndimage.sobel(w.g, 1))[ys, xs]
        keep = np.argpartition(grad, -pixels)[-pixels:]
        ys, xs, vals = ys[keep], xs[keep], vals[keep]
    ys, xs, vals = ys.astype(np.float32), xs.astype(np.float32), vals.astype(np.float64)
    return lambda cx, cy: _radial_r2(vals, ys, xs, np.asarray(cx, np.float32), np.asarray(cy, np.float32))


def _vote_candidates(w: _Work, n: int = 2) -> list[tuple[float, float]]:
    """Centres where the lines along the strongest log-intensity gradients cross (rings, arcs and the
    radial decay all have radial gradients); the accumulator reaches beyond the frame."""
    from scipy import ndimage

    h, wd = w.g.shape
    smooth = ndimage.gaussian_filter(w.g, 1.0)
    gy, gx = ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1)
    # gradients across mask or beamstop edges say nothing about the centre
    clean = ndimage.binary_erosion(w.valid & ~ndimage.binary_dilation(w.dark, iterations=2), iterations=2)
    mag = np.where(clean, np.hypot(gx, gy), 0)
    if not (mag > 0).any():
        return []
    top = min(1500, int((mag > 0).sum()))
    pick = np.argpartition(mag.ravel(), -top)[-top:]
    pick = pick[mag.ravel()[pick] > 0.2 * np.percentile(mag.ravel()[pick], 90)]
    py, px = np.unravel_index(pick, mag.shape)
    m = mag.ravel()[pick]
    uy, ux = gy.ravel()[pick] / m, gx.ravel()[pick] / m
    straight = _on_straight_edges(px, py, ux, uy)
    if (~straight).sum() >= 16:
        px, py, ux, uy = px[~straight], py[~straight], ux[~straight], uy[~straight]
    span = (1 + _OFF_IMAGE) * max(h, wd)
    t = np.arange(-span, span, 1.0, dtype=np.float32)
    cell = 2.0  # accumulator cell (work pixels)
    lo_x, lo_y = -_OFF_IMAGE * wd, -_OFF_IMAGE * h
    nx, ny = int((1 + 2 * _OFF_IMAGE) * wd / cell) + 1, int((1 + 2 * _OFF_IMAGE) * h / cell) + 1
    ax = ((px[:, None] + ux[:, None] * t[None, :] - lo_x) / cell).astype(np.int32)
    ay = ((py[:, None] + uy[:, None] * t[None, :] - lo_y) / cell).astype(np.int32)
    inside = (ax >= 0) & (ax < nx) & (ay >= 0) & (ay < ny)
    acc = np.bincount((ay * nx + ax)[inside], minlength=nx * ny).reshape(ny, nx).astype(np.float64)
    acc = ndimage.gaussian_filter(acc, 1.0)
    out = []
    for _ in range(n):
        iy, ix = np.unravel_index(int(np.argmax(acc)), acc.shape)
        if acc[iy, ix] <= 0:
            break
        out.append((lo_x + (ix + 0.5) * cell, lo_y + (iy + 0.5) * cell))
        acc[max(iy - 4, 0) : iy + 5, max(ix - 4, 0) : ix + 5] = 0
    return out


# gradient pixels sharing one edge line (2-degree, 1.5-pixel bins) beyond this count make a straight edge
_STRAIGHT_COUNT = 16


def _on_straight_edges(px: np.ndarray, py: np.ndarray, ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """Which gradient pixels lie on long straight edges (streaks, rods, the horizon, beamstop bars).

    Such a pixel's gradient line crosses its own streak, so a streak votes for every point along itself
    and pulls the centre along it. The test is a one-bin-per-pixel Hough transform of the edge's tangent
    line (orientation, distance from the origin): the pixels of a straight edge all share one line,
    while those of a ring of radius R share one only over an arc of R * 2 degrees.
    """
    theta = np.arctan2(uy, ux) % np.pi  # orientation, not direction: both edges of a streak count
    c, s = np.cos(theta), np.sin(theta)
    rho = px * c + py * s
    tb = np.minimum((theta / np.radians(2.0)).astype(np.int64), 89)
    rb = np.floor(rho / 1.5).astype(np.int64)
    rb -= rb.min()
    key = tb * (int(rb.max()) + 1) + rb
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return counts[inverse] >= _STRAIGHT_COUNT


def _beamstop_candidate(w: _Work) -> tuple[float, float] | None:
    """The beam behind a beamstop: a dark disc's centre, or the inner end of a dark bar running to the edge."""
    from scipy import ndimage

    labels, count = ndimage.label(w.dark)
    if count == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    k = int(np.argmax(sizes)) + 1
    if sizes[k - 1] < 6:
        return None
    ys, xs = np.nonzero(labels == k)
    h, wd = w.g.shape
    edge = (ys == 0) | (xs == 0) | (ys == h - 1) | (xs == wd - 1)
    if not edge.any():  # a disc (or a stop whose arm is masked): its centre
        return float(xs.mean()), float(ys.mean())
    # a bar: its long axis from the covariance; the beam sits half a bar width short of the end away from the edge
    cy, cx = ys.mean(), xs.mean()
    cov = np.cov(np.vstack([xs - cx, ys - cy]))
    evals, evecs = np.linalg.eigh(cov)
    if evals[1] < 4 * max(evals[0], 1e-9):  # not elongated: a blob touching the edge says nothing
        return None
    u = evecs[:, 1]
    proj = (xs - cx) * u[0] + (ys - cy) * u[1]
    if proj[edge].mean() > 0:  # u points from the edge towards the tip
        u, proj = -u, -proj
    width = len(xs) / max(proj.max() - proj.min(), 1)
    tip = proj.max() - 0.6 * width  # the blocking tip is a disc a little wider than the bar
    return float(cx + tip * u[0]), float(cy + tip * u[1])


def find_beam_center(
    data: np.ndarray, mask: np.ndarray | None = None, center: tuple[float, float] | None = None
) -> tuple[float, float] | None:
    """The beam centre (x, y) in pixels, or None when the image gives no trustworthy one.

    Candidates come from several kinds of evidence: the crossing of the lines along the strongest
    intensity gradients (rings, arcs and the small-angle decay have radial gradients; works with the
    beam off the frame), the centre of point (Friedel) symmetry, the beamstop's shape (a dark disc's
    centre, the inner end of a dark bar), and ``center`` (a header value) when given. Each is refined
    by maximising how much of the log image a function of the radius explains (the sharpest azimuthal
    average), coarse to fine; the best wins. Dark pixels (beamstop, a grazing-incidence sample's
    shadow) and masked ones do not count. The hint is returned as it is unless the image clearly
    prefers another centre (headers are sometimes stale). None for flat, noise-only or strongly
    non-radial images.
    """
    data = np.asarray(data, dtype=np.float32)
    if data.ndim != 2:
        return None
    valid = _valid(data, mask)
    if valid.sum() < 64:
        return None
    vote = _Work(data, valid, _VOTE_SIDE)
    coarse = _Work(data, valid, _COARSE_SIDE)
    if not (vote.valid.sum() >= 64 and coarse.g[coarse.valid].std() > 0):
        return None
    stop = _beamstop_candidate(vote)
    # grazing incidence: below the horizon the sample's shadow hides the scattering, so only the upper
    # part counts; there the pattern is mirror-symmetric about the vertical through the beam
    horizon = _horizon_row(vote)
    if horizon is not None:
        horizon = vote.to_full(0, horizon)[1]
        for w in (vote, coarse):
            w.shade_below(horizon)
    found = [("vote", vote.to_full(*c)) for c in _vote_candidates(vote)]
    for name, extra in (("stop", stop), ("symmetry", _symmetry_center(vote))):
        if extra is not None:
            found.append((name, vote.to_full(*extra)))
    if horizon is not None:
        mx = _mirror_x(vote)
        if mx is not None:
            xm = vote.to_full(mx, 0)[0]
            # the beam sits on that vertical, at or a little below the horizon
            ys = {round(c[1], 1) for _, c in found} | {horizon + k * 0.02 * max(data.shape) for k in (0, 1, 2, 4)}
            found += [("mirror", (xm, y)) for y in sorted(ys)]
    hint = None if center is None else (float(center[0]), float(center[1]))

    # each candidate settles on the nearby sharpest azimuthal average (a short climb: far away, circles
    # turn into lines and a distant centre can "explain" any smooth gradient, so the score is only
    # compared between near neighbours)
    score = _scorer(coarse)
    settled = []
    for name, c in found:
        x, y, s = _climb(score, *coarse.from_full(*c), 1.0, 0.5, coarse.g.shape, max_move=2.0)
        settled.append((name, x, y, s))
    settled = [c for c in settled if c[3] >= _MIN_RADIAL_R2]
    if not settled:
        return hint
    # independent kinds of evidence that agree win; then the beamstop's shape (it is where the beam
    # is, whatever the sample does); then point symmetry; then the best score
    tol = max(2.0, 0.04 * max(coarse.g.shape))

    def support(c) -> int:
        return len({o[0] for o in settled if o[0] != c[0] and math.hypot(o[1] - c[1], o[2] - c[2]) <= tol})

    # point symmetry is also found along a streak or rod (symmetric across it at any height): it only
    # overrules a clearly better radial score when it explains nearly as much itself
    top = max(c[3] for c in settled)
    best = max(settled, key=lambda c: (support(c), c[0] == "stop", c[0] == "symmetry" and c[3] >= 0.7 * top, c[3]))
    if hint is not None:
        hs = float(score(*(np.array([v]) for v in coarse.from_full(*hint)))[0])
        if hs >= _HINT_SLACK * best[3] or math.dist(coarse.from_full(*hint), best[1:3]) <= tol:
            return hint
    fine = _Work(data, valid, _FINE_SIDE)
    if horizon is not None:
        fine.shade_below(horizon)
    step = max(coarse.f / fine.f, 1.0)
    flare = _flare(data, valid)
    if flare is not None and math.dist(coarse.from_full(*flare), best[1:3]) <= tol:
        # the unblocked direct beam, where the pattern's centre is: it pins the centre better than the
        # radial score, which a shadow or a streak can bias by tens of pixels
        x, y = fine.from_full(*flare)
        x, y, _ = _climb(_scorer(fine, _FINE_PIXELS), x, y, 1.0, 0.25, fine.g.shape, max_move=1.0)
        return fine.to_full(x, y)
    x, y = fine.from_full(*coarse.to_full(best[1], best[2]))
    x, y, _ = _climb(_scorer(fine, _FINE_PIXELS), x, y, step, 0.25, fine.g.shape, max_move=3 * step)
    return fine.to_full(x, y)


def _flare(data: np.ndarray, valid: np.ndarray) -> tuple[float, float] | None:
    """The centre (x, y) of a direct-beam flare: one compact blob far brighter than the rest of the
    frame (saturated or nearly), possibly split by a narrow beamstop arm; None when there is none."""
    from scipy import ndimage

    f = max(1, math.ceil(max(data.shape) / _VOTE_SIDE))
    small, count = _block_mean(data, valid, f)
    ok = count > 0
    if ok.sum() < 64:
        return None
    v = small[ok]
    floor, p99 = (float(q) for q in np.percentile(v, (0.5, 99.0)))
    peak = float(v.max())
    if not peak - floor > _FLARE_CONTRAST * max(p99 - floor, 1e-6):
        return None
    hot = ok & (small - floor >= 0.3 * (peak - floor))
    labels, n = ndimage.label(ndimage.binary_dilation(hot, iterations=2))
    k = labels[np.unravel_index(int(np.argmax(np.where(ok, small, -np.inf))), small.shape)]
    blob = hot & (labels == k)
    if blob.sum() > _FLARE_MAX_SHARE * ok.sum() or (hot & (labels != k)).sum() > blob.sum():
        return None  # not one compact flare: a bright ring, a streak, several hot spots
    ys, xs = np.nonzero(blob)
    wts = small[ys, xs] - floor
    return (float((xs * wts).sum() / wts.sum() + 0.5) * f - 0.5, float((ys * wts).sum() / wts.sum() + 0.5) * f - 0.5)


# a flare's peak is this many times brighter (above the floor) than the 99th percentile, and covers
# at most this share of the frame
_FLARE_CONTRAST = 8.0
_FLARE_MAX_SHARE = 0.01


def _horizon_row(w: _Work) -> float | None:
    """The sample horizon of a grazing-incidence frame (work rows), or None when there is none.

    Below the horizon the sample blocks the scattering: a straight, sharp drop of the log intensity
    across the whole width, with everything below it dim. Ring edges are curved and drop in few columns
    at any one row; the median over columns sees only straight horizontal steps.
    """
    use = w.valid & ~w.dark
    h = w.g.shape[0]
    if h < 12:
        return None
    g = np.where(use, w.g, 0.0)
    n = use.astype(np.float64)
    cg, cn = np.cumsum(np.vstack([np.zeros((1, g.shape[1])), g]), 0), np.cumsum(np.vstack([np.zeros((1, g.shape[1])), n]), 0)
    k = 2  # rows either side of the edge
    rows = np.arange(k, h - k)
    import warnings

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (fully masked bands) are expected
        up = (cg[rows] - cg[rows - k]) / (cn[rows] - cn[rows - k])
        down = (cg[rows + k] - cg[rows]) / (cn[rows + k] - cn[rows])
        step = np.nanmedian(np.where((cn[rows] - cn[rows - k] > 0) & (cn[rows + k] - cn[rows] > 0), up - down, np.nan), axis=1)
    if not np.isfinite(step).any():
        return None
    i = int(np.nanargmax(step))
    r, s = int(rows[i]), float(step[i])
    if s < _MIN_HORIZON_STEP:
        return None
    above, below = w.g[max(r - 3 * k, 0) : r][use[max(r - 3 * k, 0) : r]], w.g[r:][use[r:]]
    if below.size < 16 or np.median(below) > np.median(above) - 0.7 * s:  # not a shadow: an edge of something
        return None
    return r - 0.5  # the edge lies between rows r - 1 and r


# the smallest drop of log intensity (median over columns) that makes a horizon
_MIN_HORIZON_STEP = 0.5


def _reflection_scores(w: _Work, axes: tuple[int, ...], min_share: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(correlation r, score) of the valid, non-dark part of ``w`` with its reflection, for every
    reflection at once: index s along ``axes`` reflects about s / 2 (FFT convolutions; masked and dark
    pixels excluded from every sum). None when the image is too empty or flat to say."""
    from scipy import fft

    m = w.valid & ~w.dark
    if m.sum() < 64:
        return None
    g = np.where(m, w.g - w.g[m].mean(), 0.0)
    gvar = float((g[m] ** 2).mean())
    if not gvar > 0:
        return None
    mw = m.astype(np.float64)
    # sums over the overlap of the image with its reflection: n = conv(m, m), S = conv(g, m),
    # Q = conv(g^2, m), C = conv(g, g)
    shape = [fft.next_fast_len(2 * g.shape[a] - 1, real=True) for a in axes]
    G, M, G2 = (fft.rfftn(a, shape, axes=axes) for a in (g, mw, g * g))
    n, S, Q, C = (fft.irfftn(a * b, shape, axes=axes) for a, b in ((M, M), (G, M), (G2, M), (G, G)))
    if len(axes) < g.ndim:  # a mirror: the same axis for every row, so the rows' sums add up
        n, S, Q, C = (a.sum(axis=0) for a in (n, S, Q, C))
    with np.errstate(all="ignore"):
        n = np.maximum(np.round(n), 0)
        cov = C - S * S / np.maximum(n, 1)
        var = Q - S * S / np.maximum(n, 1)
        # the variance floor keeps flat overlaps (pure background) from scoring a perfect correlation
        r = cov / (np.maximum(var, 0) + 0.1 * np.maximum(n, 1) * gvar)
    total = mw.sum()
    # tiny overlaps (a corner reflected onto itself) correlate perfectly and mean nothing
    r = np.where(n >= max(min_share * total, 32), r, -1.0)
    return r, r * (n / total) ** 0.1


def _mirror_x(w: _Work) -> float | None:
    """The column (work pixels) about which the valid, non-dark part of ``w`` is most mirror-symmetric
    (row by row correlation with the left-right reflection, summed over rows), or None."""
    found = _reflection_scores(w, (1,), 0.2)
    if found is None:
        return None
    r, score = found
    k = int(np.argmax(score))
    return k / 2 if r[k] >= _MIN_SYMMETRY else None


def _symmetry_center(w: _Work) -> tuple[float, float] | None:
    """The centre of point symmetry of ``w`` (work pixels), or None when the image has none.

    Scattering from an unoriented or single-domain sample is centrosymmetric about the direct beam
    (Friedel symmetry), so the centre c maximises the correlation between I(r) and I(2c - r).
    Only centres on the frame can be found this way.
    """
    found = _reflection_scores(w, (0, 1), 0.05)
    if found is None:
        return None
    r, score = found
    sy, sx = np.unravel_index(int(np.argmax(score)), score.shape)
    return (sx / 2, sy / 2) if r[sy, sx] >= _MIN_SYMMETRY else None


# below this correlation between the image and its 180-degree rotation there is no usable symmetry
_MIN_SYMMETRY = 0.15


def _block_mean(data: np.ndarray, valid: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the valid pixels in f x f blocks (edge remainder dropped), and the valid-count per block."""
    rows, cols = (data.shape[0] // f) * f, (data.shape[1] // f) * f
    d = np.where(valid, data, 0)[:rows, :cols].astype(np.float64)
    v = valid[:rows, :cols]
    s = d.reshape(rows // f, f, cols // f, f).sum(axis=(1, 3))
    n = v.reshape(rows // f, f, cols // f, f).sum(axis=(1, 3))
    with np.errstate(all="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), 0.0), n


def _valid(data: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    finite = np.isfinite(data)
    return finite if mask is None else finite & np.asarray(mask, dtype=bool)


def _radii(shape: tuple[int, ...], center: tuple[float, float]) -> np.ndarray:
    """Distance of every pixel from ``center`` = (x, y), float32."""
    y = np.arange(shape[0], dtype=np.float32) - np.float32(center[1])
    x = np.arange(shape[1], dtype=np.float32) - np.float32(center[0])
    return np.sqrt(y[:, None] ** 2 + x[None, :] ** 2)


def _center_or_find(data: np.ndarray, mask: np.ndarray | None, center: tuple[float, float] | None) -> tuple[float, float]:
    if center is None:
        center = find_beam_center(data, mask)
    if center is None:  # no symmetry found: the geometric centre is the least-surprising guess
        center = ((data.shape[1] - 1) / 2, (data.shape[0] - 1) / 2)
    return (float(center[0]), float(center[1]))


def radial_profile(
    data: np.ndarray,
    mask: np.ndarray | None,
    center: tuple[float, float] | None = None,
    nbins: int | None = None,
    statistic: str = "mean",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Azimuthal average: (radius of each bin's centre, mean or median of valid pixels, pixel count).

    ``nbins`` None gives one-pixel bins out to the farthest pixel. Bins with no valid pixel are NaN.
    """
    data = np.asarray(data, dtype=np.float32)
    valid = _valid(data, mask)
    center = _center_or_find(data, mask, center)
    r = _radii(data.shape, center)
    rmax = float(r.max()) + 1e-6
    nbins = max(1, int(nbins) if nbins else math.ceil(rmax))
    width = rmax / nbins
    b = np.minimum((r[valid] / width).astype(np.intp), nbins - 1)
    values = data[valid].astype(np.float64)
    counts = np.bincount(b, minlength=nbins)
    if statistic == "median":
        prof = _binned_median(b, values, nbins)
    elif statistic == "mean":
        with np.errstate(all="ignore"):
            prof = np.bincount(b, values, minlength=nbins) / counts
    else:
        raise ValueError(f"statistic must be 'mean' or 'median', not {statistic!r}")
    radii = (np.arange(nbins) + 0.5) * width
    return radii, np.where(counts > 0, prof, np.nan), counts


def _binned_median(bins: np.ndarray, values: np.ndarray, nbins: int) -> np.ndarray:
    """Median of ``values`` in each bin (NaN for empty bins): one sort, no Python loop over bins."""
    order = np.lexsort((values, bins))
    sv = values[order]
    counts = np.bincount(bins, minlength=nbins)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    out = np.full(nbins, np.nan)
    out[has] = 0.5 * (sv[lo[has]] + sv[hi[has]])
    return out


def isotropic_background(
    data: np.ndarray, mask: np.ndarray | None, center: tuple[float, float] | None = None, statistic: str = "median"
) -> np.ndarray:
    """The isotropic part of the image: per-radius azimuthal median (or mean) of valid pixels,
    interpolated back onto every pixel (float32, same shape). ``center`` None: found with
    ``find_beam_center`` (the image centre when that fails)."""
    data = np.asarray(data, dtype=np.float32)
    center = _center_or_find(data, mask, center)
    radii, prof, _ = radial_profile(data, mask, center, statistic=statistic)
    known = np.isfinite(prof)
    if not known.any():
        return np.zeros(data.shape, dtype=np.float32)
    return np.interp(_radii(data.shape, center), radii[known], prof[known]).astype(np.float32)


def remove_background(
    data: np.ndarray, mask: np.ndarray | None, center: tuple[float, float] | None = None, statistic: str = "median"
) -> np.ndarray:
    """``data`` minus its isotropic background (float32); invalid pixels are 0."""
    data = np.asarray(data, dtype=np.float32)
    residual = data - isotropic_background(data, mask, center, statistic)
    return np.where(_valid(data, mask), residual, np.float32(0))


def anisotropy_score(data: np.ndarray, mask: np.ndarray | None, center: tuple[float, float] | None = None) -> float:
    """Fraction of the intensity that is not isotropic: sum |I - I_iso| / sum I over valid pixels,
    with I measured from the frame's floor (0.5th percentile, so a detector pedestal does not dilute
    it). 0 for perfect rings; shot noise alone gives a little (about 1/sqrt(counts)); arcs, spots and
    streaks push it towards 1. Clipped to [0, 1]; NaN when no pixel is valid or the frame is flat."""
    data = np.asarray(data, dtype=np.float32)
    valid = _valid(data, mask)
    if not valid.any():
        return math.nan
    values = data[valid].astype(np.float64)
    floor = float(np.percentile(values, 0.5))
    iso = isotropic_background(data, mask, center)[valid].astype(np.float64)
    signal = np.maximum(values - floor, 0)
    total = signal.sum()
    if total <= 0:
        return math.nan
    residual = np.abs(signal - np.maximum(iso - floor, 0)).sum()
    return float(min(1.0, residual / total))

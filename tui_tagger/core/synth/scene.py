"""Compose a scene into detector counts and state its tags from what is visible.

A feature is tagged only if enough of its own counts stand out of everything else (Poisson noise and
contrast), on real pixels, outside the beamstop and the sample's shadow. A feature that is only half
visible is removed from the image instead of being left ambiguous: every tag is true or false by
construction, never a judgement call.

Frames may be non-square (``Geometry.height``). A CCD's readout noise counts in the judgement as noise
(not as contrast); its offsets and gain do not change what is seen. Tags of the instrument: a beamstop
is tagged when enough of it (of a round stop: of its disc) lies on real pixels; "Beam off image" only
when the beam centre is off the frame; "Weak scattering" / "Strong scattering" from the exposure drawn
("dark": no sample scattering at all, neither).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .features import Diffuse, Peaks, Ring, Rods, Yoneda
from .geometry import Geometry
from .instrument import (
    BEAMSTOP_TRANSMISSION,
    CIRCULAR_STOPS,
    Instrument,
    beamstop_disc,
    beamstop_map,
    detector_mask,
    direct_beam,
    flagged_pixels,
    horizon_transmission,
    readout_offsets,
    unflagged_defects,
)

Feature = Ring | Peaks | Rods | Yoneda | Diffuse

# (signal-to-noise, contrast to everything else): "clearly seen" and "perhaps seen".
STRICT, LOOSE = (3.0, 0.3), (1.5, 0.1)
SPOT_STRICT, SPOT_LOOSE = (5.0, 1.0), (2.0, 0.2)
BEAM_PEAK = 1e4  # direct beam peak relative to the median scattering (only ever seen behind the stop)
MAX_ISOLATED, MIN_FIELD = 8, 15  # visible spots: "Peaks: Isolated" up to 8, "Peaks: Many/field" from 15
SATURATED_MIN_PX = 5
# powder lines of a cubic cell are not orders of one spacing (AgBH's lamellar rings are: "Higher orders")
CUBIC_CALIBRANTS = ("LaB6", "CeO2", "Si")
NAMED_CALIBRANTS = {"AgBH", "LaB6"}  # the calibrants the tag vocabulary names


@dataclass
class Scene:
    geometry: Geometry
    instrument: Instrument
    features: list[Feature] = field(default_factory=list)
    calibrant: str | None = None  # "AgBH" | "LaB6" | "CeO2" | "Si"
    noise_seed: int = 0
    family: str = "classic"  # which kind of frame draw_scene drew (meta only)


def higher_orders_tag(n_orders: int) -> str | None:
    if n_orders < 2:
        return None
    for top, name in ((3, "2 to 3"), (6, "4 to 6"), (10, "7 to 10"), (20, "10 to 20")):
        if n_orders <= top:
            return f"Higher orders: {name}"
    return "Higher orders: 20 or more"


class _Frame:
    """The expected counts of a scene and what it takes to judge visibility in them."""

    def __init__(self, scene: Scene, cache: dict | None = None):
        self.scene = scene
        geo, inst = scene.geometry, scene.instrument
        cache = {} if cache is None else cache  # what does not change when features are dropped
        if "valid" not in cache:
            cache["valid"] = detector_mask(geo.shape, inst)
            cache["stop"] = beamstop_map(geo, inst)
            cache["stop_t"] = np.where(cache["stop"], np.float32(BEAMSTOP_TRANSMISSION), np.float32(1.0))
            cache["horizon_t"] = horizon_transmission(geo, inst)[:, None]
            cache["maps"] = {}
        self.valid, self.stop, self.stop_t = cache["valid"], cache["stop"], cache["stop_t"]
        self.open = cache.setdefault("open", self.valid & ~self.stop)  # where scattering can be seen
        self.horizon_t = cache["horizon_t"]
        self.sample_t = self.stop_t * self.horizon_t
        maps = cache["maps"]
        for f in scene.features:
            if id(f) not in maps:
                maps[id(f)] = (f, f.render(geo, geo.grids()))  # f kept alive so its id stays unique
        self.maps = [maps[id(f)][1] for f in scene.features]
        self.min_px = max(6, max(geo.shape) // 20)
        self.block = max(2, max(geo.shape) // 64)
        self.read_var = float(inst.read_noise) ** 2  # readout noise variance (photons^2)
        if "open_blocks" not in cache:
            cache["open_blocks"] = _blocks(self.open.astype(np.float32), self.block) > self.block**2 / 2
        self.open_blocks = cache["open_blocks"]
        self._counts: dict[int, np.ndarray] = {}
        self._noise: tuple[np.ndarray, np.ndarray] | None = None
        self._exposure()

    def _exposure(self) -> None:
        inst = self.scene.instrument
        signal = np.zeros(self.valid.shape, np.float32)
        for f, m in zip(self.scene.features, self.maps):
            if not _is_hot(f):
                signal += m
        seen = self.valid & ~self.stop & (self.horizon_t > 0.5)
        vals = signal[seen] if seen.any() else signal.ravel()
        median = float(np.median(vals)) if vals.size else 0.0
        top = float(vals.max()) if vals.size else 0.0
        ref = max(median, 2e-3 * top, 1e-12)
        self.scale = inst.level / ref if top > 0 else inst.level
        self.signal = signal
        # a high background drowns most of the image: it is set against the bright end of the signal
        bright = float(np.percentile(vals, 90)) * self.scale / inst.level if inst.high_background and top > 0 else 1.0
        self.background = inst.background * inst.level * max(bright, 1.0)

    def counts_of(self, i: int) -> np.ndarray:
        if i not in self._counts:
            f, m = self.scene.features[i], self.maps[i]
            scale = self.scene.instrument.dtype_max if _is_hot(f) else self.scale
            self._counts[i] = (np.float32(scale) * m) * self.sample_t
        return self._counts[i]

    def expected(self) -> np.ndarray:
        geo, inst = self.scene.geometry, self.scene.instrument
        total = np.zeros(self.valid.shape, np.float32)
        for i in range(len(self.maps)):
            total += self.counts_of(i)
        total += self.background * self.stop_t + inst.dark
        if inst.beam > 0 and (geo.beam_on_image or inst.beamstop != "none"):
            total += (BEAM_PEAK * inst.level * inst.beam) * direct_beam(geo, inst) * self.stop_t
        if inst.flare > 0:
            r = geo.grids().r
            total += (inst.flare * inst.level) * np.exp(-0.5 * (r / inst.flare_sigma) ** 2) * self.stop_t
        return total

    def seen(self, own: np.ndarray, total: np.ndarray, snr_rel: tuple[float, float], lenient: bool = False) -> bool:
        """Whether a feature's counts stand out, pixel by pixel or summed over small blocks (the eye
        integrates: a ring of 2-count pixels on a 0.3-count background is plain to see)."""
        snr, rel = snr_rel
        need = self.min_px // 2 if lenient else self.min_px
        if self._noise is None or self._noise[0] is not total:
            k = self.block
            self._noise = (total, np.sqrt(total + (1.0 + self.read_var)), _blocks(total * self.open, k))
        ok = (own >= np.float32(snr) * self._noise[1]) & (np.float32(1 + rel) * own >= np.float32(rel) * total)
        ok &= self.open
        if np.count_nonzero(ok) >= need:
            return True
        own_b, total_b = _blocks(own * self.open, self.block), self._noise[2]
        noise_b = np.sqrt(total_b + (1.0 + self.read_var * self.block**2))
        ok_b = self.open_blocks & (own_b >= snr * noise_b) & ((1 + rel) * own_b >= rel * total_b)
        return np.count_nonzero(ok_b) >= max(need // self.block, 2)

    def spot_seen(self, f: Peaks, i: int, total: np.ndarray, snr_rel: tuple[float, float]) -> list[bool]:
        """Per spot: its counts over the 3x3 pixels around its centre against everything else there."""
        own = self.counts_of(i)
        rows, cols = self.scene.geometry.shape
        read = 9 * self.read_var
        out = []
        for x, y in zip(f.xs, f.ys):
            xi, yi = int(round(x)), int(round(y))
            if not (0 <= xi < cols and 0 <= yi < rows) or not self.open[yi, xi]:
                out.append(False)
                continue
            win = (slice(max(yi - 1, 0), yi + 2), slice(max(xi - 1, 0), xi + 2))
            o, t = float(own[win].sum()), float(total[win].sum())
            out.append(o >= snr_rel[0] * np.sqrt(t + 1.0 + read) and o >= snr_rel[1] * (t - o))
        return out


def _blocks(a: np.ndarray, k: int) -> np.ndarray:
    n, m = a.shape[0] // k * k, a.shape[1] // k * k
    return a[:n, :m].reshape(n // k, k, m // k, k).sum(axis=(1, 3), dtype=np.float32)


def _poisson(rng: np.random.Generator, lam: np.ndarray) -> np.ndarray:
    """Counting noise: exact Poisson where counts are low, its normal limit where they are high (faster)."""
    out = np.empty(lam.shape, np.float64)
    low = lam < 25
    out[low] = rng.poisson(lam[low])
    high = ~low
    lam_h = lam[high]
    out[high] = np.maximum(np.rint(lam_h + np.sqrt(lam_h) * rng.standard_normal(lam_h.size, np.float32)), 0)
    return out


def _read_out(rng: np.random.Generator, total: np.ndarray, read_var: float, inst: Instrument) -> np.ndarray:
    """Detector readings of the expected photons: Poisson counting; a CCD or image plate adds readout
    noise (a Poisson pedestal of the same variance, taken off again), its gain and its offsets."""
    if read_var <= 0 and inst.gain == 1.0 and not inst.offset and not any(inst.quadrants):
        return _poisson(rng, total)
    counts = _poisson(rng, total + np.float32(read_var)) if read_var > 0 else _poisson(rng, total)
    counts = (counts - read_var) * inst.gain + readout_offsets(total.shape, inst)
    return np.maximum(np.rint(counts), 0)


def _fill_invalid(out: np.ndarray, valid: np.ndarray, inst: Instrument) -> None:
    """What pixels that are not real pixels read (gaps, flagged), and the unflagged hot and dead pixels."""
    signed = inst.dtype == "int32"
    if not inst.fill:
        out[~valid] = -1 if signed else 0
    else:
        out[~valid] = -1 if signed else (inst.dtype_max if inst.fill == "flag" else 0)
    if inst.n_bad > 0 or inst.bad_block > 0:
        out[flagged_pixels(out.shape, inst)] = -2 if signed else inst.dtype_max
    if inst.n_hot > 0 or inst.n_dead > 0:
        hot, heat, dead = unflagged_defects(out.shape, inst)
        flat = out.reshape(-1)
        ok = valid.reshape(-1)
        reading = np.minimum(heat * max(inst.level, 1.0) * inst.gain + inst.offset, 0.5 * inst.dtype_max)
        flat[hot[ok[hot]]] = reading[ok[hot]].astype(out.dtype)
        flat[dead[ok[dead]]] = 0


def _is_hot(f: Feature) -> bool:
    return isinstance(f, Peaks) and f.role == "hot"


def _judge(frame: _Frame, total: np.ndarray, i: int, f: Feature, final: bool):
    """(feature as kept or None when dropped, visible). Half-visible features and spots are dropped."""
    if isinstance(f, Peaks):
        sure = frame.spot_seen(f, i, total, SPOT_STRICT)
        maybe = frame.spot_seen(f, i, total, SPOT_LOOSE)
        keep = list(range(len(sure))) if final else [k for k in range(len(sure)) if sure[k] or not maybe[k]]
        n_seen = sum(sure)
        if f.role in ("isolated", "field") and MAX_ISOLATED < n_seen < MIN_FIELD:
            drop = [k for k in keep if sure[k]][: n_seen - MAX_ISOLATED]
            keep, n_seen = [k for k in keep if k not in drop], MAX_ISOLATED
        least = {"along_ring": 3, "specular": 2}.get(f.role, 1)
        if 0 < n_seen < least:
            keep, n_seen = [k for k in keep if not sure[k]], 0
        return (f if len(keep) == len(f.xs) else f.subset(keep)), n_seen > 0
    own = frame.counts_of(i)
    if frame.seen(own, total, STRICT):
        return f, True
    if not final and frame.seen(own, total, LOOSE, lenient=True):
        return None, False
    return f, False


def _settle(scene: Scene) -> tuple[_Frame, np.ndarray, list[bool]]:
    """Re-judge until nothing changes: dropping one feature changes the exposure and the others' contrast."""
    cache: dict = {}
    for attempt in range(4):
        frame = _Frame(scene, cache)
        total = frame.expected()
        kept: list[Feature] = []
        visible: list[bool] = []
        for i, f in enumerate(scene.features):
            g, seen = _judge(frame, total, i, f, final=attempt == 3)
            if g is not None:
                kept.append(g)
                visible.append(seen)
        changed = len(kept) != len(scene.features) or any(a is not b for a, b in zip(kept, scene.features))
        scene.features = kept
        if not changed:
            return frame, total, visible
    frame = _Frame(scene, cache)
    return frame, frame.expected(), visible


def _horizon_seen(frame: _Frame, total: np.ndarray) -> bool:
    """The sample's shadow is seen when the scattering just above the horizon is at least halved just below."""
    geo = frame.scene.geometry
    if not geo.grazing or not (1 <= geo.horizon_row <= geo.rows - 2):
        return False
    missing = np.zeros_like(total)
    first = int(np.ceil(geo.horizon_row))
    band = slice(first, first + 4)
    missing[band] = ((frame.scale * frame.signal) * frame.stop_t * (1.0 - frame.horizon_t))[band]
    return frame.seen(missing, total + missing, (3.0, 1.0))


def render_scene(scene: Scene) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """(counts in the instrument's dtype, valid mask, tags, meta). Removes half-visible features from
    ``scene`` in place."""
    geo, inst = scene.geometry, scene.instrument
    frame, total, visible = _settle(scene)
    rng = np.random.default_rng(scene.noise_seed)
    counts = _read_out(rng, total, frame.read_var, inst)
    top = inst.dtype_max
    saturated = int(np.count_nonzero(frame.valid & (counts >= top)))
    out = np.minimum(counts, top).astype(inst.dtype)
    _fill_invalid(out, frame.valid, inst)

    tags = {geo.experiment}
    if not geo.beam_on_image:
        tags.add("Beam off image")
    if inst.beamstop != "none":
        body = frame.stop if inst.beamstop in ("linear", "circular") else beamstop_disc(geo, inst)
        if np.count_nonzero(body & frame.valid) >= frame.min_px:
            tags.add("Circular beamstop" if inst.beamstop in CIRCULAR_STOPS else "Linear beamstop")
    if saturated >= SATURATED_MIN_PX:
        tags.add("Saturation")
    if inst.exposure == "weak":
        tags.add("Weak scattering")
    elif inst.exposure == "strong":
        tags.add("Strong scattering")
    if inst.high_background:
        tags.add("High background")
    if _horizon_seen(frame, total):
        tags.add("Horizon")

    rings = 0
    orders: dict[str, int] = {}
    calibrant_seen = False
    spots = 0
    for i, (f, seen) in enumerate(zip(scene.features, visible)):
        if not seen:
            continue
        if isinstance(f, Peaks):
            if f.role in ("along_ring", "specular"):
                tags.add("Peaks: Along ring" if f.role == "along_ring" else "Specular rod peaks")
            else:
                spots += sum(frame.spot_seen(f, i, total, SPOT_STRICT))
            continue
        tags.add(f.tag)
        if isinstance(f, Diffuse):
            tags.update(f.extra_tags)
        if isinstance(f, Ring) and not f.halo:
            rings += 1
            if f.series:
                orders[f.series] = orders.get(f.series, 0) + 1
                calibrant_seen |= f.series == scene.calibrant
    if spots:
        tags.add("Peaks: Many/field" if spots >= MIN_FIELD else "Peaks: Isolated")
    if rings >= 6:
        tags.add("Many rings")
    for series, n in orders.items():
        if series not in CUBIC_CALIBRANTS and higher_orders_tag(n):
            tags.add(higher_orders_tag(n))
    if scene.calibrant and calibrant_seen:
        # CeO2 and Si are calibrants too, but the vocabulary the model states has no name for them
        tags.update({"Powder", "Standard"} | ({scene.calibrant} & NAMED_CALIBRANTS))

    meta = {
        "family": scene.family,
        "experiment": geo.experiment,
        "qmax": round(geo.qmax, 5),
        "geometry": asdict(geo),
        "instrument": asdict(inst),
        "calibrant": scene.calibrant,
        "counts_scale": frame.scale,
        "saturated_px": saturated,
        "features": [
            {"type": type(f).__name__, "tag": _describe(f), "visible": bool(v)}
            for f, v in zip(scene.features, visible)
        ],
    }
    return out, frame.valid.copy(), sorted(tags), meta


def _describe(f: Feature) -> str:
    if isinstance(f, Peaks):
        return f"peaks:{f.role}:{len(f.xs)}"
    return f.tag

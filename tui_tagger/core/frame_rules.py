"""What physics and the frame's own pixels make sure, laid over the network's p (numpy only).

The network sees a 256 px picture without units. Three things it cannot know are sure from the raw frame:

- **a calibrant** (``core.calibrant``): rings at the d-spacings of AgBH or LaB6 (needs distance, wavelength,
  pixel size): its tag and what every calibrant frame is (a powder, isotropic rings) are raised;
- **the experiment type's range** from the geometry: a frame that sees no q above SMALL_ANGLE_MAX_Q holds no
  wide-angle scattering (not TWAXS / GIWAXS); one whose nearest pixel lies beyond WIDE_ANGLE_MIN_Q holds no
  small-angle scattering (not TSAXS / GISAXS); a header that states a grazing incidence angle says the
  sample is in reflection (not TSAXS / TWAXS). A type ruled out is lowered; when one type is left, it takes
  the p the network gave the likeliest ruled-out one (the network saw an experiment of that kind; the
  geometry says which);
- **the experiment named in the file's name** (``named_types``), where the geometry says nothing on that
  count: beamline software and users name files by detector and experiment (NSLS-II CMS writes
  ``…_saxs.tiff`` / ``…_waxs.tiff``, SMI ``…_SAXS.tif`` / ``…_WAXS.tif``; "GIWAXS_sample_…"), which a person
  reads as surely as a header. Whole words only (``saxslab`` is an instrument, not a word ``saxs``);
  ``saxs``, ``usaxs`` and ``gisaxs`` say small angles, ``waxs`` and ``giwaxs`` wide angles, ``gisaxs`` and
  ``giwaxs`` grazing incidence; words that disagree (``saxs`` and ``waxs`` in one name: a SWAXS set) say
  nothing about angles. The name of the file only, not of its folders (a folder "saxs_waxs" holds both);
- **the beam off the frame**: a header (or PONI) beam centre well outside the frame (a default centre is
  never there, so it was stated on purpose): "Beam off image" is raised;
- **a round beamstop** (``core.beamstop.judge``): a disc clearly wider than its arm, measured at full
  resolution around the beam centre the header (or a PONI file) gives, or, where none is stated or it shows
  no verdict, around the dark shadows the pixels show. "Linear beamstop" is lowered, "Circular beamstop"
  raised;
- **no beamstop in the beam** (``core.beamstop.open_beam``): at the stated beam centre the direct beam
  itself, far brighter than any scattering, ringed by lit scattering (no shadow of a stop, not even of a
  semi-transparent one): "Linear beamstop" and "Circular beamstop" are lowered;
- **no bar on the beam** (``core.beamstop.beam_seen``): the direct beam itself seen at the stated centre,
  where the scattering around it is too faint to show a shadow (a weak frame) and the pixels show no stop:
  a linear stop is an opaque bar whose tip covers the beam, so "Linear beamstop" is lowered (a round stop
  may be semi-transparent: "Circular beamstop" stays);
- **the beam on the frame**: a round stop's disc covers the direct beam, so where one is measured on the frame,
  as where the beam itself is seen, "Beam off image" is lowered;
- **a blank frame** (``core.signal.is_blank``): detector noise alone, no scattering (a dark frame): every tag
  but the experiment type is lowered (preprocessing stretches noise to full contrast, which the network
  reads as strong scattering with the beam off the frame).

Nothing else moves. Each rule acts only where it is sure: no geometry, no verdict, no change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tui_tagger.core.vocabulary import EXPERIMENT_TYPES

PHYSICS_FLOOR = 0.97  # p of a tag physics makes sure is raised to at least this
CALIBRANT_TAGS = ("AgBH", "LaB6")
POWDER_TAGS = ("Powder", "Ring: Isotropic")
SMALL_ANGLE = ("TSAXS", "GISAXS")
WIDE_ANGLE = ("TWAXS", "GIWAXS")
TRANSMISSION = ("TSAXS", "TWAXS")
# Small-angle scattering lives below some 0.4 1/A (d > 16 A); wide-angle above some 0.8 (d < 8 A): a frame
# entirely on one side cannot show the other. Frames that span both (SWAXS) are left to the network.
SMALL_ANGLE_MAX_Q = 0.4
WIDE_ANGLE_MIN_Q = 0.8
# Grazing incidence: a stated incidence angle above 0 and at most this (GISAXS/GIWAXS use 0.05-0.5 deg).
GRAZING_MAX_DEG = 3.0
# Words of a file name (its letters only, lower case) and what they state: small or wide angles, grazing.
SMALL_WORDS = frozenset({"saxs", "usaxs", "gisaxs"})
WIDE_WORDS = frozenset({"waxs", "giwaxs"})
GRAZING_WORDS = frozenset({"gisaxs", "giwaxs"})
RULED_OUT = 0.02  # p of a type the geometry rules out is lowered to at most this
BEAM_OFF_MARGIN = 0.02  # share of the frame's longer side the stated centre lies beyond its edge
BEAM_OFF_FLOOR = 0.9  # "Beam off image" there
ROUND_STOP_FLOOR = 0.9  # "Circular beamstop" on a frame with a measured round stop
ROUND_STOP_LINEAR = 0.05  # "Linear beamstop" there
OPEN_BEAM_STOP = 0.05  # both beamstop tags on a frame whose direct beam reaches the detector unblocked
# ("Linear beamstop" alone where the beam is seen but not the scattering around it)
BEAM_ON = 0.05  # "Beam off image" where a round stop's disc or the direct beam is seen on the frame
BLANK = 0.05  # every tag but the experiment types on a frame of noise alone


@dataclass(frozen=True)
class FrameCheck:
    """The sure findings of one frame. ``calibrants``: ((name, confidence), ...); ``ruled_out``: experiment
    types the geometry excludes; ``stop``: "round" where a round beamstop was measured, "open" or "beam"
    (below), else None;
    ``beam_off``: the stated beam centre lies well outside the frame; ``stop`` "open": the direct beam
    reaches the detector unblocked (no stop in it); "beam": the direct beam is seen (no bar on it); ``blank``: the frame holds detector noise alone."""

    calibrants: tuple[tuple[str, float], ...] = ()
    ruled_out: frozenset[str] = field(default_factory=frozenset)
    stop: str | None = None
    beam_off: bool = False
    blank: bool = False

    def __bool__(self) -> bool:
        return bool(self.calibrants or self.ruled_out or self.stop or self.beam_off or self.blank)

    def raised(self) -> list[str]:
        """The tags raised to at least PHYSICS_FLOOR: a named calibrant's own and the powder tags."""
        if not self.calibrants:
            return []
        names = {name for name, _ in self.calibrants}
        return [t for t in CALIBRANT_TAGS if t in names] + list(POWDER_TAGS)

    def apply(self, p: dict[str, float]) -> dict[str, float]:
        """``p`` (tag -> probability) with the findings laid over it (a new dict)."""
        out = dict(p)
        for tag in self.raised():
            if tag in out:
                out[tag] = max(out[tag], PHYSICS_FLOOR)
        types = [t for t in EXPERIMENT_TYPES if t in out]
        out_types = [t for t in types if t in self.ruled_out]
        if out_types:
            best = max(out[t] for t in out_types)
            for t in out_types:
                out[t] = min(out[t], RULED_OUT)
            left = [t for t in types if t not in self.ruled_out]
            if len(left) == 1:
                out[left[0]] = max(out[left[0]], best)
        if self.beam_off and "Beam off image" in out:
            out["Beam off image"] = max(out["Beam off image"], BEAM_OFF_FLOOR)
        if self.stop == "round":
            if "Linear beamstop" in out:
                out["Linear beamstop"] = min(out["Linear beamstop"], ROUND_STOP_LINEAR)
            if "Circular beamstop" in out:
                out["Circular beamstop"] = max(out["Circular beamstop"], ROUND_STOP_FLOOR)
        if self.stop in ("open", "beam"):
            for tag in ("Linear beamstop", "Circular beamstop") if self.stop == "open" else ("Linear beamstop",):
                if tag in out:
                    out[tag] = min(out[tag], OPEN_BEAM_STOP)
        if self.stop in ("round", "open", "beam") and not self.beam_off and "Beam off image" in out:
            out["Beam off image"] = min(out["Beam off image"], BEAM_ON)  # the beam is seen on the frame
        if self.blank:  # what the geometry says stands (the type, a beam stated off the frame)
            for tag in out:
                if tag not in EXPERIMENT_TYPES and not (tag == "Beam off image" and self.beam_off):
                    out[tag] = min(out[tag], BLANK)
        return out

    def apply_row(self, row: np.ndarray, tags: list[str]) -> None:
        """The same on a row of probabilities in ``tags`` order, in place."""
        new = self.apply({t: float(v) for t, v in zip(tags, row)})
        for j, t in enumerate(tags):
            row[j] = new[t]


def ruled_out_types(geometry, shape=None) -> frozenset[str]:
    """The experiment types a ``core.geometry.Geometry`` excludes (see the module's docstring)."""
    from tui_tagger.core.geometry import q_range

    out: set[str] = set()
    if geometry is None:
        return frozenset()
    try:
        qr = q_range(geometry, shape)
    except (ValueError, ArithmeticError):
        qr = None
    if qr is not None:
        lo, hi = qr
        if hi < SMALL_ANGLE_MAX_Q:
            out.update(WIDE_ANGLE)
        if lo > WIDE_ANGLE_MIN_Q:
            out.update(SMALL_ANGLE)
    alpha = geometry.incidence_deg
    if alpha is not None and np.isfinite(alpha) and 0 < alpha <= GRAZING_MAX_DEG:
        out.update(TRANSMISSION)
    if out >= set(EXPERIMENT_TYPES):  # contradictory: a header that is wrong somewhere; trust none of it
        return frozenset()
    return frozenset(out)


def named_types(name: str) -> frozenset[str]:
    """The experiment types the words of a file ``name`` rule out (see the module's docstring); the folders
    of a path do not count."""
    import os
    import re

    base = os.path.basename(str(name).replace("\\", "/"))
    words = set(re.findall(r"[a-z]+", base.lower()))
    out: set[str] = set()
    small, wide = bool(words & SMALL_WORDS), bool(words & WIDE_WORDS)
    if small != wide:
        out.update(WIDE_ANGLE if small else SMALL_ANGLE)
    if words & GRAZING_WORDS:
        out.update(TRANSMISSION)
    return frozenset(out) if out < set(EXPERIMENT_TYPES) else frozenset()


def _with_named(ruled: frozenset[str], name: str | None) -> frozenset[str]:
    """The geometry's ruled-out types, and the name's on each count the geometry leaves open (angles:
    small or wide; incidence: transmission or grazing). Geometry wins where both speak."""
    if not name:
        return ruled
    named = named_types(name)
    out = set(ruled)
    for count in ((SMALL_ANGLE, WIDE_ANGLE), (TRANSMISSION, tuple(t for t in EXPERIMENT_TYPES if t not in TRANSMISSION))):
        said_by_geometry = any(set(side) <= ruled for side in count)
        if not said_by_geometry:
            for side in count:
                if set(side) <= named:
                    out.update(side)
    return frozenset(out) if out < set(EXPERIMENT_TYPES) else ruled


def in_photons(data: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``data``, or for a frame of normalised intensities (``core.photons.normalised_gain``) the same frame in
    photons. The beamstop's measures hold contrast to a photon's Poisson noise, at least one count: real-dev
    x 0.001 kept the network's "Linear beamstop" on 8 of its 10 round-stop frames (now 2; without header 1)."""
    from tui_tagger.core.photons import normalised_gain

    data = np.asarray(data)
    if data.dtype.kind != "f":
        return data
    sample = data[:: max(1, data.shape[0] // 64)].ravel()
    g = normalised_gain(data, mask, sample[np.isfinite(sample)])
    return data if g is None else data / np.float32(g)


def check_frame(data: np.ndarray, mask: np.ndarray | None, geometry, name: str | None = None) -> FrameCheck:
    """The sure findings of a decoded frame with the geometry its header (or a PONI file) gives (None or an
    empty Geometry: the pixels alone); ``name``: the file's name or path, whose words may name the
    experiment (``named_types``)."""
    from tui_tagger.core.beamstop import beam_seen, judge, open_beam
    from tui_tagger.core.calibrant import has_q, identify
    from tui_tagger.core.geometry import direct_beam_px
    from tui_tagger.core.signal import is_blank

    shape = np.shape(data)[-2:]
    blank = is_blank(data, mask)  # noise alone: no rings, no stop, no beam to look for
    calibrants = ()
    if has_q(geometry) and not blank:
        calibrants = tuple((m.calibrant, float(m.confidence)) for m in identify(data, mask, geometry))
    off, centre = False, None
    beam = direct_beam_px(geometry, shape) if geometry is not None else None
    if beam is not None and all(np.isfinite(beam)):
        margin = BEAM_OFF_MARGIN * max(shape)
        off = not (-margin <= beam[0] <= shape[0] + margin and -margin <= beam[1] <= shape[1] + margin)
        centre = (beam[1], beam[0])
    if blank:
        return FrameCheck((), _with_named(ruled_out_types(geometry, shape), name), None, off, blank=True)
    # the beam stated well off the frame: no stop on it to judge (a shadow there is a horizon or a window)
    stop = None
    if not off:
        counts = in_photons(data, mask)  # the stop's measures weigh contrast against a photon's noise
        stop = "open" if open_beam(counts, mask, centre) else judge(counts, mask, centre).kind
        if stop is None and beam_seen(counts, mask, centre):  # (a bar or a round stop measured: they stand)
            stop = "beam"
    return FrameCheck(calibrants, _with_named(ruled_out_types(geometry, shape), name), stop if stop in ("round", "open", "beam") else None,
                      off)

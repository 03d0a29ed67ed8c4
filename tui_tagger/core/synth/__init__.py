"""The labelled synthetic x-ray scattering generator: physics-inspired detector frames whose tags are
true by construction.

``generate_frame(seed, index, size)`` draws frame ``index`` of data set ``seed`` (it depends on those
alone: 100 frames are the first 100 of 200) and renders it; ``write_dataset`` writes frames as
detector-like files with their tag files. Every frame states each of ``SYNTH_TAGS`` as present or
absent; no other tag is ever claimed.

Frames come in families (``FAMILIES``, families.py): the classic scenes (the majority) and domain
randomisation towards real data: real detectors (module gaps, strips and other non-square frames,
CCD offsets, flagged pixels), beamstops of every kind, dark frames, empty cells, solution SAXS,
single-crystal diffraction, powder calibrants at their true d-spacings.
"""

from __future__ import annotations

import numpy as np

from .draw import agbh_q, draw_scene, lab6_q
from .families import FAMILIES, ceo2_q, si_q
from .features import Diffuse, Peaks, Ring, Rods, Yoneda
from .geometry import Geometry
from .instrument import DETECTORS, Instrument
from .scene import Scene, higher_orders_tag, render_scene
from .writer import frame_name, write_dataset, write_frame

SYNTH_TAGS: list[str] = [
    # experiments
    "TSAXS", "TWAXS", "GISAXS", "GIWAXS",
    # instrumental
    "Beam off image", "Linear beamstop", "Circular beamstop", "Saturation",
    # kinds of images
    "Weak scattering", "Strong scattering", "Standard",
    # scattering features
    "Horizon", "Yoneda", "Specular rod", "Specular rod peaks", "Bragg rods", "Vertical streaks",
    "Ring: Isotropic", "Ring: Oriented z", "Ring: Oriented xy", "Ring: Oriented other",
    "Ring: Textured", "Ring: Spotted", "Many rings",
    "Halo: Isotropic", "Halo: Oriented z", "Halo: Oriented xy",
    "Higher orders: 2 to 3", "Higher orders: 4 to 6", "Higher orders: 7 to 10",
    "Higher orders: 10 to 20", "Higher orders: 20 or more",
    "Peaks: Isolated", "Peaks: Many/field", "Peaks: Along ring",
    "Diffuse low-q: Isotropic", "Diffuse low-q: Anisotropic", "Diffuse low-q: Oriented z",
    "Diffuse low-q: Oriented xy", "Diffuse high-q: Isotropic", "High background",
    # samples: the calibrants are the only samples whose identity the generator states
    "Powder", "AgBH", "LaB6",
]


def generate_frame(seed: int, index: int, size: int = 256,
                   families=None) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """(counts (uint32 or int32), mask (True = valid pixel), tags, meta) of frame ``index``.

    ``size`` is the frame's long side: frames of real detectors are not square (a strip detector's
    frame may be 34 x 256). ``families``: which kinds of frame to draw (``FAMILIES``; None: all)."""
    scene = draw_scene(seed, index, size, families)
    counts, mask, tags, meta = render_scene(scene)
    meta.update(seed=seed, index=index)
    return counts, mask, tags, meta


__all__ = [
    "SYNTH_TAGS", "generate_frame", "write_dataset", "write_frame", "frame_name", "draw_scene",
    "render_scene", "Scene", "Geometry", "Instrument", "Ring", "Peaks", "Rods", "Yoneda", "Diffuse",
    "agbh_q", "lab6_q", "ceo2_q", "si_q", "higher_orders_tag", "FAMILIES", "DETECTORS",
]

"""False-colour maps: a registry of 256-entry RGB lookup tables built from anchor colours.

No matplotlib: viridis, magma, inferno and turbo are 33 evenly spaced samples of the published
256-entry tables (linear interpolation between them is within 2/255 of the original). The others are
defined by a few anchor colours at given positions.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from tui_tagger.core.errors import TaggerError

# Colour of pixels with no valid value (masked, NaN): a dark slate that no map below uses for its low
# end, so detector gaps and beamstops never read as "zero intensity".
MASKED_RGB = (0, 64, 80)


def _even(hexes: str) -> list[tuple[float, str]]:
    """Evenly spaced anchors from a whitespace-separated list of hex colours."""
    cols = hexes.split()
    return [(i / (len(cols) - 1), c) for i, c in enumerate(cols)]


# name -> [(position in [0, 1], "rrggbb"), ...], positions increasing from 0 to 1
_ANCHORS: dict[str, list[tuple[float, str]]] = {
    # The field's map (SAXS/WAXS viewers at synchrotrons): black, blue, magenta, orange, yellow, white.
    # Weak diffuse scattering lands in the blues, rings and peaks in the warm end. Default for thumbnails.
    "cmr": [
        (0.00, "000000"),
        (0.17, "0000b4"),
        (0.38, "a800c8"),
        (0.62, "ff6e00"),
        (0.84, "ffe600"),
        (1.00, "ffffff"),
    ],
    "gray": [(0.0, "000000"), (1.0, "ffffff")],
    "viridis": _even(
        "440154 470d60 48186a 482374 472d7b 453781 424086 3e4989 3b528b 375b8d 33638d 2f6b8e 2c728e "
        "297a8e 26828e 23898e 21918c 1f978b 1f9f88 21a685 27ad81 31b57b 3dbc74 4cc26c 5cc863 6ece58 "
        "81d34d 95d840 aadc32 c0df25 d5e21a eae51a fde725"
    ),
    "magma": _even(
        "000004 030312 0a0822 130d34 1d1147 29115a 36106b 440f76 51127c 5d177f 6a1c81 762181 832681 "
        "902a81 9c2e7f aa337d b73779 c23b75 cf4070 db476a e55064 ee5b5e f4695c f9785d fb8761 fd9668 "
        "fea571 feb47b fec287 fed194 fde0a1 fceeb0 fcfdbf"
    ),
    "inferno": _even(
        "000004 040312 0b0724 150b37 210c4a 2f0a5b 3d0965 4a0c6b 57106e 64156e 71196e 7d1e6d 8a226a "
        "972766 a32c61 b0315b bc3754 c63d4d d04545 da4e3c e35933 eb6429 f1711f f67e14 f98c0a fb9b06 "
        "fcaa0f fbba1f f9c932 f5d949 f2e865 f3f586 fcffa4"
    ),
    "turbo": _even(
        "30123b 392a73 4040a2 4456c7 466be3 4680f6 4294ff 37a8fa 28bceb 1ccdd8 18ddc2 1fe9af 32f298 "
        "4ef97d 6dfe62 8bff4b a4fc3c b7f735 cbed34 dde037 ecd13a f7c13a fdae35 fe992c fb8122 f56918 "
        "ec530f e14109 d23105 c12302 ac1701 950d01 7a0403"
    ),
    # matplotlib's "hot": red rises first, then green, then blue
    "hot": [(0.0, "0a0000"), (0.365, "ff0000"), (0.746, "ffff00"), (1.0, "ffffff")],
}

COLORMAPS: tuple[str, ...] = tuple(_ANCHORS)
DEFAULT_COLORMAP = "cmr"


def check_colormap(name: str) -> str:
    """``name`` if it is a known map, else a TaggerError listing the known ones."""
    if name not in _ANCHORS:
        raise TaggerError(f"unknown colour map {name!r}; known: {', '.join(COLORMAPS)}")
    return name


@lru_cache(maxsize=None)
def _lut(name: str) -> np.ndarray:
    anchors = _ANCHORS[check_colormap(name)]
    pos = np.array([p for p, _ in anchors])
    rgb = np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for _, h in anchors], dtype=float)
    x = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(x, pos, rgb[:, c]) for c in range(3)], axis=1)
    lut = np.round(lut).astype(np.uint8)
    lut.flags.writeable = False  # shared between callers
    return lut


def colormap_lut(name: str) -> np.ndarray:
    """The (256, 3) uint8 lookup table of map ``name`` (read-only, shared)."""
    return _lut(name)


def colorbar(name: str, width: int) -> np.ndarray:
    """A (1, width, 3) uint8 strip running from the map's low end (left) to its high end (right)."""
    width = max(1, int(width))
    idx = np.round(np.linspace(0, 255, width)).astype(np.intp)
    return colormap_lut(name)[idx][None, :, :]

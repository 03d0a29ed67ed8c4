"""The powder calibrants' cells and the reflections of a cubic cell: the facts that the synthetic generator
(``core.synth``) draws rings from and the calibrant check (``core.calibrant``) matches rings against."""

from __future__ import annotations

import math
from collections.abc import Iterator

AGBH_D = 58.380  # silver behenate lamellar spacing (A), Blanton et al., Powder Diffr. 10 (1995) 91
LAB6_A = 4.15692  # LaB6 cubic cell (A), NIST SRM 660 series
CEO2_A = 5.4111  # CeO2 fluorite cell (A), NIST SRM 674b
SI_A = 5.43123  # Si diamond cell (A), NIST SRM 640 series


def cubic_reflections(a: float, qmax: float) -> Iterator[tuple[int, int, int, int, float]]:
    """(h, k, l, h² + k² + l², q) of a cubic cell of side ``a`` (A) with 0 < q <= qmax (1/A), one per
    h >= k >= l >= 0; which of them a lattice allows is the caller's rule."""
    top = int(qmax * a / (2 * math.pi)) + 1
    for h in range(top + 1):
        for k in range(h + 1):
            for l in range(k + 1):  # noqa: E741
                n2 = h * h + k * k + l * l
                q = 2 * math.pi * math.sqrt(n2) / a if n2 else 0.0
                if n2 and q <= qmax:
                    yield h, k, l, n2, q

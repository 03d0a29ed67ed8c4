"""``tui-tagger info FILE...``: format, shape, dtype, range and masked fraction of each image, its units per
photon measured from its noise (``core.photons``: about 1 for a counting detector, more for an integrating
one's ADU, a small fraction for intensities normalised to a monitor; null where the frame cannot tell), and
the scattering geometry its header (or a PONI file) gives (``info_geometry``)."""

from __future__ import annotations

import argparse
import math

from tui_tagger.core.text import printable
from tui_tagger.commands import info_geometry
from tui_tagger.commands.common import print_json, warn
from tui_tagger.core.errors import ImageReadError
from tui_tagger.core.formats import parse_ref, read_image
from tui_tagger.core.photons import photon_gain

# Range and masked fraction of a stack cover its frames up to this many pixels in all (then "frames_read" says
# how many were looked at), so `info` on a 10,000-frame Eiger master stays quick.
STATS_PIXEL_BUDGET = 2**25
KEYS = ("path", "format", "shape", "dtype", "frames", "min", "max", "masked_fraction", "units_per_photon", "error")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="image files; HDF5 frames as file.h5::/entry/data/data#12 or file.h5#12")
    parser.add_argument("--json", action="store_true", help="print a JSON list with one object per file")
    info_geometry.add_arguments(parser)


def describe(ref: str) -> dict[str, object]:
    """The info record of one file; on error every value but path and error is None."""
    record: dict[str, object] = dict.fromkeys(KEYS)
    record["path"] = ref
    try:
        frame = read_image(ref)
    except ImageReadError as err:
        record["error"] = str(err)
        return record
    meta = dict(frame.meta)
    frames = int(meta.get("frames", 1) or 1)
    lo, hi, valid, total, read = math.inf, -math.inf, 0, 0, 0
    explicit = parse_ref(ref).index is not None
    gain = photon_gain(frame.data, frame.mask)  # of the first frame: a stack's frames share their detector
    while True:
        values = frame.data[frame.mask]
        if values.size:
            lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
        valid, total, read = valid + values.size, total + frame.mask.size, read + 1
        if explicit or read >= frames or (read + 1) * frame.mask.size > STATS_PIXEL_BUDGET:
            break
        try:
            frame = read_image(f"{ref}#{read}")
        except ImageReadError as err:
            record["error"] = str(err)
            break
    record.update(
        format=frame.format,
        shape=meta.pop("shape", list(frame.data.shape)),
        dtype=meta.pop("dtype", None),
        frames=frames,
        min=lo if valid else None,
        max=hi if valid else None,
        masked_fraction=(total - valid) / total,
        units_per_photon=None if gain is None else float(f"{gain:.3g}"),
    )
    meta.pop("masked_fraction", None)
    meta.pop("frames", None)
    if frames > 1 and not explicit:
        meta.pop("frame", None)
        record["frames_read"] = read
    record["meta"] = meta
    return record


def _number(value) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.6g}"


def _row(rec: dict[str, object]) -> list[str]:
    shape = "x".join(str(d) for d in rec["shape"])
    frames = str(rec["frames"])
    if rec.get("frames_read", rec["frames"]) != rec["frames"]:
        frames += f" ({rec['frames_read']} read)"
    return [printable(str(rec["path"])), str(rec["format"]), shape, str(rec["dtype"]), frames,
            _number(rec["min"]), _number(rec["max"]), f"{100 * rec['masked_fraction']:.2f}%",
            _number(rec.get("units_per_photon"))]


def print_table(records: list[dict[str, object]]) -> None:
    rows = [["FILE", "FORMAT", "SHAPE", "DTYPE", "FRAMES", "MIN", "MAX", "MASKED", "PER PHOTON"]]
    rows += [_row(r) for r in records if not r["error"] or r["format"]]
    if len(rows) == 1:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    numeric = {5, 6, 7, 8}
    for row in rows:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip())


def run(args: argparse.Namespace) -> int:
    geometry = info_geometry.GeometryOptions(args)  # a malformed --poni file: one line naming it, nothing else
    records = [describe(ref) for ref in args.files]
    for rec in records:
        rec["geometry"] = geometry.record(rec)
    if args.json:
        print_json(records)
    else:
        print_table(records)
        lines = info_geometry.text_lines(records)
        if lines:
            print()
            print("\n".join(lines))
    for rec in records:
        if rec["error"]:
            warn(str(rec["error"]))
    return 1 if any(r["error"] for r in records) else 0

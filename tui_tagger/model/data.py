"""From folders to model inputs: finding images, their labels, sample groups, and the decode +
preprocess of one frame that the decoding workers run (``model.feed``; shared by train, evaluate and predict).
torch is imported only by ``batches``: ``predict`` finds its images and starts decoding before torch loads."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from tui_tagger.core.errors import FileProblem, TaggerError
from tui_tagger.core.vocabulary import reviewed_tags
from tui_tagger.model.transforms import preprocess

# Files that sit beside images and are never images themselves (skipped without sniffing).
_NOT_IMAGES = {".tag", ".xml", ".toml", ".json", ".csv", ".txt", ".md", ".pt", ".py", ".log"}


def image_refs(paths: list[str | Path]) -> list[str]:
    """Image refs under ``paths``: files as given (a bad one is reported when read), folders walked in
    name order (hidden entries skipped, files kept when ``sniff`` knows them), multi-frame files expanded."""
    from tui_tagger.core.formats import frame_refs, sniff

    refs: list[str] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for folder, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith(".") or Path(name).suffix.lower() in _NOT_IMAGES:
                        continue
                    f = Path(folder) / name
                    if sniff(f) is not None:
                        refs.extend(_frames(f, frame_refs))
        elif p.exists() or "::" in str(p) or "#" in str(p):
            refs.extend(_frames(p, frame_refs) if p.exists() else [str(p)])
        else:
            raise FileProblem(p, "no such file or folder")
    return refs


def _frames(path: Path, frame_refs: Callable[[Path], list[str]]) -> list[str]:
    try:
        return list(frame_refs(path))
    except TaggerError:
        return [str(path)]  # the read reports the problem, in order, with the other results


@dataclass
class Sample:
    """One labelled image: its ref, its tags (name -> source) and the group it is split with."""

    ref: str
    tags: dict[str, str | None]
    group: str = ""


@dataclass
class LabelledSet:
    samples: list[Sample] = field(default_factory=list)
    unlabelled: int = 0  # images no one decided on: no tag file, or one of the model's alone (not used)
    problems: list[str] = field(default_factory=list)  # unreadable tag files (one line each)


def labelled_samples(paths: list[str | Path], tags_dir: str | Path | None = None) -> LabelledSet:
    """Images under ``paths`` whose tag file is a person's decision (``vocabulary.reviewed_tags``), with their
    tags and sample group."""
    from tui_tagger.core.tagstore import TagStore

    out = LabelledSet()
    for root in paths:
        root = Path(root)
        store = TagStore(Path(tags_dir) if tags_dir else None, root if root.is_dir() else root.parent)
        for ref in image_refs([root]):
            try:
                tagfile = store.load(ref)
            except TaggerError as err:
                out.problems.append(str(err))
                continue
            tags = {name: tag.source for name, tag in tagfile.tags.items()} if tagfile is not None else {}
            if tagfile is None or not reviewed_tags(tags, tagfile.predictions):  # no one decided on it
                out.unlabelled += 1
                continue
            out.samples.append(Sample(ref, tags, group_key(ref, tags)))
    return out


# Trailing name parts that vary between frames of one sample (matched case-insensitively, whole "_" tokens):
# exposure/time/temperature values (10sec, 0480min, 25C), scan positions and angles (spot1, th020, x-1.5),
# the technique (SAXS, WAXS ...) and detector file roles (master, data_000001).
_VARYING = re.compile(
    r"^(?:\d+(?:\.\d+)?(?:ms|s|sec|secs|min|mins|h|hr|hrs|c|k|deg)"
    r"|(?:spot|pos|loc|scan|frame|fr|run|rep|shot|th|theta|chi|phi|om|omega|ai|inc|x|y|z|t|temp)-?\d+(?:\.\d+)?[a-z]*"
    r"|saxs|waxs|maxs|gisaxs|giwaxs|usaxs|master|data)$",
    re.IGNORECASE,
)


def group_key(ref: str, tags: dict[str, str | None] | None = None) -> str:
    """The sample a frame belongs to, so that near-duplicate frames never straddle train and validation.

    Rule: take the image's NAME as its tag file is named (``tagstore.image_stem``: no extension; a
    frame of a container is ``NAME_12``, so all frames of one file are one group); drop trailing purely numeric tokens (frame/scan counters, e.g. ``_0001``) and then, repeatedly,
    trailing tokens that name a varying condition (see ``_VARYING``); numbers *inside* the remaining
    name are part of the sample (``layer_no_nxtal_1200_0480min_th020_spot1_10sec_SAXS`` ->
    ``layer_no_nxtal_1200``). The folder is part of the key. Synthetic frames (every tag from the
    generator) are independent draws: each is its own group.
    """
    from tui_tagger.core.tagstore import image_stem

    if tags and all(source == "synthetic" for source in tags.values()):
        return ref
    folder, stem = image_stem(ref)
    tokens = [t for t in stem.split("_") if t]
    while len(tokens) > 1 and tokens[-1].isdigit():
        tokens.pop()
    while len(tokens) > 1 and _VARYING.match(tokens[-1]):
        tokens.pop()
    return str(folder / "_".join(tokens or [stem]))


def label_matrix(samples: list[Sample], tags: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(y, known), both float32 (N, T). Tags the model itself added (source="model") are not ground
    truth: they are neither positives nor negatives (known = 0) so the model never learns from itself; nor
    is a missing experiment type on an image that names none (``vocabulary.decides``)."""
    from tui_tagger.core.vocabulary import decides

    index = {t: j for j, t in enumerate(tags)}
    y = np.zeros((len(samples), len(tags)), dtype=np.float32)
    known = np.ones_like(y)
    undecided = [j for t, j in index.items() if not decides(t, ())]  # the experiment types
    for i, s in enumerate(samples):
        if undecided and not decides(tags[undecided[0]], s.tags):
            known[i, undecided] = 0.0
        for name, source in s.tags.items():
            j = index.get(name)
            if j is None:
                continue
            if source == "model":
                known[i, j] = 0.0
            else:
                y[i, j] = 1.0
    return y, known


def load_frame_and_input(ref: str, config: dict[str, Any]):
    """(the decoded frame, its model input): the single path from a file to a model input."""
    from tui_tagger.core.formats import read_image

    frame = read_image(ref)
    x = preprocess(frame.data, frame.mask, config)
    if float(x.min()) == float(x.max()) and not has_valid_pixel(frame):  # (a flat input: checked in full)
        # a model's p on nothing (TSAXS 0.79 on an all-NaN frame) is a guess the pipeline would trust
        raise TaggerError(f"{ref}: no valid pixel (every pixel is masked, flagged or not a number)")
    return frame, x


def has_valid_pixel(frame) -> bool:
    """Whether any pixel is finite and not masked (flagged values such as 2^32-1 are masked by the readers)."""
    valid = np.isfinite(frame.data)
    if frame.mask is not None:
        valid &= np.asarray(frame.mask, dtype=bool)
    return bool(valid.any())


def load_and_preprocess(ref: str, config: dict[str, Any]) -> np.ndarray:
    """Decode one image and preprocess it (``load_frame_and_input`` without the frame)."""
    return load_frame_and_input(ref, config)[1]


def frame_physics(ref: str, frame, poni_cache: dict | None = None):
    """The physics check of a decoded frame (``core.frame_rules.check_frame``: a calibrant named from its
    ring positions, the experiment types its geometry or its file's name rules out, a round beamstop measured
    at full resolution), with the geometry its header or a PONI file beside it gives: a ``FrameCheck``. Frames
    whose header gives no geometry get the pixels' checks alone (the beamstop found from its shadow). A
    failing check never fails the frame: None."""
    from tui_tagger.core.formats import parse_ref
    from tui_tagger.core.frame_rules import check_frame
    from tui_tagger.core.geometry import geometry_of

    try:
        geometry = geometry_of(ref, shape=frame.data.shape, poni_cache=poni_cache)
        return check_frame(frame.data, frame.mask, geometry if geometry else None, name=parse_ref(ref).path)
    except Exception:  # a malformed PONI file, a degenerate frame: the network's answer stands
        return None


class FrameDataset:
    """Decoding + preprocessing per item (a map-style dataset a torch DataLoader takes). Never raises: an unreadable image
    gives (index, None, one-line error, None) so one bad file does not stop a run. ``physics``: the
    fourth item is ``frame_physics`` of the raw frame (else None)."""

    def __init__(self, refs: list[str], config: dict[str, Any], physics: bool = False):
        self.refs = refs
        self.config = config
        self.physics = physics
        self._poni_cache: dict = {}  # folder -> its one PONI file (or None), per run

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray | None, str | None, Any]:
        return (i, *decode_item(self.refs[i], self.config, self.physics, self._poni_cache))


def decode_item(ref: str, config: dict[str, Any], physics: bool = False,
                poni_cache: dict | None = None) -> tuple[np.ndarray | None, str | None, Any]:
    """(model input, None, physics) or (None, one-line error, None) for one ref: what a decoding worker does
    for each frame (``model.feed``'s workers: ``batches``, ``predict`` and the streaming pipeline of ``model.stream``).
    Never raises."""
    try:
        frame, x = load_frame_and_input(ref, config)
        return x, None, frame_physics(ref, frame, poni_cache) if physics else None
    except TaggerError as err:
        return None, str(err), None
    except MemoryError:
        return None, f"{ref}: out of memory while decoding", None
    except Exception as err:  # a reader bug must not end the run; still one line, naming the file
        return None, f"{ref}: {type(err).__name__}: {' '.join(str(err).split())}", None


def batches(
    refs: list[str], config: dict[str, Any], batch: int = 32, workers: int = 0, pin_memory: bool = False,
    physics: bool = False, feed=None,
) -> Iterator[tuple]:
    """(indices, float32 tensor (B, 1, S, S) or None, [(index, error)]) in input order; decoding runs in
    ``workers`` processes (``model.feed.Feed``) while the caller uses the previous batch. ``physics``: a fourth
    item, the ``frame_physics`` of each frame of ``indices`` (computed in the workers, from the raw frame).
    ``feed``: a ``Feed`` of these refs already started (``predict`` starts it before torch is imported)."""
    import torch

    from tui_tagger.model.feed import Feed

    if feed is None:
        feed = Feed(refs, config, physics, workers)
    with feed:
        for index, x, errors, found in feed.batches(batch):
            if x is not None:
                x = torch.from_numpy(x[:, None])
                if pin_memory:
                    x = x.pin_memory()
            yield (index, x, errors, found) if physics else (index, x, errors)


def default_workers() -> int:
    """Leave one core to the model: decoding workers = cores - 1 (at most 8)."""
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def decode_all(
    refs: list[str], config: dict[str, Any], batch: int, workers: int, warn: Callable[[str], None],
    dtype: Any = np.float16,
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (M, S, S) of the M readable refs, ok (N,) bool): every ref decoded and preprocessed once
    (in ``workers`` processes, a progress bar on a terminal), each unreadable one reported by ``warn``.
    float16 keeps a 256x256 frame in 128 KiB: 60000 training frames in 8 GB."""
    from tui_tagger.model.progress import Progress

    size = config["size"]
    x = np.zeros((len(refs), size, size), dtype=dtype)
    ok = np.zeros(len(refs), dtype=bool)
    progress = Progress(len(refs), "decode")
    for index, xb, errors in batches(refs, config, batch, workers):
        if xb is not None:
            x[index] = xb[:, 0].numpy()
            ok[index] = True
        for _, err in errors:
            progress.close()
            warn(err)
        progress(len(index) + len(errors))
    progress.close()
    return (x if ok.all() else x[ok]), ok  # no copy of a large array when all is well

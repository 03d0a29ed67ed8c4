"""Pluggable per-image feature sources with an on-disk cache.

``physics``: hand-made scattering features (``learn.physics``), numpy only, always available.
``cnn``: penultimate-layer activations of the model core (``tui_tagger.model.extract_features``),
reached lazily; a clear ``TaggerError`` when there is no CNN model.
``combined``: the CNN's vector, then the physics one (each cached under its own source); the heads' embedding
gives the physics block ``PHYSICS_SHARE`` of the variance (``column_weights``).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from tui_tagger.core.errors import TaggerError
from tui_tagger.learn.featcache import FeatureCache

SOURCES = ("physics", "cnn", "combined")
# as the screens name them
SOURCE_LABELS = {"physics": "physics features", "cnn": "CNN features", "combined": "CNN + physics features"}
# the physics block's share of the standardised variance in the combined space: the CNN (trained on synthetic
# frames only) keeps most of it, and the hand-made features, which need no training, carry what its features
# miss on real frames. 0.1, 0.25 and 0.5 (the blocks' widths) measured (README): 0.1 lost to random labels on
# fewer cells than the CNN's features alone on real-dev and two synthetic folders, 0.5 on the synthetic ones
# alone; not the default (``default_source``): its mean on synthetic TSAXS was 0.001-0.002 lower at 5 of 9 k
PHYSICS_SHARE = 0.1
# below this many images to compute, worker processes cost more to start than they save
_POOL_MIN = 64
_FLUSH = 256


@dataclass
class FeatureSet:
    """Features of the images that could be read: ``X[i]`` belongs to ``refs[i]``."""

    X: np.ndarray
    refs: list[str]
    rows: list[int]  # position of each kept image in the list that was asked for
    problems: list[str] = field(default_factory=list)  # one line per image that could not be read


def default_source(model: str | None = None) -> str:
    """The features heads learn on (the TUI's live head; ``--features auto`` on the command line):
    ``$TUI_TAGGER_HEAD_FEATURES`` (one of ``SOURCES``), else the CNN's when torch and a model (``model``, else
    the default one) are there (on synthetic folders they gave heads 5-10 points more accurate at 50 labels
    than the physics features), else the physics features."""
    want = os.environ.get("TUI_TAGGER_HEAD_FEATURES", "auto").strip().lower()
    if want in SOURCES:
        return want
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return "physics"
    if model:
        return "cnn" if os.path.isfile(model) else "physics"
    try:
        from tui_tagger.model.locate import default_model_path

        default_model_path()
    except TaggerError:
        return "physics"
    return "cnn"


def column_weights(source: str, X: np.ndarray, share: float = PHYSICS_SHARE) -> np.ndarray | None:
    """Per-column weights for ``heads.fit_embedding`` (applied after standardising): for ``combined``, each
    block's live columns (not constant) share its variance, the physics block ``share`` of it;
    None (every column one unit) for the other sources."""
    if source != "combined":
        return None
    from tui_tagger.learn.physics import DIM

    X = np.asarray(X)
    d_cnn = X.shape[1] - DIM
    live = X.std(axis=0) > 1e-6
    n_cnn, n_phys = max(1, int(live[:d_cnn].sum())), max(1, int(live[d_cnn:].sum()))
    return np.r_[np.full(d_cnn, np.sqrt((1 - share) / n_cnn)), np.full(DIM, np.sqrt(share / n_phys))]


def _physics_one(ref: str) -> tuple[np.ndarray | None, str | None]:
    from tui_tagger.core.formats import read_image
    from tui_tagger.learn.physics import physics_features

    try:
        frame = read_image(ref)
        return physics_features(frame.data, frame.mask, frame.meta), None
    except TaggerError as err:
        return None, str(err)
    except (ValueError, MemoryError, FloatingPointError) as err:  # a frame our maths cannot digest
        return None, f"{ref}: cannot compute features: {err}"


def _failed_or(out, ref: str) -> tuple[np.ndarray | None, str | None]:
    """A physics result from a cluster, or (None, the reason) for a batch the cluster could not run."""
    return (None, f"{ref}: {out}") if isinstance(out, str) else out


def physics_version() -> str:
    from tui_tagger.learn import physics

    return f"physics-v{physics.VERSION}-d{physics.DIM}"


def _cnn_extractor(model: str | None):
    """(extract(refs) -> (n, d) array, version string), or a TaggerError when no CNN is available."""
    try:
        from tui_tagger import model as model_pkg

        extract = getattr(model_pkg, "extract_features", None)
    except ImportError:
        extract = None
    if extract is None:
        raise TaggerError("no CNN model available (torch missing?); use --features physics")
    try:
        from tui_tagger.model.locate import default_model_path

        path = model or str(default_model_path())
        st = os.stat(path)
    except ImportError as err:
        raise TaggerError(f"no CNN model available: {err}; use --features physics") from None
    except OSError:
        raise TaggerError(f"no CNN model available: {path} not found; train one or use --features physics") from None
    version = (f"cnn:{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}"
               + _preprocessing(path, st.st_size, st.st_mtime_ns))

    def run(refs):
        return extract(refs, model=path)

    run.model = path  # a cluster runs the same model on its workers
    return run, version


@functools.lru_cache(maxsize=8)
def _preprocessing(path: str, size: int, mtime_ns: int) -> str:
    """The preprocessing the model's features come through, as the cache's version sees it: a key added
    since (``hot``, ``unit``), whose default applies to the same model file, changes the features too."""
    try:
        from tui_tagger.model.peek import model_preprocess

        config = model_preprocess(path)
    except Exception:  # not a file peek reads: the model's own loading says what is wrong
        return ""
    return "" if config is None else ":" + json.dumps(config, sort_keys=True)


def _physics_batch(refs: list[str]) -> list[tuple[np.ndarray | None, str | None]]:
    """``_physics_one`` over a batch (a task on a cluster's worker)."""
    return [_physics_one(ref) for ref in refs]


def compute(items: list[tuple[str, int, int]], source: str = "physics", *, model: str | None = None,
            workers: int | None = None, progress: Callable[[int, int], None] | None = None,
            cache_dir=None, cluster=None, embed: Callable | None = None) -> FeatureSet:
    """Features of ``items`` = [(ref, size, mtime_ns)], from the cache where it is current. ``cluster``
    (``model.cluster.Cluster``): the images not in the cache are computed on its workers (the CNN's on
    their GPUs), in completion order; this process alone writes the cache. ``embed(refs)`` -> (ref, vector
    or None, error or None) per ref, in order: the CNN features from there (the TUI's model process, whose
    model never takes this process's GIL) instead of a model loaded here."""
    if source not in SOURCES:
        raise TaggerError(f"unknown feature source {source!r}; choose one of: {', '.join(SOURCES)}")
    if source == "combined":
        return _combined(items, model=model, workers=workers, progress=progress, cache_dir=cache_dir,
                         cluster=cluster, embed=embed)
    if source == "cnn":
        extract, version = _cnn_extractor(model)
        if embed is not None:
            def extract(refs):  # noqa: F811 - the same model, elsewhere
                return ((vec, problem) for _, vec, problem in embed(refs))
    else:
        extract, version = None, physics_version()
    cache = FeatureCache(source, version, cache_dir)
    try:
        vecs: dict[int, np.ndarray] = cache.get_many(items)
        todo = [i for i in range(len(items)) if i not in vecs]
        problems: dict[int, str] = {}
        done = len(vecs)
        if progress:
            progress(done, len(items))
        pending: list[tuple[str, int, int, np.ndarray]] = []

        def keep(i: int, vec, problem) -> None:
            nonlocal done
            done += 1
            if vec is None:
                problems[i] = problem
            else:
                vecs[i] = vec
                pending.append((*items[i], vec))
            if len(pending) >= _FLUSH:  # an interrupted run keeps what it computed
                cache.put_many(pending)
                pending.clear()
            if progress:
                progress(done, len(items))

        if cluster is not None and todo:
            refs = [items[i][0] for i in todo]
            if source == "cnn":
                remote = ((j, vec, problem) for j, vec, problem in cluster.embed_indexed(refs, extract.model))
            else:
                remote = ((j, *_failed_or(out, refs[j])) for j, out in cluster.map_indexed(_physics_batch, refs))
            for j, vec, problem in remote:
                keep(todo[j], None if vec is None else np.asarray(vec, dtype=np.float32), problem)
        elif extract is not None:
            for start in range(0, len(todo), _FLUSH):
                chunk = todo[start:start + _FLUSH]
                for i, (vec, problem) in zip(chunk, extract([items[i][0] for i in chunk])):
                    keep(i, None if vec is None else np.asarray(vec, dtype=np.float32), problem)
        else:
            workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
            refs = [items[i][0] for i in todo]
            if workers > 1 and len(todo) >= _POOL_MIN:
                with ProcessPoolExecutor(workers) as pool:
                    for i, (vec, problem) in zip(todo, pool.map(_physics_one, refs, chunksize=8)):
                        keep(i, vec, problem)
            else:
                for i, ref in zip(todo, refs):
                    keep(i, *_physics_one(ref))
        cache.put_many(pending)
    finally:
        cache.close()
    rows = sorted(vecs)
    dims = {vecs[i].shape for i in rows}
    if len(dims) > 1:
        raise TaggerError(f"feature source {source!r} gave vectors of different lengths: {sorted(dims)}")
    X = np.stack([vecs[i] for i in rows]) if rows else np.zeros((0, 0), np.float32)
    return FeatureSet(X, [items[i][0] for i in rows], rows, [problems[i] for i in sorted(problems)])


def _combined(items, *, progress=None, **kw) -> FeatureSet:
    """[CNN vector | physics vector] of the images both sources could read (each from its own cache)."""
    n = len(items)

    def half(offset: int):
        return None if progress is None else (lambda done, total: progress(offset + done, 2 * n))

    cnn = compute(items, "cnn", progress=half(0), **kw)
    phys = compute(items, "physics", progress=half(n), **kw)
    at = {row: j for j, row in enumerate(phys.rows)}
    keep = [i for i, row in enumerate(cnn.rows) if row in at]
    if keep:
        X = np.hstack([cnn.X[keep], phys.X[[at[cnn.rows[i]] for i in keep]]])
    else:
        X = np.zeros((0, 0), np.float32)
    problems = list(dict.fromkeys(cnn.problems + phys.problems))  # an unreadable image: one line, not two
    return FeatureSet(X, [cnn.refs[i] for i in keep], [cnn.rows[i] for i in keep], problems)

"""The head file format, numpy only: a few-label head (``Embedding`` + logistic weights) stored as plain
arrays in an ``.npz`` with a JSON header (never pickled: loading a head runs no code), and where heads
live (per folder in the cache, or with their model in ``<model>.heads/``).

Fitting heads (scikit-learn) is ``tui_tagger.learn.heads``; ``model.infer`` and ``model.cam`` load them
from here, so the model layer never imports ``learn``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tui_tagger import config
from tui_tagger.core.atomic import atomic_write_bytes
from tui_tagger.core.errors import FileProblem, TaggerError

FORMAT = "tui-tagger-head"
FORMAT_VERSION = 1


class HeadFileError(FileProblem):
    """A head file that cannot be read or written."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warnings for large |z|


@dataclass
class Embedding:
    """x -> ((x - mean) / scale) @ components.T / sdev: PCA scores in units of the first one's spread."""

    mean: np.ndarray  # (d,)
    scale: np.ndarray  # (d,)
    components: np.ndarray  # (k, d)
    sdev: np.ndarray  # (k,) divisor per score

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean.shape[0]:
            raise TaggerError(f"features have {X.shape[-1]} values per image, the head expects {self.mean.shape[0]}"
                              " (computed with another feature source?)")
        return ((X - self.mean) / self.scale) @ self.components.T / self.sdev


@dataclass
class Head:
    """p(tag) = sigmoid(embedding(x) . coef + intercept)."""

    tag: str
    embedding: Embedding
    coef: np.ndarray  # (k,)
    intercept: float
    info: dict = field(default_factory=dict)  # JSON-able: label counts, feature source, ...

    def decision(self, X: np.ndarray) -> np.ndarray:
        return self.embedding.transform(X) @ self.coef + self.intercept

    def linear(self) -> tuple[np.ndarray, float]:
        """(w, c) with decision(X) = X @ w + c: standardise, PCA and the regression are one affine map
        (so a head is one more linear layer on the CNN's features: Grad-CAM can go through it)."""
        e = self.embedding
        w = (e.components.T @ (self.coef / e.sdev)) / e.scale
        return w, float(self.intercept - e.mean @ w)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """p(tag) for each row of ``X`` (raw features, as the feature source gives them)."""
        return _sigmoid(self.decision(X))

    # ---------------------------------------------------------------- persistence
    def to_bytes(self) -> bytes:
        header = {"format": FORMAT, "version": FORMAT_VERSION, "tag": self.tag,
                  "intercept": float(self.intercept), "info": self.info}
        buf = io.BytesIO()
        np.savez(buf, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
                 mean=self.embedding.mean, scale=self.embedding.scale,
                 components=self.embedding.components, sdev=self.embedding.sdev, coef=self.coef)
        return buf.getvalue()

    def save(self, path: str | os.PathLike) -> None:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, self.to_bytes(), fsync=False)
        except OSError as err:
            raise HeadFileError(path, f"cannot write the head: {err.strerror or err}") from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Head":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(bytes(z["header"]).decode())
                arrays = {k: np.asarray(z[k], dtype=np.float64) for k in ("mean", "scale", "components", "sdev", "coef")}
        except FileNotFoundError:
            raise HeadFileError(path, "no such head file") from None
        except (OSError, ValueError, KeyError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise HeadFileError(path, f"not a tui-tagger head file ({type(err).__name__}: {err})") from None
        if header.get("format") != FORMAT:
            raise HeadFileError(path, "not a tui-tagger head file")
        if header.get("version", 0) > FORMAT_VERSION:
            raise HeadFileError(path, f"head format {header.get('version')} is newer than this tui-tagger reads")
        k, d = arrays["components"].shape
        if arrays["mean"].shape != (d,) or arrays["scale"].shape != (d,) or arrays["sdev"].shape != (k,) \
                or arrays["coef"].shape != (k,):
            raise HeadFileError(path, "inconsistent array shapes in the head file")
        emb = Embedding(arrays["mean"], arrays["scale"], arrays["components"], arrays["sdev"])
        return cls(header["tag"], emb, arrays["coef"], float(header["intercept"]), header.get("info", {}))


def model_digest(model: str | os.PathLike) -> str:
    """A short content hash of a model file: a head trained on its features names the model it needs."""
    h = hashlib.sha256()
    try:
        with open(model, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as err:
        raise HeadFileError(model, f"cannot read the model: {err.strerror or err}") from None
    return h.hexdigest()[:16]


def model_heads_dirs(model: str | os.PathLike) -> list[Path]:
    """Where heads on ``model``'s features live: ``<model>.heads/`` beside it, then (for a model in a
    folder the user cannot write, e.g. the shipped one in site-packages) ``<config>/heads/<digest>/``."""
    model = Path(model)
    return [Path(f"{model}.heads"), config.config_dir() / "heads" / model_digest(model)]


def save_model_head(head: Head, model: str | os.PathLike) -> Path:
    """Save a CNN-feature head with its model (the first writable place of ``model_heads_dirs``)."""
    head.info = {**head.info, "features": "cnn", "model_digest": model_digest(model)}
    last: HeadFileError | None = None
    for folder in model_heads_dirs(model):
        path = head_path(head.tag, source="cnn", folder=folder)
        try:
            head.save(path)
            return path
        except HeadFileError as err:
            last = err
    raise last  # type: ignore[misc]


def load_model_heads(model: str | os.PathLike, problems: list[str] | None = None) -> list[Head]:
    """The heads saved with ``model`` (one per tag: beside the model wins), those trained on another
    model's features left out. A head file that cannot be read is named in ``problems``, not raised."""
    digest = None
    found: dict[str, Head] = {}
    for folder in model_heads_dirs(model):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.cnn.npz")):
            try:
                head = Head.load(path)
            except HeadFileError as err:
                if problems is not None:
                    problems.append(str(err))
                continue
            digest = digest or model_digest(model)
            if head.info.get("model_digest") != digest:
                if problems is not None:
                    problems.append(f"{path}: trained on another model's features (left out)")
                continue
            found.setdefault(head.tag, head)
    return list(found.values())


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "tag"


def head_path(tag: str, root: str | os.PathLike | None = None, model: str | os.PathLike | None = None,
              source: str = "physics", folder: str | os.PathLike | None = None) -> Path:
    """Where the head for ``tag`` lives: in ``folder`` when given, beside ``model`` (``<model>.heads/``)
    when one is given, else in the cache per image folder (``<cache>/heads/<hash of the folder>/``)."""
    digest = hashlib.sha256(tag.encode()).hexdigest()[:8]  # slugs of different tags may collide
    name = f"{_slug(tag)}-{digest}.{source}.npz"
    if folder is not None:
        return Path(folder) / name
    if model is not None:
        return Path(f"{model}.heads") / name
    key = str(Path(root or ".").resolve())
    return config.cache_dir() / "heads" / hashlib.sha256(key.encode()).hexdigest()[:24] / name

"""PNG figures of the analysis views for reports (matplotlib, Agg backend; no Textual, no pyplot state,
so a worker thread can draw them while the app runs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# point classes of the embedding, coloured the same in the terminal and in the PNG
STATES = ("positive", "model-only", "negative")
# colour by the model's p(tag) instead: bins, most likely first (viridis-like, then grey for no p)
P_STATES = ("p ≥ 0.8", "p 0.5–0.8", "p 0.2–0.5", "p < 0.2", "no p")
STATE_COLOURS = {"positive": "#2ca02c", "model-only": "#ff7f0e", "negative": "#7f7f7f",
                 "p ≥ 0.8": "#fde725", "p 0.5–0.8": "#5ec962", "p 0.2–0.5": "#21918c", "p < 0.2": "#3b528b",
                 "no p": "#b0b0b0"}


def p_state(p: float | None) -> str:
    """The ``P_STATES`` bin of a probability (None: the image has no prediction)."""
    if p is None:
        return "no p"
    return P_STATES[0 if p >= 0.8 else 1 if p >= 0.5 else 2 if p >= 0.2 else 3]


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png")
    tmp.replace(path)
    return path


def relations_png(rel, path: Path, title: str = "") -> Path:
    """Heat map of the phi correlation, each cell annotated with the number of images sharing both tags."""
    t = len(rel.tags)
    fig = _figure(max(5.0, 1.0 + 0.55 * t), max(4.0, 1.0 + 0.5 * t))
    ax = fig.add_subplot()
    phi = np.where(np.isnan(rel.phi), 0.0, rel.phi) if t else np.zeros((0, 0))
    im = ax.imshow(phi, cmap="RdBu_r", vmin=-1, vmax=1) if t else None
    ax.set_xticks(range(t), rel.tags, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(t), rel.tags, fontsize=7)
    for i in range(t):
        for j in range(t):
            ax.text(j, i, str(int(rel.co[i, j])), ha="center", va="center", fontsize=6,
                    color="white" if abs(phi[i, j]) > 0.6 else "black")
    if im is not None:
        fig.colorbar(im, ax=ax, label="phi (correlation)")
    ax.set_title(title or f"Tag co-occurrence (counts) and correlation, {rel.n} images", fontsize=9)
    return _save(fig, path)


def performance_png(scores, path: Path, title: str = "") -> Path:
    """AP, precision and recall per tag, worst first (top of the chart)."""
    n = len(scores)
    fig = _figure(7.0, max(2.5, 0.8 + 0.3 * n))
    ax = fig.add_subplot()
    y = np.arange(n)
    h = 0.27
    ap = [s.ap if s.ap is not None else 0.0 for s in scores]
    ax.barh(y - h, ap, h, label="AP", color="#1f77b4")
    ax.barh(y, [s.precision for s in scores], h, label="precision", color="#2ca02c")
    ax.barh(y + h, [s.recall for s in scores], h, label="recall", color="#ff7f0e")
    ax.set_yticks(y, [f"{s.tag} (n={s.n}, +{s.support})" for s in scores], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title or "Model performance per tag (worst first)", fontsize=9)
    return _save(fig, path)


def embedding_png(xy: np.ndarray, states: list[str], clusters: np.ndarray | None, path: Path,
                  title: str = "", order: tuple[str, ...] = STATES) -> Path:
    """The embedding, one colour per state (``order``: positive / model-only / negative, or the
    ``P_STATES`` bins), cluster numbers at the cluster centres."""
    fig = _figure(6.5, 5.5)
    ax = fig.add_subplot()
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    st = np.array(states)
    for state in order[::-1]:  # negatives (or low p) underneath
        sel = st == state
        if sel.any():
            ax.scatter(xy[sel, 0], xy[sel, 1], s=8, c=STATE_COLOURS[state], label=f"{state} ({int(sel.sum())})",
                       alpha=0.8, linewidths=0)
    if clusters is not None and len(clusters):
        for c in range(int(clusters.max()) + 1):
            sel = clusters == c
            if sel.any():
                cx, cy = xy[sel].mean(axis=0)
                ax.annotate(str(c + 1), (cx, cy), fontsize=9, weight="bold", ha="center", va="center",
                            bbox={"boxstyle": "round", "fc": "white", "alpha": 0.7})
    ax.legend(fontsize=7, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def roc_png(curve: dict, path: Path, title: str = "") -> Path:
    """An ROC curve (``learn.review.roc``'s {"auc", "fpr", "tpr"}) with the chance diagonal."""
    fig = _figure(5.0, 5.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#7f7f7f", linestyle="--", linewidth=1, label="chance (AUC 0.50)")
    ax.plot(curve["fpr"], curve["tpr"], color="#1f77b4", linewidth=2,
            label=f"outlier score (AUC {curve['auc']:.2f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8, loc="lower right")
    # a tag name is text, never mathtext ("$" in a tag)
    ax.set_title(title or f"ROC, AUC {curve['auc']:.2f}", fontsize=9, parse_math=False)
    return _save(fig, path)

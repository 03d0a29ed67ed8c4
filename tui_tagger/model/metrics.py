"""Per-tag metrics (scikit-learn): support, AP, ROC AUC, precision/recall/F1 at a threshold, and the
prevalence each is to be read against (AP of a random ranking = prevalence; AUC of one = 0.5).
On partially labelled images (``known``: which labels are certain), the same per tag from the certain
labels only, plus counts, accuracy at the threshold and the experiment type picked among four."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tui_tagger.core.text import printable
from tui_tagger.core.vocabulary import EXPERIMENT_TYPES


def tag_metrics(
    y: np.ndarray, probs: np.ndarray, tags: list[str], thresholds: dict[str, float] | float = 0.5,
    known: np.ndarray | None = None,
) -> dict[str, Any]:
    """{"tags": {tag: {support, ap, auc, precision, recall, f1, prevalence}}, "mean_ap"}.

    ``known`` (N, T) 0/1 drops labels that are not ground truth from a tag's rows. AP and AUC are None
    where undefined (no positives, or no negatives); mean_ap averages the defined APs."""
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

    out: dict[str, dict[str, Any]] = {}
    aps = []
    for j, tag in enumerate(tags):
        rows = known[:, j] > 0 if known is not None else slice(None)
        t, p = y[rows, j].astype(int), probs[rows, j]
        thr = _threshold(thresholds, tag)
        n, support = len(t), int(t.sum())
        ap = auc = None
        if 0 < support < n:
            ap = float(average_precision_score(t, p))
            auc = float(roc_auc_score(t, p))
            aps.append(ap)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prec, rec, f1, _ = precision_recall_fscore_support(
                t, (p >= thr).astype(int), average="binary", zero_division=0
            ) if n else (0.0, 0.0, 0.0, None)
        out[tag] = {
            "support": support,
            "ap": _r(ap),
            "auc": _r(auc),
            "precision": _r(float(prec)),
            "recall": _r(float(rec)),
            "f1": _r(float(f1)),
            "prevalence": _r(support / n if n else 0.0),
        }
    return {"tags": out, "mean_ap": _r(float(np.mean(aps))) if aps else None}




def certain_metrics(
    y: np.ndarray, probs: np.ndarray, tags: list[str], thresholds: dict[str, float] | float,
    known: np.ndarray, min_each: int = 2,
) -> dict[str, Any]:
    """``tag_metrics`` on partial labels (``known`` 1 where y is certain), for each tag with at least one
    certain label, plus n_pos, n_neg, accuracy at the threshold and the threshold: {"tags": {tag: {...}},
    "mean_ap" (over the tags with an AP), "mean_auc" (over the tags with at least ``min_each`` certain
    positives and as many certain negatives; None when there are none), "auc_tags" (their number)}."""
    base = tag_metrics(y, probs, tags, thresholds, known)
    out: dict[str, dict[str, Any]] = {}
    aucs = []
    for j, tag in enumerate(tags):
        rows = known[:, j] > 0
        if not rows.any():
            continue
        t, p = y[rows, j] > 0, probs[rows, j]
        thr = _threshold(thresholds, tag)
        n_pos = int(t.sum())
        n_neg = len(t) - n_pos
        m = {"n_pos": n_pos, "n_neg": n_neg, "accuracy": _r(float(np.mean((p >= thr) == t))),
             "threshold": _r(float(thr)), **base["tags"][tag]}
        out[tag] = m
        if n_pos >= min_each and n_neg >= min_each and m["auc"] is not None:
            aucs.append(m["auc"])
    return {"tags": out, "mean_ap": base["mean_ap"], "mean_auc": _r(float(np.mean(aucs))) if aucs else None,
            "auc_tags": len(aucs)}


def experiment_type_accuracy(
    y: np.ndarray, known: np.ndarray, probs: np.ndarray, tags: list[str], names: list[str],
    types: tuple[str, ...] = EXPERIMENT_TYPES,
) -> dict[str, Any]:
    """For each image with a certain positive label on one of ``types`` (those the model gives): is the
    model's highest p among them that type? {"right", "total", "wrong": [{"image", "labels", "predicted",
    "p": {type: p}}]}."""
    present = [t for t in types if t in tags]
    cols = [tags.index(t) for t in present]
    right, total, wrong = 0, 0, []
    for i in range(len(y)):
        truth = [t for t, j in zip(present, cols) if known[i, j] > 0 and y[i, j] > 0]
        if not truth:
            continue
        total += 1
        p = probs[i, cols]
        best = present[int(np.argmax(p))]
        if best in truth:
            right += 1
        else:
            wrong.append({"image": names[i], "labels": truth, "predicted": best,
                          "p": {t: _r(float(v)) for t, v in zip(present, p)}})
    return {"right": right, "total": total, "wrong": wrong}


def wrong_at_threshold(
    y: np.ndarray, known: np.ndarray, probs: np.ndarray, tags: list[str], thresholds: dict[str, float] | float,
    names: list[str],
) -> dict[str, list[dict[str, Any]]]:
    """Per tag, the certain labels the model gets wrong at its threshold: [{"image", "label", "p"}]."""
    out: dict[str, list[dict[str, Any]]] = {}
    for j, tag in enumerate(tags):
        thr = _threshold(thresholds, tag)
        rows = [i for i in range(len(y)) if known[i, j] > 0 and (probs[i, j] >= thr) != (y[i, j] > 0)]
        if rows:
            out[tag] = [{"image": names[i], "label": int(y[i, j]), "p": _r(float(probs[i, j]))} for i in rows]
    return out


F1_PLATEAU = 0.01  # thresholds whose validation F1 is within this of the best are as good as the best


def best_thresholds(y: np.ndarray, probs: np.ndarray, tags: list[str], known: np.ndarray | None = None,
                    min_support: int = 3, default: float = 0.5) -> dict[str, float]:
    """Per tag, the middle (median) of the thresholds whose F1 on (validation) data is within F1_PLATEAU of
    the best; ``default`` for tags with too few positives to choose one honestly.

    F1 over a threshold is often a wide, ragged plateau: its single highest point jumps from one validation
    set to the next (0.39 or 0.85 for one tag, same model), and with it the tags a user sees on real frames.
    The plateau's middle is steadier, and on the synthetic test sets it scored a higher F1 than the highest
    point (mean over 44 tags 0.827 vs 0.821; benchmarks/train_shipped_model.py)."""
    from sklearn.metrics import precision_recall_curve

    out = {}
    for j, tag in enumerate(tags):
        rows = known[:, j] > 0 if known is not None else slice(None)
        t, p = y[rows, j].astype(int), probs[rows, j]
        if t.sum() < min_support or t.sum() == len(t):
            out[tag] = default
            continue
        prec, rec, thr = precision_recall_curve(t, p)
        f1 = 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-12)
        near = thr[f1 >= f1.max() - F1_PLATEAU]
        out[tag] = round(float(np.clip(np.median(near), 0.05, 0.95)), 4)
    return out


def format_table(metrics: dict[str, Any]) -> str:
    """The human table: one row per tag, AP next to its prevalence baseline."""
    rows = [f"{'tag':32} {'support':>7} {'AP':>6} {'(base)':>6} {'AUC':>6} {'prec':>6} {'recall':>6} {'F1':>6}"]
    f = lambda v: "   -  " if v is None else f"{v:6.3f}"  # noqa: E731
    for tag, m in metrics["tags"].items():
        rows.append(
            f"{printable(tag)[:32]:32} {m['support']:7d} {f(m['ap'])} {f(m['prevalence'])} {f(m['auc'])} "
            f"{f(m['precision'])} {f(m['recall'])} {f(m['f1'])}"
        )
    mean = metrics.get("mean_ap")
    rows.append(f"mean AP: {'-' if mean is None else f'{mean:.3f}'}")
    return "\n".join(rows)


def worst_first(metrics: dict[str, Any]) -> list[str]:
    """The tags of a ``certain_metrics`` result, lowest AUC first (tags without one last), then by accuracy."""
    rows = metrics["tags"]
    return sorted(rows, key=lambda t: (rows[t]["auc"] is None, rows[t]["auc"] or 0.0, rows[t]["accuracy"]))


def format_certain(metrics: dict[str, Any], order: list[str] | None = None, means: bool = True) -> str:
    """The human table of ``certain_metrics``: one row per tag (in ``order``), the means (``means``) and the
    experiment type (when the result has one)."""
    f = lambda v: "    - " if v is None else f"{v:6.3f}"  # noqa: E731
    rows = [f"{'tag':32} {'n_pos':>5} {'n_neg':>5} {'AUC':>6} {'AP':>6} {'acc':>6} {'thr':>6}"]
    for tag in order or list(metrics["tags"]):
        m = metrics["tags"][tag]
        rows.append(f"{printable(tag)[:32]:32} {m['n_pos']:5d} {m['n_neg']:5d} {f(m['auc'])} {f(m['ap'])} "
                    f"{f(m['accuracy'])} {f(m['threshold'])}")
    if not means:
        return "\n".join(rows)
    mean = metrics.get("mean_auc")
    rows.append(f"mean AUC over {metrics.get('auc_tags', 0)} tags with >= 2 certain positives and >= 2 certain "
                f"negatives: {'-' if mean is None else f'{mean:.3f}'}")
    mean = metrics.get("mean_ap")
    rows.append(f"mean AP over tags with >= 1 of each: {'-' if mean is None else f'{mean:.3f}'}")
    kind = metrics.get("experiment_type")
    if kind is not None:
        rows.append(format_experiment_type(kind))
    return "\n".join(rows)


def format_experiment_type(kind: dict[str, Any]) -> str:
    """The experiment-type line of a result and one line per image it got wrong."""
    rows = [f"experiment type (highest p of {' / '.join(EXPERIMENT_TYPES)}): {kind['right']}/{kind['total']} right"]
    for w in kind["wrong"]:
        ps = ", ".join(f"{t} {p:.2f}" for t, p in w["p"].items())
        rows.append(f"  {printable(w['image'])}: labelled {' + '.join(w['labels'])}, predicted {w['predicted']} ({ps})")
    return "\n".join(rows)


def _threshold(thresholds: dict[str, float] | float, tag: str) -> float:
    return thresholds if isinstance(thresholds, (int, float)) else thresholds.get(tag, 0.5)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)

"""Per-tag metrics (scikit-learn): support, AP, ROC AUC, precision/recall/F1 at a threshold, and the
prevalence each is to be read against (AP of a random ranking = prevalence; AUC of one = 0.5)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tui_tagger.core.text import printable


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
        thr = thresholds if isinstance(thresholds, (int, float)) else thresholds.get(tag, 0.5)
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


def best_thresholds(y: np.ndarray, probs: np.ndarray, tags: list[str], known: np.ndarray | None = None,
                    min_support: int = 3, default: float = 0.5) -> dict[str, float]:
    """Per tag, the threshold with the best F1 on (validation) data; ``default`` for tags with too few
    positives to choose one honestly."""
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
        out[tag] = round(float(np.clip(thr[int(np.argmax(f1))], 0.05, 0.95)), 4)
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


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 4)

"""Training on preprocessed arrays: group-wise validation split, pos_weight per tag, early stopping,
per-tag validation metrics and an overfitting check recorded in the summary."""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from tui_tagger.model.metrics import best_thresholds, tag_metrics
from tui_tagger.model.nets import mirror_average


@dataclass
class TrainConfig:
    epochs: int = 30
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 6  # epochs without a better validation score (mean AP, then loss) before stopping
    val_split: float = 0.2
    seed: int = 0
    # rare tags' positives weigh more, up to this factor. Mild: on the synthetic tags a cap of 20 cost
    # ~0.05 mean AP against 1-3 (noisy gradients from a few heavily weighted frames)
    max_pos_weight: float = 3.0
    flip: bool = True  # left-right flips: no tag in the vocabulary depends on left vs right
    # Random shifts by up to this fraction of the frame (0 = none): the beam centre of real frames lies
    # anywhere (often low, near a round CCD window's edge), so the experiment must not be read off it.
    shift: float = 0.12
    # Random contrast: inputs raised to a power in [1/(1+gamma), 1+gamma] (detector exposure and
    # background differ between beamlines more than the percentile scaling can undo).
    gamma: float = 0.35
    # Focal loss exponent (0 = plain BCE): (1 - p_true)^focal down-weights the frames a tag is already
    # sure of, so the hard ones (faint arcs, mixed textures) carry more of the gradient.
    focal: float = 0.0
    # Training steps' arithmetic: "auto" (bfloat16 autocast on CUDA, float32 on the CPU), "fp32" or "bf16"
    # (autocast on the CPU too: about 1.35x the images/s on a CPU with AMX; slower on one without). The
    # weights stay float32 and validation runs as predict does, so thresholds match what predict gives.
    precision: str = "auto"
    # the preprocessing's value for what is not a pixel (``transforms`` "invalid"): augmentation keeps it
    invalid: float = 0.0


# A gap this large between training and validation mean AP (or a validation loss this many times the
# training loss) is reported as overfitting.
OVERFIT_AP_GAP = 0.15
OVERFIT_LOSS_RATIO = 2.0

# Tags whose truth depends on where the beam sits in the frame: frames with one of these present (or not
# known) are never shifted, since a shift could move an off-frame beam onto the detector.
POSITION_TAGS = ("Beam off image",)


def split_groups(groups: list[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices): whole groups go to validation until ``fraction`` of the
    frames is there; at least one group when there are two or more, none when ``fraction`` is 0."""
    n = len(groups)
    unique = sorted(set(groups))
    if fraction <= 0 or len(unique) < 2:
        return np.arange(n), np.arange(0)
    rng = np.random.default_rng(seed)
    order = [unique[i] for i in rng.permutation(len(unique))]
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    val, count = set(), 0
    for g in order[:-1]:  # keep at least one group for training
        if val and count + sizes[g] / 2 > fraction * n:
            break
        val.add(g)
        count += sizes[g]
    is_val = np.array([g in val for g in groups])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def pos_weights(y: np.ndarray, known: np.ndarray, clip: float) -> np.ndarray:
    pos = (y * known).sum(0)
    neg = ((1 - y) * known).sum(0)
    return np.clip(np.where(pos > 0, neg / np.maximum(pos, 1), 1.0), 1.0, clip).astype(np.float32)


def adapt_head(model: nn.Module, old_tags: list[str], new_tags: list[str]) -> nn.Module:
    """Fine-tuning with a changed tag list: a new last layer whose rows for known tags are copied."""
    if old_tags == new_tags:
        return model
    head = model.head
    new = nn.Linear(head.in_features, len(new_tags))
    with torch.no_grad():
        for j, tag in enumerate(new_tags):
            if tag in old_tags:
                i = old_tags.index(tag)
                new.weight[j] = head.weight[i]
                new.bias[j] = head.bias[i]
    model.classifier[-1] = new
    return model


def fit(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    known: np.ndarray,
    groups: list[str],
    tags: list[str],
    config: TrainConfig,
    device: torch.device,
    log: Callable[[str], None] = print,
) -> tuple[nn.Module, dict[str, Any], dict[str, float]]:
    """Train ``model`` on ``x`` (N, S, S) with labels ``y``/``known`` (N, T).

    Returns (best model on the CPU in eval mode, summary, per-tag thresholds)."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    tr, va = split_groups(groups, config.val_split, config.seed)
    if len(va) == 0 and config.val_split > 0:
        log("warning: fewer than two sample groups: no validation split, no early stopping")
    pw = pos_weights(y[tr], known[tr], config.max_pos_weight)
    movable = np.ones(len(x), dtype=bool)
    for j, tag in enumerate(tags):
        if tag in POSITION_TAGS:
            movable &= (known[:, j] > 0) & (y[:, j] == 0)
    model = model.to(device, memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, config.epochs))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(pw).to(device), reduction="none")

    def loss_of(logits, yb, kb):
        return masked_loss(loss_fn, logits, yb, kb, config.focal)

    history, best, best_state, best_epoch, stale = [], (-1.0, -math.inf), None, 0, 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = rng.permutation(tr)
        total, seen = 0.0, 0
        for start in range(0, len(order), config.batch):
            idx = np.sort(order[start : start + config.batch])
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            xb, yb, kb = _tensors(x, y, known, idx, device)
            xb = augment(xb, config, rng, movable[idx])
            with _autocast(device, config.precision):
                loss = loss_of(model(xb), yb, kb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        sched.step()
        train_loss = total / max(seen, 1)
        row = {"epoch": epoch, "train_loss": round(train_loss, 4)}
        if len(va):
            probs, val_loss = _evaluate(model, x, y, known, va, device, loss_of, config.batch, config.flip)
            val_map = tag_metrics(y[va], probs, tags, 0.5, known[va])["mean_ap"]
            row.update(val_loss=round(val_loss, 4), val_mean_ap=val_map)
            # best = highest validation mean AP (the ranking users rely on), then lowest loss
            score = (round(val_map if val_map is not None else 0.0, 3), -round(val_loss, 4))
            if score > best:
                best, best_epoch, stale = score, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
        history.append(row)
        log("  ".join(f"{k} {v}" for k, v in row.items()))
        if len(va) and stale >= config.patience:
            log(f"early stop: no better validation score for {config.patience} epochs (best epoch {best_epoch})")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    summary: dict[str, Any] = {
        "config": asdict(config),
        "frames": int(len(x)),
        "train_frames": int(len(tr)),
        "val_frames": int(len(va)),
        "groups": len(set(groups)),
        "val_groups": len({groups[i] for i in va}),
        "epochs_run": len(history),
        "best_epoch": best_epoch or len(history),
        "history": history,
        "pos_weight": {t: round(float(w), 3) for t, w in zip(tags, pw)},
        "positives": {t: int(v) for t, v in zip(tags, (y * known).sum(0))},
    }
    thresholds: dict[str, float] = {}
    if len(va):
        val_probs, val_loss = _evaluate(model, x, y, known, va, device, loss_of, config.batch, config.flip)
        train_probs, train_loss = _evaluate(model, x, y, known, tr, device, loss_of, config.batch, config.flip)
        train_map = tag_metrics(y[tr], train_probs, tags, 0.5, known[tr])["mean_ap"]
        thresholds = best_thresholds(y[va], val_probs, tags, known[va])
        val_m = tag_metrics(y[va], val_probs, tags, thresholds, known[va])
        summary.update(train_loss=round(train_loss, 4), val_loss=round(val_loss, 4), train_mean_ap=train_map,
                       val_mean_ap=val_m["mean_ap"], val_metrics=val_m["tags"])
        summary["overfitting"] = overfitting(train_map, val_m["mean_ap"], train_loss, val_loss)
    return model.cpu().eval(), summary, thresholds


def masked_loss(loss_fn, logits: torch.Tensor, yb: torch.Tensor, kb: torch.Tensor, focal: float = 0.0) -> torch.Tensor:
    """Mean loss over the known (frame, tag) labels; with ``focal`` > 0 each term is weighed by
    (1 - p_true)^focal, so labels the model already gets right count less."""
    logits = logits.float()
    loss = loss_fn(logits, yb) * kb
    if focal > 0:
        p = torch.sigmoid(logits)
        loss = loss * (yb * (1 - p) + (1 - yb) * p).pow(focal)
    return loss.sum() / kb.sum().clamp(min=1)


def overfitting(train_map: float | None, val_map: float | None, train_loss: float, val_loss: float) -> str | None:
    """A warning when validation falls far behind training (on the best model), else None."""
    gap = (train_map or 0.0) - (val_map or 0.0)
    if gap > OVERFIT_AP_GAP or (val_loss > OVERFIT_LOSS_RATIO * train_loss and val_loss - train_loss > 0.05):
        return (f"validation falls far behind training (mean AP {val_map} vs {train_map}, loss {val_loss:.3f} "
                f"vs {train_loss:.3f}): the model memorises; more (varied) samples or fewer epochs may help")
    return None


def augment(xb: torch.Tensor, config: TrainConfig, rng: np.random.Generator, movable: np.ndarray) -> torch.Tensor:
    """Label-safe training augmentation of a (B, 1, S, S) batch in [0, 1]: left-right flips, contrast
    (a random power), and shifts (``config.invalid`` fills, as masked pixels) of the frames that ``movable`` allows. Never
    up-down flips or rotations: GISAXS, the horizon and "Oriented z/xy" depend on which way is up."""
    n, _, h, w = xb.shape
    fill = config.invalid  # what is not a pixel (masked, gaps, padding): kept as it is, shifted in as it is
    if config.flip:
        flip = torch.from_numpy(rng.random(n) < 0.5).to(xb.device)
        xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
    if config.gamma > 0:
        power = np.exp(rng.uniform(-1.0, 1.0, n) * math.log1p(config.gamma)).astype(np.float32)
        powered = xb.clamp(min=0.0) ** torch.from_numpy(power).to(xb.device)[:, None, None, None]
        xb = torch.where(xb < 0, xb, powered) if fill < 0 else powered
    m = int(round(config.shift * min(h, w)))
    if m > 0 and movable.any():
        padded = torch.nn.functional.pad(xb, (m, m, m, m), value=fill)
        shifts = rng.integers(-m, m + 1, size=(n, 2))
        rows = [padded[i, :, m + dy : m + dy + h, m + dx : m + dx + w] if movable[i] else xb[i]
                for i, (dy, dx) in enumerate(shifts)]
        xb = torch.stack(rows).contiguous(memory_format=torch.channels_last)
    return xb


def _tensors(x, y, known, idx, device):
    xb = torch.from_numpy(np.asarray(x[idx], dtype=np.float32))[:, None]
    xb = xb.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
    return xb, torch.from_numpy(y[idx]).to(device), torch.from_numpy(known[idx]).to(device)


PRECISIONS = ("auto", "fp32", "bf16")


def _autocast(device: torch.device, precision: str = "auto"):
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX-512 BF16: where bfloat16 training on the CPU pays."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # older torch: no way to tell
        return False


def _evaluate(model, x, y, known, idx, device, loss_of, batch, mirror=False) -> tuple[np.ndarray, float]:
    """Probabilities as predict gives them (``mirror``: averaged with the mirrored frame) and the loss."""
    model.eval()
    probs, total = [], 0.0
    with torch.inference_mode(), _autocast(device):
        for start in range(0, len(idx), batch):
            sel = idx[start : start + batch]
            xb, yb, kb = _tensors(x, y, known, sel, device)
            logits = (mirror_average(model, xb) if mirror else model(xb)).float()
            total += float(loss_of(logits, yb, kb)) * len(sel)
            probs.append(torch.sigmoid(logits).cpu().numpy())
    return np.concatenate(probs), total / max(len(idx), 1)

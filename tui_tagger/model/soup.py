"""Weight averaging of models fine-tuned from one another: a "model soup" (Wortsman et al. 2022), the
same idea as stochastic weight averaging's mean of the ends of learning-rate cycles. Each ``train --from``
stage ends at the low point of its own cosine cycle, so its weights lie in one basin with the stage
before; when the parts are of like quality their mean often ranks better than any one of them (not when
one part is far ahead: measure with ``average --val``), in one network of the same size and speed (a
prediction ensemble would cost a forward pass per model)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from torch import nn

from tui_tagger.core.errors import TaggerError
from tui_tagger.model.checkpoint import ModelInfo, load_checkpoint


def _same(what: str, values: list[Any], paths: list[Path]) -> None:
    for value, path in zip(values[1:], paths[1:]):
        if value != values[0]:
            raise TaggerError(f"{path}: its {what} differs from {paths[0].name}'s: only models fine-tuned from "
                              "one another (same network, tags and preprocessing) can be averaged")


def average_models(paths: list[str | Path], weights: list[float] | None = None) -> tuple[nn.Module, ModelInfo]:
    """(the weighted mean of the models in ``paths``, its info). All must share architecture, tags and
    preprocessing; the info is the last model's, with thresholds averaged like the weights (choose them
    again on labelled data when there is some) and ``training["averaged_from"]`` naming the parts."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise TaggerError("average: give at least two model files")
    weights = [1.0] * len(paths) if weights is None else [float(w) for w in weights]
    if len(weights) != len(paths):
        raise TaggerError(f"average: {len(weights)} weights for {len(paths)} models")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise TaggerError("average: weights must be zero or more, and not all zero")
    loaded = [load_checkpoint(p) for p in paths]
    infos = [info for _, info in loaded]
    _same("architecture", [(i.arch, i.arch_config) for i in infos], paths)
    _same("tag list", [i.tags for i in infos], paths)
    _same("preprocessing", [i.preprocess for i in infos], paths)
    total = sum(weights)
    states = [model.state_dict() for model, _ in loaded]
    mean = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            mean[key] = sum(w * s[key] for w, s in zip(weights, states)) / total
        else:  # counters (BatchNorm's num_batches_tracked): the last model's
            mean[key] = last
    model = loaded[-1][0]
    model.load_state_dict(mean)
    info = copy.deepcopy(infos[-1])
    info.thresholds = {
        tag: sum(w * i.threshold(tag) for w, i in zip(weights, infos)) / total for tag in info.tags
    }
    info.training["averaged_from"] = [
        {"path": str(p.resolve()), "name": i.name, "weight": w} for p, i, w in zip(paths, infos, weights)
    ]
    return model.eval(), info

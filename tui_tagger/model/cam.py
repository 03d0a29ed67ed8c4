"""Where the model looks: Grad-CAM for one tag of the CNN, mapped back onto the frame's pixel grid.

Grad-CAM (Selvaraju et al. 2017): the last convolution block's activations A (C x h x w) and the
gradients of the tag's logit with respect to them; each channel is weighted by its mean gradient, the
weighted sum is clipped at 0 (evidence *for* the tag) and scaled to [0, 1]. The map is upsampled
(bilinear) to the preprocessed input's size, then taken back through ``transforms.preprocess``'s
geometry (pad to a square, shrink by an integer block, nearest-neighbour to the size) so it overlays
the original frame pixel for pixel.

torch is imported inside the functions: the geometry helpers (``frame_index``, ``to_frame``) are numpy
only and usable without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class CamResult:
    tag: str
    p: float  # the model's p(tag) for this frame
    heat: np.ndarray  # float32 (size, size) in [0, 1], on the preprocessed input's grid
    frame_shape: tuple[int, int]  # (rows, cols) of the original frame
    config: dict[str, Any]  # the preprocessing config (its geometry maps heat back)
    empty: bool = False  # no positive evidence anywhere (the map is all 0)

    def to_frame(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """The heat map on the frame's pixel grid, or on a display grid of ``shape`` (rows, cols) that
        covers the whole frame (e.g. the inspect pane's rendering, aspect kept)."""
        return to_frame(self.heat, self.frame_shape, self.config, shape)


def axis_index(n_frame: int, n_square: int, offset: int, size: int) -> np.ndarray:
    """For each pixel along one frame axis, its index in the preprocessed input (``transforms._resize``:
    the frame sits at ``offset`` in an ``n_square`` square, shrunk by blocks of f = ceil(n/size) to
    m = ceil(n/f) values, then output i takes value i*m//size)."""
    p = np.arange(n_frame) + offset
    if n_square > size:
        f = -(-n_square // size)
        m = -(-n_square // f)
        j = p // f
    else:
        m, j = n_square, p
    # the first output index that reads value j (m <= size, so every j has one)
    return np.minimum((j * size + m - 1) // m, size - 1).astype(np.intp)


def frame_index(frame_shape: tuple[int, int], config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(row index per frame row, column index per frame column) into the (size, size) input."""
    h, w = int(frame_shape[0]), int(frame_shape[1])
    size = int(config["size"])
    if config.get("fit", "pad") == "pad" and h != w:
        n = max(h, w)
        return axis_index(h, n, (n - h) // 2, size), axis_index(w, n, (n - w) // 2, size)
    return axis_index(h, h, 0, size), axis_index(w, w, 0, size)


def to_frame(heat: np.ndarray, frame_shape: tuple[int, int], config: dict[str, Any],
             shape: tuple[int, int] | None = None) -> np.ndarray:
    """``heat`` (size, size) back on the frame grid; with ``shape``, sampled at the centres of a
    ``shape`` grid laid over the whole frame (what ``core.display.render`` draws)."""
    ri, ci = frame_index(frame_shape, config)
    if shape is not None:
        rows = ((np.arange(shape[0]) + 0.5) * frame_shape[0] / shape[0]).astype(np.intp)
        cols = ((np.arange(shape[1]) + 0.5) * frame_shape[1] / shape[1]).astype(np.intp)
        ri, ci = ri[np.minimum(rows, len(ri) - 1)], ci[np.minimum(cols, len(ci) - 1)]
    return np.ascontiguousarray(heat[np.ix_(ri, ci)], dtype=np.float32)


def _last_conv_block(model):
    """The module whose output is the last conv block's activations (AlexNetTagger: the ReLU after the
    5th convolution, before the last max pool)."""
    from torch import nn

    features = getattr(model, "features", None)
    if features is None:
        raise ValueError(f"Grad-CAM needs a network with a .features block ({type(model).__name__} has none)")
    last_conv = max((i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)), default=None)
    if last_conv is None:
        raise ValueError("Grad-CAM: no convolution in the network's features")
    target = features[last_conv]
    for m in list(features)[last_conv + 1:]:
        if isinstance(m, (nn.BatchNorm2d, nn.ReLU)):
            target = m
        else:
            break
    return target


def grad_cam(model, info, data: np.ndarray, mask: np.ndarray | None, tag: str, heads: dict | None = None) -> CamResult:
    """Grad-CAM of ``tag`` for one frame (``data``/``mask`` as in ``core.formats.Frame``). ``heads``
    ({tag: learn.heads.Head} on the model's features) win over the model's own outputs, as in predict.
    Raises KeyError when ``tag`` is neither a head's nor one of the model's tags."""
    import torch
    import torch.nn.functional as F

    from tui_tagger.model.transforms import preprocess

    head = (heads or {}).get(tag)
    if head is None and tag not in info.tags:
        raise KeyError(tag)
    if head is not None:
        w, c = head.linear()
        w = torch.tensor(w, dtype=torch.float32)

        def logit_of(t):
            return model.embed(t)[0] @ w.to(t.device) + c
    else:
        k = info.tags.index(tag)

        def logit_of(t):
            return model(t)[0, k]
    x = preprocess(data, mask, info.preprocess)
    size = x.shape[0]
    device = next(model.parameters()).device
    store: dict[str, Any] = {}

    def hook(_module, _inp, out):
        store["act"] = out

    handle = _last_conv_block(model).register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            t = torch.from_numpy(x)[None, None].to(device)
            logit = logit_of(t)
            act = store["act"]
            (grad,) = torch.autograd.grad(logit, act)
        with torch.no_grad():
            weights = grad[0].mean(dim=(1, 2))  # (C,)
            cam = torch.relu((weights[:, None, None] * act[0].detach()).sum(0))
            top = float(cam.max())
            cam = cam / top if top > 0 else torch.zeros_like(cam)
            heat = F.interpolate(cam[None, None], size=(size, size), mode="bilinear", align_corners=False)[0, 0]
            if head is None and info.mirror:  # the p that predict gives (the heat is of the frame as it is)
                logit = (logit.detach() + logit_of(t.flip(-1))) * 0.5
            p = float(torch.sigmoid(logit.detach()))
    finally:
        handle.remove()
        model.train(was_training)
    heat = np.clip(heat.cpu().numpy().astype(np.float32), 0.0, 1.0)
    return CamResult(tag=tag, p=p, heat=heat, frame_shape=tuple(int(s) for s in np.shape(data)),
                     config=dict(info.preprocess), empty=not top > 0)


class CamModel:
    """A loaded checkpoint kept for repeated Grad-CAMs (the TUI loads it once, in a worker)."""

    def __init__(self, path=None, device: str = "cpu") -> None:
        from tui_tagger.model.checkpoint import load_checkpoint
        from tui_tagger.model.locate import default_model_path

        self.path = str(path or default_model_path())
        self.model, self.info = load_checkpoint(self.path, device)
        for prm in self.model.parameters():
            prm.requires_grad_(True)
        from tui_tagger.model.headfile import load_model_heads

        # the heads saved with the model (tui-tagger train-head), as predict uses them
        self.heads = {h.tag: h for h in load_model_heads(self.path)} if hasattr(self.model, "embed") else {}

    @property
    def tags(self) -> list[str]:
        return list(self.info.tags) + [t for t in self.heads if t not in self.info.tags]

    def cam(self, data: np.ndarray, mask: np.ndarray | None, tag: str) -> CamResult:
        return grad_cam(self.model, self.info, data, mask, tag, self.heads)

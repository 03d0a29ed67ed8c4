"""Network architectures: a registry and one ``create_model()``.

A checkpoint names its architecture and config, so a new architecture is a new registry entry and old
checkpoints keep loading.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn


class CellAttention(nn.Module):
    """Self-attention across the cells of the last feature map (a pre-norm transformer block, with
    learnt cell positions). The convolutions see ~160 px at a time; tags such as "Ring: Oriented other"
    (arcs at a slant *from the beam*), "Peaks: Along ring" (spots at one radius) or the number of
    lamellar orders relate things far apart. Both branches end in a zero-initialised layer, so a block
    added to a trained model leaves its outputs as they were until training moves them."""

    def __init__(self, channels: int, cells: int, heads: int = 4):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(1, cells, channels) * 0.02)
        self.norm1, self.norm2 = nn.LayerNorm(channels), nn.LayerNorm(channels)
        self.attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(channels, 2 * channels), nn.GELU(), nn.Linear(2 * channels, channels))
        for last in (self.attn.out_proj, self.mlp[-1]):
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)  # (n, cells, c)
        q = self.norm1(t + self.pos)
        t = t + self.attn(q, q, q, need_weights=False)[0]
        t = t + self.mlp(self.norm2(t))
        return t.transpose(1, 2).reshape(n, c, h, w)


class AlexNetTagger(nn.Module):
    """AlexNet-style: 5 convolutions (BatchNorm for quick, stable training on small data sets), 3 max
    pools, a small spatial pool, then a 2-layer classifier giving one logit per tag (sigmoid outside:
    multi-label). Spatial features are kept (no global pool): "Oriented z" vs "Oriented x" and beamstop
    positions depend on where things are. About 1.3 M parameters at the defaults."""

    def __init__(
        self,
        num_tags: int,
        in_channels: int = 1,
        widths: tuple[int, ...] | list[int] = (32, 64, 128, 128, 96),
        pool: int = 4,
        hidden: int = 512,
        dropout: float = 0.3,
        attention: int = 0,
    ):
        super().__init__()
        w1, w2, w3, w4, w5 = widths

        def conv(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *conv(in_channels, w1, 11, 4), nn.MaxPool2d(3, 2),
            *conv(w1, w2, 5), nn.MaxPool2d(3, 2),
            *conv(w2, w3, 3), *conv(w3, w4, 3), *conv(w4, w5, 3), nn.MaxPool2d(3, 2, ceil_mode=True),
        )
        self.pool = nn.AdaptiveAvgPool2d(pool)
        heads = next(h for h in (4, 3, 2, 1) if w5 % h == 0)
        self.mix = nn.Sequential(*[CellAttention(w5, pool * pool, heads) for _ in range(attention)])
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(w5 * pool * pool, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_tags),
        )

    @property
    def head(self) -> nn.Linear:
        """The last layer: one row per tag (fine-tuning copies rows when the tag list changes)."""
        return self.classifier[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.mix(self.pool(self.features(x))))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer (``hidden`` values per image, after the ReLU): the frozen features that
        few-label heads learn on."""
        return self.classifier[:-1](self.mix(self.pool(self.features(x))))


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "alexnet-tagger": AlexNetTagger,
}
DEFAULT_ARCH = "alexnet-tagger"


def create_model(arch: str, num_tags: int, config: dict[str, Any] | None = None) -> nn.Module:
    """A fresh (randomly initialised) network; ``config`` is what the checkpoint stores."""
    try:
        factory = ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(ARCHITECTURES)})") from None
    return factory(num_tags=num_tags, **(config or {}))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mirror_average(fn, x: torch.Tensor) -> torch.Tensor:
    """``fn`` (frames -> logits or features) averaged over each frame and its left-right mirror: no tag
    depends on left vs right, and the average of the two views ranks better than either (synthetic test
    mean AP +0.003 to +0.004 for the shipped model) at twice the model time, still far under decoding."""
    return (fn(x) + fn(x.flip(-1))) * 0.5


def _pool_matrix(pool: int, side: int) -> torch.Tensor:
    """The adaptive average pool of a side x side map to pool x pool cells, as a (pool², side²) matrix."""
    basis = torch.eye(side * side).reshape(side * side, 1, side, side)
    return nn.functional.adaptive_avg_pool2d(basis, pool).reshape(side * side, pool * pool).T


def regrid_pool(model: nn.Module, arch: str, arch_config: dict[str, Any], pool: int,
                input_size: int) -> tuple[nn.Module, dict]:
    """The same network with its classifier reading ``pool`` x ``pool`` cells of the last feature map
    instead of its own number, the first classifier layer carried over so that the outputs stay what
    they were: exactly when the new grid is the feature map itself (7 cells at a 256 px input), else the
    least-squares nearest. A fine-tune can so give the classifier finer positions without starting over."""
    old = int(arch_config.get("pool", 4))
    if pool == old:
        return model, arch_config
    if not isinstance(model, AlexNetTagger):
        raise ValueError(f"{arch}: its classifier grid cannot be changed")
    if len(model.mix):  # the attention blocks' cell positions are learnt for the grid they have
        raise ValueError("the classifier grid cannot change once the model has cell attention")
    config = {**arch_config, "pool": int(pool)}
    new = create_model(arch, model.head.out_features, config)
    with torch.no_grad():
        side = model.features(torch.zeros(1, model.features[0].in_channels, input_size, input_size)).shape[-1]
        mix = _pool_matrix(old, side) @ torch.linalg.pinv(_pool_matrix(pool, side))  # (old², new²)
        state = model.state_dict()
        fc = model.classifier[2].weight  # Flatten, Dropout, Linear: (hidden, channels * old²)
        hidden, channels = fc.shape[0], fc.shape[1] // (old * old)
        state["classifier.2.weight"] = torch.einsum("hco,on->hcn", fc.float().reshape(hidden, channels, old * old),
                                                    mix).reshape(hidden, channels * pool * pool).to(fc.dtype)
        new.load_state_dict(state)
    return new.train(model.training), config


# The convolutions of AlexNetTagger.features (Sequential indices) and the BatchNorm after each.
_CONVS = (0, 4, 8, 11, 14)


def for_inference(model: nn.Module) -> nn.Module:
    """A copy of an AlexNetTagger in eval mode with each BatchNorm folded into the convolution before it
    (a BatchNorm in eval mode is a fixed per-channel scale and shift): a quarter less CPU per frame for
    the same p (they move by ~1e-6, float rounding). The model passed in is left as it was (it may still
    be trained); other architectures come back as they are."""
    if not isinstance(model, AlexNetTagger):
        return model
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(model).eval()
    for i in _CONVS:
        conv, bn = folded.features[i], folded.features[i + 1]
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            folded.features[i] = fuse_conv_bn_eval(conv, bn)
            folded.features[i + 1] = nn.Identity()
    return folded


def widen(model: nn.Module, arch: str, arch_config: dict[str, Any], widths: list[int] | None = None,
          hidden: int | None = None) -> tuple[nn.Module, dict]:
    """The same network with more channels per convolution and/or more hidden units, computing exactly
    what it did: each new channel or unit starts with random weights in and zero weights out, so a
    fine-tune gains capacity without losing what the model has learnt (Net2Net-style widening). Widths
    can only grow."""
    if not isinstance(model, AlexNetTagger):
        raise ValueError(f"{arch}: its widths cannot be changed")
    old_widths = [model.features[i].out_channels for i in _CONVS]
    old_hidden = model.classifier[2].out_features
    new_widths = list(old_widths if widths is None else widths)
    new_hidden = old_hidden if hidden is None else int(hidden)
    if len(new_widths) != len(old_widths):
        raise ValueError(f"give {len(old_widths)} widths (the model has {','.join(map(str, old_widths))})")
    if any(n < o for n, o in zip(new_widths, old_widths)) or new_hidden < old_hidden:
        raise ValueError(f"widths only grow: the model has {','.join(map(str, old_widths))} and {old_hidden} hidden units")
    if new_widths == old_widths and new_hidden == old_hidden:
        return model, arch_config
    if len(model.mix) and new_widths[-1] != old_widths[-1]:
        raise ValueError("the last convolution's width cannot change once the model has cell attention")
    config = {**arch_config, "widths": new_widths, "hidden": new_hidden}
    new = create_model(arch, model.head.out_features, config)
    old_state, state = model.state_dict(), new.state_dict()  # ``state``: the new model's random init
    cells = model.pool.output_size
    cells = cells * cells if isinstance(cells, int) else cells[0] * cells[1]
    with torch.no_grad():
        for k, i in enumerate(_CONVS):
            o_out, o_in = old_widths[k], (old_widths[k - 1] if k else model.features[0].in_channels)
            w = state[f"features.{i}.weight"]
            w[:, o_in:] = 0  # new input channels are read with weight zero
            w[:o_out, :o_in] = old_state[f"features.{i}.weight"]
            for name in ("weight", "bias", "running_mean", "running_var"):
                state[f"features.{i + 1}.{name}"][:o_out] = old_state[f"features.{i + 1}.{name}"]
            state[f"features.{i + 1}.num_batches_tracked"] = old_state[f"features.{i + 1}.num_batches_tracked"]
        # the first classifier layer reads (channels x cells), channel-major: new channels' columns are zero
        fc = state["classifier.2.weight"].reshape(new_hidden, new_widths[-1], cells)
        fc[:, old_widths[-1]:] = 0
        fc[:old_hidden, : old_widths[-1]] = old_state["classifier.2.weight"].reshape(old_hidden, old_widths[-1], cells)
        state["classifier.2.bias"][:old_hidden] = old_state["classifier.2.bias"]
        head = state["classifier.5.weight"]
        head[:, old_hidden:] = 0  # new hidden units are read with weight zero
        head[:, :old_hidden] = old_state["classifier.5.weight"]
        state["classifier.5.bias"][:] = old_state["classifier.5.bias"]
        for key, value in old_state.items():
            if key.startswith("mix."):
                state[key] = value
        new.load_state_dict(state)
    return new.train(model.training), config


def add_attention(model: nn.Module, arch: str, arch_config: dict[str, Any], blocks: int) -> tuple[nn.Module, dict]:
    """The same network with ``blocks`` cell-attention blocks (more than it has, or as many), its outputs
    unchanged: the new blocks start as the identity (``CellAttention``)."""
    if not isinstance(model, AlexNetTagger):
        raise ValueError(f"{arch}: cell attention cannot be added")
    have = len(model.mix)
    if blocks < have:
        raise ValueError(f"the model has {have} attention blocks: blocks cannot be removed")
    if blocks == have:
        return model, arch_config
    config = {**arch_config, "attention": int(blocks)}
    new = create_model(arch, model.head.out_features, config)
    missing, unexpected = new.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("mix.") for k in missing)
    return new.train(model.training), config

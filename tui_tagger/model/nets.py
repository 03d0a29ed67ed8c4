"""Network architectures: a registry and one ``create_model()``.

A checkpoint names its architecture and config, so a new architecture is a new registry entry and old
checkpoints keep loading.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn


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
        return self.classifier(self.pool(self.features(x)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer (``hidden`` values per image, after the ReLU): the frozen features that
        few-label heads learn on."""
        return self.classifier[:-1](self.pool(self.features(x)))


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

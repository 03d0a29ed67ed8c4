"""The network a training run starts from: a new one, or a model fine-tuned from (``--from``) grown as asked
(a finer pool, wider layers, attention blocks: each keeps what the model computed) with its classifier
adapted to the run's tags. ``tui-tagger train`` (commands/train.py) calls it, and so does the TUI's ``T``,
which runs that command. Imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_tagger.core.errors import TaggerError


@dataclass
class Built:
    model: object  # torch.nn.Module
    arch: str
    arch_config: dict
    preprocess: dict


def preprocess_for(size, base: dict | None = None) -> dict:
    """The preprocessing config at ``size`` on top of ``base``; a TaggerError naming the options when invalid."""
    from tui_tagger.model.transforms import preprocess_config

    try:
        return preprocess_config({**(base or {}), "size": size})
    except ValueError as err:
        raise TaggerError(f"train: --size/--invalid: {err}") from None


def build_model(tags: list[str], base=None, *, size: int | None = None, invalid: float | None = None,
                pool: int | None = None, widths: list[int] | None = None, hidden: int | None = None,
                attention: int | None = None) -> Built:
    """``base``: (model, ModelInfo) to fine-tune, or None for a new model. ``size``/``invalid``: None keeps
    the base's (a new model: 256 / -1); ``pool``, ``widths``, ``hidden``, ``attention``: None keeps the base's
    (a new model: the architecture's defaults)."""
    from tui_tagger.model.nets import DEFAULT_ARCH, add_attention, create_model, regrid_pool, widen
    from tui_tagger.model.train import adapt_head

    if base is None:
        preprocess = preprocess_for(256 if size is None else size, {"invalid": -1.0 if invalid is None else invalid})
        arch_config = {"pool": pool, "widths": widths, "hidden": hidden, "attention": attention}
        arch, arch_config = DEFAULT_ARCH, {k: v for k, v in arch_config.items() if v is not None}
        return Built(create_model(arch, len(tags), arch_config), arch, arch_config, preprocess)
    model, old = base
    preprocess, arch, arch_config = old.preprocess, old.arch, old.arch_config
    if size is not None and size != preprocess["size"]:
        # the convolutions and the adaptive pool take any input size: only the resize step changes
        preprocess = preprocess_for(size, preprocess)
    if invalid is not None and invalid != preprocess.get("invalid", 0.0):
        preprocess = preprocess_for(preprocess["size"], {**preprocess, "invalid": invalid})
    model = adapt_head(model, old.tags, tags)
    if pool is not None:
        try:
            model, arch_config = regrid_pool(model, arch, arch_config, pool, preprocess["size"])
        except ValueError as err:
            raise TaggerError(f"train: --pool: {err}") from None
    if widths is not None or hidden is not None:
        try:
            model, arch_config = widen(model, arch, arch_config, widths, hidden)
        except ValueError as err:
            raise TaggerError(f"train: --widths/--hidden: {err}") from None
    if attention is not None:
        try:
            model, arch_config = add_attention(model, arch, arch_config, attention)
        except ValueError as err:
            raise TaggerError(f"train: --attention: {err}") from None
    return Built(model, arch, arch_config, preprocess)

"""The tagging model: torch lives here and only here.

Importing this package is cheap (no torch); the submodules that need torch import it at their top,
so commands import them inside ``run()``.
"""


def extract_features(refs: list[str], model: str | None = None, device: str = "cpu", batch: int = 32,
                     workers: int | None = None) -> list[tuple]:
    """Penultimate-layer CNN features of ``refs``: one (vector or None, one-line error or None) per ref,
    in order. ``model`` defaults to the default model (``locate.default_model_path``)."""
    from tui_tagger.model.locate import default_model_path
    from tui_tagger.model.infer import LocalPredictor

    predictor = LocalPredictor.load(model or default_model_path(), device, heads=False)
    return [(vec, err) for _, vec, err in predictor.embed_paths(list(refs), batch=batch, workers=workers)]

"""Analysis views (a mixin of TaggerApp): the key that opens them, and the path-set filter that a cluster
chosen in the embedding applies to the main lists.

The views themselves live in ``ui.screens.analysis``; the computations in ``learn.relations`` and
``learn.embedding`` (no Textual).
"""

from __future__ import annotations


class AnalysisMixin:
    # per-tag thresholds of the model that made the session's predictions (from its checkpoint), for the
    # Performance view's precision/recall; empty: 0.5
    model_thresholds: dict[str, float] = {}
    analysis_cache: dict | None = None  # embeddings computed this session, keyed by (method, images)

    def action_analysis(self) -> None:
        from tui_tagger.ui.screens.analysis import AnalysisScreen

        self.push_screen(AnalysisScreen())

    def filter_paths(self, paths, label: str) -> None:
        """Show only these images (paths) in the lists; ``label`` names the filter in the status bar.
        ``paths`` None clears the filter (as an empty / filter does)."""
        if paths is None:
            self.filter_text, self._keep = "", None
        else:
            keep = frozenset(paths)
            self._keep = lambda row, tags: row.path in keep
            self.filter_kind = "images"
            self.filter_text = label
        self.rebuild_lists()
        self._show_selected()

    def check_action(self, action: str, parameters):
        # the lists' pane switch (a priority key: Tab) has nothing to switch while the analysis views are open
        if action == "next_pane" and getattr(self.screen, "is_analysis", False):
            return False
        return super().check_action(action, parameters)


def remember_thresholds(app, predictor) -> None:
    """Keep the model's per-tag thresholds (checkpoint info) for the Performance view; called from the
    predict worker."""
    info = getattr(predictor, "info", None)
    try:
        app.model_thresholds = {str(k): float(v) for k, v in (getattr(info, "thresholds", None) or {}).items()}
    except (TypeError, ValueError):
        app.model_thresholds = {}

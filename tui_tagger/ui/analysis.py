"""Analysis views (a mixin of TaggerApp): the key that opens them. A cluster or the outliers chosen there
filter the main lists through ``ViewMixin.filter_paths`` (ui/view.py).

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

    def check_action(self, action: str, parameters):
        # the lists' pane switch (a priority key: Tab) has nothing to switch while the analysis views are open
        if action == "next_pane" and getattr(self.screen, "is_analysis", False):
            return False
        return super().check_action(action, parameters)


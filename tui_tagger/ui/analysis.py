"""Analysis views (a mixin of TaggerApp): the key that opens them, and what the screen returns applied: a
cluster or the outliers chosen there filter the main lists (``ViewMixin.filter_paths``, ui/view.py).

The views themselves live in ui/screens/analysis.py; the computations in ``learn.relations``,
``learn.embedding`` and ``learn.outliers`` (no Textual).
"""

from __future__ import annotations


class AnalysisMixin:
    # per-tag thresholds of the model that made the session's predictions (from its checkpoint), for the
    # Performance view's precision/recall; empty: 0.5
    model_thresholds: dict[str, float] = {}
    analysis_cache: dict | None = None  # embeddings computed this session, keyed by (method, images)

    def action_analysis(self) -> None:
        from tui_tagger.ui.screens.analysis import AnalysisScreen

        self.push_screen(AnalysisScreen(), self._analysis_chosen)

    def _analysis_chosen(self, choice) -> None:
        """The screen's ``AnalysisChoice``: its images in the lists (the chosen one selected), or None."""
        if choice is None:
            return
        self.filter_paths(set(choice.paths), choice.label)
        if choice.select is not None:
            for lst in (self.pos, self.neg):
                if lst.select_path(choice.select):
                    lst.focus()
                    self._last_list = lst
                    self._show_selected()
                    break
        self.notify(choice.notice, markup=False)

    def check_action(self, action: str, parameters):
        # the lists' pane switch (a priority key: Tab) has nothing to switch while the analysis views are open
        if action in ("next_pane", "prev_pane") and getattr(self.screen, "is_analysis", False):
            return False
        return super().check_action(action, parameters)


"""Review in the TUI (a mixin of TaggerApp): walk the questionable labels of the current tag, then the
outlier images, in the same two lists with the same keys (``tui-tagger review``, commands/review.py).

``r`` cycles: off -> questionable labels -> outliers -> off. Questionable labels are the images whose
label a cross-validated head (trained without them) contradicts with p >= 0.8; their p(tag) becomes that
head's while review shows them (the p before come back after it), so with the p sort the strongest
contradictions sit on top of each list: a tagged image the head
finds untagged-looking tops Positive, the reverse tops Negative. Outliers are the most unusual images by
an isolation forest on the features. Computed in a worker, the images picked there too (a million rows: ~0.5 s);
the keys work meanwhile and the status line says so; the lists are filtered to what was found.
"""

from __future__ import annotations

from textual import work

from tui_tagger.core.text import printable
from tui_tagger.learn.outliers import outlier_count
from tui_tagger.ui import decoding
from tui_tagger.ui.gc_quiet import no_collections
from tui_tagger.ui.live_heads import load_head, pick_images
from tui_tagger.ui.messages import ReviewFound
from tui_tagger.ui.view import NO_FILTER, paths_filter


class ReviewMixin:
    review_mode: str | None = None  # None | "questionable" | "outliers"
    review_outliers: list = []
    _review_pending: tuple[str, str] | bool = False  # (mode, tag) while its worker runs
    _review_saved = None  # (tag, prediction model, {path: p before or None}) while review's p are shown

    def action_review(self) -> None:
        if self._review_pending or self._head_loading:
            self.notify("Review: the features are still being computed; try again in a moment.")
            return
        if self.review_mode == "questionable":
            self._review_start("outliers")
        elif self.review_mode == "outliers":
            self._review_leave()
        else:
            self._review_start("questionable")

    @property
    def review_status(self) -> str | None:
        """What review is doing, for the status line (None: nothing)."""
        if not self._review_pending:
            return None
        mode, tag = self._review_pending
        return f"review: {'questionable labels of ' + printable(tag) if mode == 'questionable' else 'outliers'}…"

    def _review_start(self, mode: str) -> None:
        tag = self.session.tag
        if not tag:
            self.notify("Review needs a tag and at least 4 readable images.")
            return
        self._review_pending = (mode, tag)
        self.status.update_now()
        self.notify(f"Review: looking for {'questionable labels of ' + tag if mode == 'questionable' else 'outliers'}…", markup=False)
        # the images are picked in the worker, too: ~0.5 s over a million rows, which the keys would wait for
        self.review_worker(mode, tag, self.session, self.live_head, self.model_file())

    @work(thread=True, exclusive=True, group="review", description="review")
    def review_worker(self, mode: str, tag: str, session, head, model) -> None:
        decoding.yield_to_ui()  # this thread at a lower priority: the keys first
        try:
            rows, labels = [], {}
            for _ in range(3):  # the UI thread changes rows and corrections meanwhile: a pass that trips on it again
                try:
                    with no_collections():  # its lists of a million rows go by their counts, never walked (gc_quiet.py)
                        rows = pick_images(session)
                    labels = session.labels(tag, [r.path for r in rows])  # as they are now: corrections meanwhile count
                    break
                except (RuntimeError, IndexError, KeyError):
                    continue
            if len(rows) < 4:
                self.post_message(ReviewFound(mode, tag, None, None, "Review needs a tag and at least 4 readable images."))
                return
            items = [(r.path, r.size, r.mtime_ns) for r in rows]
            if head is None or not head.ready:
                head = load_head(items, model=model)
            found, outliers = head.review(labels, outliers=outlier_count(len(items)))
        except Exception as err:  # never a traceback on screen
            self.post_message(ReviewFound(mode, tag, None, None, f"review failed: {err}"))
            return
        positives = sum(labels.values())
        self.post_message(ReviewFound(mode, tag, found, outliers, None, head, (positives, len(labels) - positives)))

    def on_review_found(self, msg: ReviewFound) -> None:
        mode, tag, found, outliers, error, head = msg.mode, msg.tag, msg.found, msg.outliers, msg.error, msg.head
        self._review_pending = False
        self.status.update_now()
        if error:
            self.notify(error, severity="error", timeout=10, markup=False)
            return
        self.adopt_head(head)
        if tag != self.session.tag or tag != self.wanted_view().tag:
            return  # the tag changed meanwhile (or a big folder's lists are being rebuilt for another)
        s = self.session
        if mode == "questionable":
            if not found:
                pos, neg = msg.labelled  # (of the images it looked at: every labelled one, up to 4000)
                self.notify(no_questionable(tag, pos, neg), timeout=8, markup=False)
                if self.review_mode is None:  # go straight on to the outliers
                    self._review_start("outliers")
                return
            results = [(path, {**s.row(path).predictions, tag: round(p, 4)}, None) for path, _, p in found
                       if path in s.index]
            self._review_restore()  # a review before it (r on a new tag): its p back first
            self._review_saved = (tag, s.prediction_model,
                                  {path: s.row(path).predictions.get(tag) for path, _, _ in results})
            self.apply_predictions(results, "review (cross-validated head)")
            paths = {path for path, _, _ in found}
            what = f"{len(paths)} questionable {tag}"
        else:
            self._review_restore()
            self.review_outliers = outliers  # (path, score), most unusual first
            paths = {path for path, _ in outliers}
            what = f"{len(paths)} outliers"
        self.review_mode = mode
        self.set_view(filter=paths_filter(paths, what, "review"), sort="p")
        self.notify(f"Review: {what} (r: {'outliers' if mode == 'questionable' else 'leave review'}).", markup=False)

    def _review_restore(self) -> None:
        """The p the questionable images had before review showed its head's (the model's, the live head's, or
        none), and the prediction model's name with them."""
        saved, self._review_saved = self._review_saved, None
        if saved is None:
            return
        tag, model, before = saved
        s = self.session
        results = []
        for path, p in before.items():
            if path in s.index:
                probs = {name: v for name, v in s.row(path).predictions.items() if name != tag}
                results.append((path, probs if p is None else {**probs, tag: p}, None))
        if results:
            self.apply_predictions(results, model)
        s.prediction_model = model

    def _review_leave(self) -> None:
        self._review_restore()
        self.review_mode = None
        self.set_view(filter=NO_FILTER)
        self.notify("Review ended: all images listed.")


def no_questionable(tag: str, pos: int, neg: int) -> str:
    """Why review found no questionable label: too few labels to cross-validate, or none contradicted."""
    from tui_tagger.learn.review import MIN_PER_CLASS

    if min(pos, neg) < MIN_PER_CLASS:
        return (f"Review: no questionable labels for {tag} ({pos} labelled with it, {neg} without; "
                f"a head needs {MIN_PER_CLASS} of each kind).")
    return (f"Review: no questionable labels for {tag}: a head trained without each of the {pos} labelled with "
            f"it and {neg} without agrees with its label.")

"""The model learns from corrections while you work (a mixin of TaggerApp).

On the first correction the folder's features are computed in a worker (cached on disk: the next session
starts at once); from then on, every ``RETRAIN_EVERY`` corrections on the current tag, on a change of tag,
and once the keys rest ``REFIT_REST_S`` after fewer (an undo right after a correction: the p shown follow
the labels as they are), a few-label head (``learn.live``) retrains in a worker and the lists' p(tag)
update where they stand.
"""

from __future__ import annotations

import os
import time
from operator import attrgetter, not_

from textual import work

from tui_tagger.ui import decoding, gc_quiet, predict, rest_imports
from tui_tagger.ui.messages import HeadFailed, HeadFitted, HeadLoaded, HeadProgress, NextSuggested
from tui_tagger.ui.sorted_rows import release, select

_ERROR, _PATH = attrgetter("error"), attrgetter("path")

RETRAIN_EVERY = 3  # corrections on the current tag between retrains
REFIT_REST_S = 1.0  # fewer corrections than that retrain once no correction came for this long
# Features for at most this many images: every reviewed one first, then an even spread of the rest. A head
# needs few labels, and a 100k folder would otherwise mean half an hour of decoding and GBs of features.
MAX_IMAGES = 4000


def pick_images(session, limit: int = MAX_IMAGES) -> list:
    """The rows the live head learns from and scores: reviewed rows first, then every k-th other row. A
    million rows take ~0.5 s: call it in a worker thread (``head_features`` does)."""
    rows = select(session.rows, lambda part: map(not_, map(_ERROR, part)))  # (in C: keys get the GIL between)
    if len(rows) <= limit:
        return rows
    reviewed = session.reviewed_rows(rows)  # decided per distinct tag set: a million rows
    picked = reviewed[:limit]
    room = limit - len(picked)
    if room > 0:
        seen = {r.path for r in picked}
        rest = select(rows, lambda part: map(not_, map(seen.__contains__, map(_PATH, part))))
        if rest:
            step = len(rest) / room
            picked += [rest[int(i * step)] for i in range(min(room, len(rest)))]
        release(rest)
    release(reviewed)
    release(rows)
    return picked


# after this long without a key or a click, the imports the live head needs are done in a worker
# (learn.live.prepare): imports hold the GIL (0.5-1 s of the UI thread's time in all), which keys would wait for;
# a key pressed meanwhile holds them (ui/rest_imports.py) until the user rests WARM_REST_S again
WARM_IDLE_S = 2.0
WARM_REST_S = 1.0

# a fit's p go into the rows this many at a time, one slice per turn of the event loop: 4000 at once held
# the UI thread 150-210 ms (the rows' prediction dicts and the lists' refresh), and keys waited
APPLY_SLICE = 500

FEW_IMAGES = 64  # fewer labelled images than this: their features are computed in this thread


def load_head(items: list[tuple[str, int, int]], progress=None, model: str | None = None, cluster=None):
    """A ``learn.live.LiveHead`` with the features of ``items`` (from the disk cache where it has them),
    decoded by all cores but one (fewer than FEW_IMAGES: in this thread), or on ``cluster``'s workers; CNN
    features are ``model``'s (None: the default model). Runs in a worker thread."""
    from tui_tagger.learn.features import default_source
    from tui_tagger.learn.live import LiveHead

    head = LiveHead(default_source(model), model)
    # a few images are decoded in the model's process: worker processes cost more to start than they save
    workers = 0 if len(items) < FEW_IMAGES else max(1, (os.cpu_count() or 2) - 1)
    # the CNN in a process of its own (as p's): in a thread here, it took the GIL from the keys for minutes
    embed = predict.ProcessEmbed(model, workers) if head.source in ("cnn", "combined") and cluster is None else None
    try:
        head.load(items, progress=progress, workers=workers, cluster=cluster, embed=embed)
    finally:
        if embed is not None:
            embed.close()  # its 300 MB go back: the features are cached, a retrain needs no CNN
    return head


class LiveHeadsMixin:
    live_head = None  # learn.live.LiveHead once the features are in
    _head_loading = False
    _since_fit = 0
    _head_enabled = True
    _head_applying = 0  # the generation of the fit whose p are being applied
    _head_warm = None  # the timer that waits for a rest to do the imports; False once they are started
    _refit_timer = None  # the retrain after a rest (REFIT_REST_S), restarted by each correction

    def on_mount(self) -> None:
        # (Textual calls each class's own on_mount: the app's runs too)
        self._head_warm_from = time.monotonic()
        self._head_warm = self.set_interval(0.5, self._warm_if_idle)

    def _warm_if_idle(self) -> None:
        if not self._head_warm:
            return
        if self._head_loading or self.live_head is not None or not self._head_enabled:
            self._head_warm.stop()  # the first correction came first: its worker imports them
            self._head_warm = False
        elif time.monotonic() - max(self._head_warm_from, getattr(self, "_last_input", 0.0)) >= WARM_IDLE_S:
            self._head_warm.stop()
            self._head_warm = False
            self.warm_heads(self.model_file())

    def _resting(self) -> bool:
        """No key or click for WARM_REST_S, or the head's worker waits for the imports (read from the warm-up's
        thread)."""
        return self._head_loading or time.monotonic() - getattr(self, "_last_input", 0.0) >= WARM_REST_S

    @work(thread=True, exclusive=True, group="head-warm", description="head imports")
    def warm_heads(self, model: str | None) -> None:
        decoding.yield_to_ui()
        # ~200k objects for good: no collection walks them, during the imports or after (ui/gc_quiet.py)
        with gc_quiet.no_collections() as quiet, rest_imports.while_resting(
                self._resting, gc_quiet.collections_on):
            try:
                from tui_tagger.learn.live import prepare

                prepare(model)
            except Exception:  # noqa: BLE001 - the first correction's worker reports what is missing
                return
            quiet.keep = True

    def labels_changed(self) -> None:
        """After a correction (move, checklist, undo/redo)."""
        if not self._head_enabled:
            return
        if self.live_head is None:
            self.start_live_heads()
            return
        self._since_fit += 1
        if self._refit_timer is not None:
            self._refit_timer.stop()
            self._refit_timer = None
        if self._since_fit >= RETRAIN_EVERY:
            self.retrain_head()
        else:
            self._refit_timer = self.set_timer(REFIT_REST_S, self._refit_if_pending)

    def _refit_if_pending(self) -> None:
        """The corrections since the last fit, once they rest (see the module doc)."""
        self._refit_timer = None
        if self._since_fit:
            self.retrain_head()

    def start_live_heads(self) -> None:
        if self._head_loading or self.live_head is not None:
            return
        self._head_loading = True
        self.head_status = "learning: features…"
        # the images are picked in the worker: on a million rows that is ~0.5 s the keys would wait for
        self.head_features(self.session, self.model_file(), self.cluster)

    @work(thread=True, exclusive=True, group="head-features", description="head features")
    def head_features(self, session, model: str | None, cluster=None) -> None:
        decoding.yield_to_ui()  # this thread and the decoding it starts at a lower priority: the keys first
        try:
            rows = pick_images(session)
        except Exception:  # noqa: BLE001 - the rows changed under the pick (a rescan): the next correction retries
            rows = []
        if len(rows) < 4:
            self.post_message(HeadLoaded(None))  # too few images yet: the next correction tries again
            return
        items = [(r.path, r.size, r.mtime_ns) for r in rows]
        last = [0]

        def progress(done: int, total: int) -> None:
            if done - last[0] >= 50 or done == total:
                last[0] = done
                self.post_message(HeadProgress(done, total))

        try:
            head = load_head(items, progress, model, cluster)
        except Exception as err:  # never a traceback: the app works on without the head
            self.post_message(HeadFailed(f"learning from corrections is off: {err}"))
            return
        self.post_message(HeadLoaded(head))

    def on_head_progress(self, msg: HeadProgress) -> None:
        self.head_status = f"learning: features {msg.done:,}/{msg.total:,}"

    def on_head_failed(self, msg: HeadFailed) -> None:
        self._head_failed(msg.message)

    def _head_failed(self, message: str) -> None:
        self._head_loading, self._head_enabled, self.head_status = False, False, None
        self.notify(message, severity="warning", timeout=10, markup=False)

    def on_head_loaded(self, msg: HeadLoaded) -> None:
        head = msg.head
        self._head_loading = False
        if head is None:  # fewer than 4 readable images
            self.head_status = None
            return
        self.live_head = head
        if not head.ready:
            self._head_failed("learning from corrections is off: too few readable images")
            return
        self.retrain_head()

    def adopt_head(self, head) -> None:
        """Features loaded by another view (review, the Outliers tab): the live head takes them when it
        has none yet, so they are not computed twice."""
        if self.live_head is None and head is not None and head.ready:
            self.live_head = head

    def retrain_head(self) -> None:
        """Retrain the head of the current tag from the session's labels now (in a worker)."""
        if self.live_head is None or not self.live_head.ready or not self.session.tag:
            return
        self._since_fit = 0
        tag = self.session.tag
        # only the images with features: a few thousand, not the whole folder, on the key path
        self.fit_head(self.live_head, tag, self.session.labels(tag, self.live_head.paths), str(self.session.root))

    @work(thread=True, exclusive=True, group="head-fit", description="head fit")
    def fit_head(self, head, tag: str, labels: dict[str, bool], root: str) -> None:
        try:
            probs = head.fit(labels, tag)
        except Exception as err:
            self.post_message(HeadFailed(f"learning from corrections is off: {err}"))
            return
        saved = None
        if probs is not None:
            try:  # a tag the model lacks: predict (P, tui-tagger predict) gives it from now on
                saved = head.save_with_model(root)
            except Exception as err:  # noqa: BLE001 - the live head works on without being saved
                saved = f"not saved: {err}"
        pos = sum(labels.values())
        self.post_message(HeadFitted(tag, probs, pos, len(labels) - pos, saved))

    @work(thread=True, exclusive=True, group="head-suggest", description="next image to label")
    def suggest_with_head(self, head, tag: str, labels: dict[str, bool], seen: set[str]) -> None:
        """``n``'s pick from the live head's features (learn.suggest: ~10-100 ms on its few thousand images,
        a k-means in the cold start), posted as NextSuggested."""
        try:
            path = head.suggest(labels, tag, exclude=seen)
        except Exception:  # noqa: BLE001 - n falls back to the model's p (NextSuggested with no path)
            path = None
        self.post_message(NextSuggested(tag, path))

    def on_head_fitted(self, msg: HeadFitted) -> None:
        tag, probs, pos, neg, saved = msg.tag, msg.probs, msg.pos, msg.neg, msg.saved
        if tag != self.session.tag:
            return  # the tag changed meanwhile; its own retrain follows
        if probs is None:
            self.head_status = f"learning: needs 2+ and 2− labels for {tag} ({pos}+ {neg}−)"
            return
        status = f"learned {tag} from {pos}+ {neg}−"
        last = getattr(self.live_head, "last", None)
        if last is not None and last.tag == tag and last.info.get("from_model"):
            status += " on the model's p"  # a tag the model has: the labels corrected the model's own p
        if isinstance(saved, str):
            status += f" ({saved})"
        elif saved is not None:
            status += " · saved with the model"
        self._head_applying += 1  # a slice of an older fit still queued stops
        self._apply_head_slice(self._head_applying, tag, list(probs.items()), 0, status)

    def _apply_head_slice(self, gen: int, tag: str, probs: list, start: int, status: str) -> None:
        """The fit's p for APPLY_SLICE rows, then the next slice after the keys already queued."""
        if gen != self._head_applying or tag != self.session.tag:
            return  # a newer fit, or another tag, took over
        s, end = self.session, start + APPLY_SLICE
        results = [(path, {**s.row(path).predictions, tag: p}, None) for path, p in probs[start:end] if path in s.index]
        if results:
            self.apply_predictions(results, f"head:{self.live_head.source}")
        if end < len(probs):
            self.call_later(self._apply_head_slice, gen, tag, probs, end, status)
        else:
            self.head_status = status

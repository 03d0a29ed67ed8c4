"""Following the folder as a detector writes into it (a mixin of TaggerApp): ``open DIR --follow``, ``f``.

A worker thread drives ``core.follow.Follower`` (through ``ui/backend.py``: the frames there when the app opened
are the scan's, those that complete from then on are handed out) and the model of ``p`` as a stream
(``ui.predict.open_stream``: a local ``model.stream.StreamPredictor`` or a cluster's ``RemoteStream``). It posts
``FramesArrived`` (new rows: they go into the lists at their sorted places, the cursor stays on its image) and
``FollowPredicted`` (their p: the rows re-sort where they belong, the ``--alert`` queries are checked: a
notice and the bell). The status bar shows the rate, the backlog (complete frames not yet predicted) and the
last alert. ``f`` stops following and starts it again; frames written meanwhile are picked up then.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

from textual import work

from tui_tagger.core.errors import QueryError, TaggerError
from tui_tagger.core.query import alert_hits, parse_query
from tui_tagger.core.text import printable
from tui_tagger.ui import backend, predict
from tui_tagger.ui.messages import (FollowNotice, FollowPredicted, FollowStarted, FollowStopped, FramesArrived,
                                    FramesGone)

RATE_WINDOW_S = 60.0  # the rate in the status bar: frames that arrived in the last minute
SINCE_MARGIN_S = 1.0  # files changed this long before the listing began count as new (coarse file system clocks)
POST_S = 0.2  # frames and p found within this long reach the lists together (one update per batch, not per frame)
MAX_ALERT_NOTICES = 3  # alerts in one batch shown one by one; more: one notice counts them
ALERT_QUIET_S = 3.0  # after alert notices, further alerts for this long are counted and told in one notice


def _more_alerts(n: int) -> str:
    return f"{n} more alert" + ("" if n == 1 else "s")


class FollowState:
    """What the status bar shows of the followed folder (UI thread only)."""

    def __init__(self) -> None:
        self.mode = ""
        self.started = time.monotonic()
        self.times: collections.deque = collections.deque()  # monotonic arrival times within RATE_WINDOW_S
        self.backlog = 0
        self.frames = 0
        self.last_alert = ""

    def arrived(self, n: int) -> None:
        now = time.monotonic()
        self.times.extend([now] * n)
        self.frames += n

    def rate(self) -> float:
        """Frames per minute over the last minute (over the time followed, when shorter)."""
        now = time.monotonic()
        while self.times and self.times[0] < now - RATE_WINDOW_S:
            self.times.popleft()
        span = min(RATE_WINDOW_S, max(now - self.started, 1.0))
        return len(self.times) * 60.0 / span


class FollowMixin:
    following = False
    follow_state: FollowState | None = None
    alert_queries: list = []
    _follow_since = 0.0
    _alerts_quiet_until = 0.0
    _alerts_held = 0

    def init_follow(self, follow: bool, alerts: list[str]) -> None:
        """From ``__init__``: ``--follow`` and the ``--alert`` queries (checked by ``open``; a bad one here is a
        notice at mount)."""
        self._follow_at_start = follow
        self._follow_since = time.time() - SINCE_MARGIN_S  # before the scan lists anything
        self.alert_queries, self._alert_problems = [], []
        for text in alerts or ():
            try:
                self.alert_queries.append((text, parse_query(text, self.session.vocab)))
            except QueryError as err:
                self._alert_problems.append(f"--alert {text!r}: {err}")

    def mount_follow(self) -> None:
        for problem in self._alert_problems:
            self.notify(problem, severity="error", timeout=12)
        if self._follow_at_start:
            self.start_following()

    def action_follow(self) -> None:
        """Follow the folder: new frames join the lists as they are written, predicted in the background."""
        if self.following:
            self.stop_following()
            self.notify("Stopped following the folder (f follows it again; what is written meanwhile shows then).")
        else:
            self.start_following()

    def start_following(self) -> None:
        if self.following:
            return
        self.following = True
        self.follow_state = FollowState()
        opts = getattr(self, "predict_options", None) or {}
        self.follow_frames(str(self.root), self.session.tags_dir, self._follow_since, self.model_file(),
                           opts.get("device"), opts.get("batch") or 32, opts.get("workers"))
        self.status.update_now()

    def stop_following(self) -> None:
        if not self.following:
            return
        self.workers.cancel_group(self, "follow")
        self.following = False
        self._follow_since = time.time() - SINCE_MARGIN_S  # f again: what is written from now on shows then
        if getattr(self, "status", None) is not None:
            self.status.update_now()

    @work(thread=True, exclusive=True, group="follow", description="follow")
    def follow_frames(self, root: str, tags_dir, since: float, model: str | None, device: str | None,
                      batch: int, workers: int | None) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        follower = stream = predictor = None
        name, thresholds = "", {}
        try:
            try:
                # the model (and cluster) of p, in a process of its own for as long as the following lasts
                predictor = self.make_predictor(model, device, own_process=True, keep=False)
                name, thresholds = predict.model_name(predictor), tag_thresholds(predictor)
                stream = predict.open_stream(predictor, batch, workers)
            except TaggerError as err:
                self.post_message(FollowNotice(f"following without predictions: {err}"))
            except Exception as err:  # noqa: BLE001 - never a traceback: the frames still show
                self.post_message(FollowNotice(f"following without predictions: {type(err).__name__}: {err}"))
            if worker.is_cancelled:
                return
            follower = backend.follower(Path(root), since, lambda line: self.post_message(FollowNotice(line)))
            follower.start()
            self.post_message(FollowStarted(follower.mode))
            waiting: collections.deque = collections.deque()
            room = 4 * (stream.in_flight if stream is not None else 64)
            rows, results, posted = [], [], time.monotonic()  # what goes to the UI together (POST_S)
            while not worker.is_cancelled:
                busy = bool(waiting) or (stream is not None and len(stream) > 0)
                arrivals = follower.next(timeout=0.0 if busy or rows or results else 0.2) \
                    if len(waiting) < room else []
                gone = follower.gone()
                if gone:  # at once (a frame deleted and written again: its new row follows in a later post)
                    dropped = set(gone)
                    rows = [r for r in rows if r.path not in dropped]
                    self.post_message(FramesGone(gone))
                if arrivals:
                    rows += self.session.make_rows(
                        backend.arrival_entries(Path(root), tags_dir, [a.ref for a in arrivals]))
                    if stream is None:
                        for arrival in arrivals:
                            follower.done(arrival)
                    else:
                        waiting.extend(arrivals)
                if stream is not None:
                    while waiting and not stream.full():
                        arrival = waiting.popleft()
                        stream.submit(arrival.ref, arrival)
                    out = stream.results(wait=0.05) if len(stream) else []
                    for arrival, result in out:
                        follower.done(arrival, result[2])
                        results.append(result)
                now = time.monotonic()
                idle = not waiting and not (stream is not None and len(stream))
                if (rows or results) and (idle or now - posted >= POST_S) and not worker.is_cancelled:
                    backlog = len(waiting) + (len(stream) if stream is not None else 0)
                    if rows:  # first the rows, then their p (posted in this order, handled in this order)
                        self.post_message(FramesArrived(rows, backlog))
                    if results:
                        self.post_message(FollowPredicted(results, name, backlog, thresholds))
                    rows, results, posted = [], [], now
        except TaggerError as err:
            self.post_message(FollowStopped(f"following stopped: {err}; f follows again"))
            return
        except Exception as err:  # noqa: BLE001 - never a traceback on screen
            why = " ".join(f"{type(err).__name__}: {err}".split())
            if self.cluster is not None:  # the scheduler went away under the stream
                why = f"{self.cluster.address}: lost the Dask scheduler ({why})"
            self.post_message(FollowStopped(f"following stopped: {why}; f follows again"))
            return
        finally:
            from tui_tagger.model.process import ModelProcess

            own = predictor if isinstance(predictor, ModelProcess) else None
            for thing in (follower, stream, own):  # (own: the model process of this following alone)
                if thing is not None:
                    try:
                        thing.stop() if thing is follower else thing.close()
                    except Exception:  # noqa: BLE001 - stopping is best effort
                        pass
        if not worker.is_cancelled:
            self.post_message(FollowStopped(None))

    # ---- on the UI thread -----------------------------------------------------------------------
    def on_follow_started(self, msg: FollowStarted) -> None:
        if self.follow_state is not None:
            self.follow_state.mode = msg.mode
        self.notify(f"Following {self.root}: {msg.mode}", timeout=6)

    def on_frames_arrived(self, msg: FramesArrived) -> None:
        if not msg.rows:
            return
        self.follow_state.arrived(len(msg.rows))  # (frames still on their way when f stopped are listed too)
        self.follow_state.backlog = msg.backlog
        s = self.session
        rewritten = [r.path for r in msg.rows if r.path in s.index and s.written_again(r)]
        if rewritten and self.thumbs is not None:  # written again (a frame closed half-written, then whole):
            self.thumbs.forget(rewritten)  # its thumbnail, a failure maybe, is made anew
        if self._refresh_pending or not self._painted or not self.session.tag:
            self.session.add_rows(msg.rows)  # the scan's rebuild takes them
            self._refresh_pending = True
        else:
            self._replace_rows(msg.rows)  # in at their sorted places; the cursor stays on its image
            if self.inspect.path is None:
                self._show_selected()
        self.status.update_now()

    def on_frames_gone(self, msg: FramesGone) -> None:
        self._remove_rows([p for p in msg.paths if p in self.session.index])
        self.status.update_now()

    def on_follow_predicted(self, msg: FollowPredicted) -> None:
        self.follow_state.backlog = msg.backlog
        self.apply_predictions(msg.results, msg.model)
        if self.alert_queries:
            self._check_alerts(msg.results, msg.thresholds)
        self.status.update_now()  # the backlog and the last alert at once

    def _check_alerts(self, results: list, thresholds: dict[str, float]) -> None:
        hits = []
        queries = [query for _, query in self.alert_queries]
        for path, probs, _ in results:
            if probs:
                name = self.session.row(path).name if path in self.session.index else printable(path)
                hits += [(name, self.alert_queries[i][0], shown)
                         for i, shown, _ in alert_hits(queries, probs, thresholds)]
        if not hits:
            return
        name, text, tags = hits[-1]
        self.follow_state.last_alert = f"{name}: {tags} at {time.strftime('%H:%M:%S')}"
        if time.monotonic() < self._alerts_quiet_until:  # a burst: counted, then said in one notice
            if not self._alerts_held:
                self.set_timer(max(0.1, self._alerts_quiet_until - time.monotonic()), self._flush_alerts)
            self._alerts_held += len(hits)
            return
        for name, text, tags in hits[:MAX_ALERT_NOTICES]:
            self.notify(f"alert: {name}: {tags} [{text}]", title="Alert", severity="warning", timeout=15)
        if len(hits) > MAX_ALERT_NOTICES:
            self.notify(f"{_more_alerts(len(hits) - MAX_ALERT_NOTICES)} in this batch", severity="warning", timeout=15)
        self._alerts_quiet_until = time.monotonic() + ALERT_QUIET_S
        self.bell()

    def _flush_alerts(self) -> None:
        held, self._alerts_held = self._alerts_held, 0
        if held and self.screen_stack:  # not once the app is closing
            self.notify(f"{_more_alerts(held)} (the last: {self.follow_state.last_alert})", title="Alert",
                        severity="warning", timeout=15)
            self._alerts_quiet_until = time.monotonic() + ALERT_QUIET_S
            self.bell()

    def on_follow_notice(self, msg: FollowNotice) -> None:
        self.notify(msg.text, severity=msg.severity, timeout=10)

    def on_follow_stopped(self, msg: FollowStopped) -> None:
        if msg.error:
            self.stop_following()
            self.notify(msg.error, severity="error", timeout=12)
            if self.cluster is not None and self.cluster.address in msg.error:
                self.cluster_where = None
                self.predict_device = f"cluster lost: {self.cluster.address} (p tries again)"

    def follow_text(self) -> str:
        """The status bar's part: rate, backlog, last alert ("" when not following)."""
        st = self.follow_state
        if not self.following or st is None:
            return ""
        text = f"following: {st.rate():.1f} frames/min, backlog {st.backlog}" if st.mode else "following: starting…"
        if st.last_alert:
            text += f", last alert {st.last_alert}"
        return text + " (f: stop)"


def tag_thresholds(predictor) -> dict[str, float]:
    """Each tag's threshold (the model's own, else 0.5): when a tag counts as on for an alert."""
    info = getattr(predictor, "info", None)
    out = {}
    for tag in getattr(predictor, "tags", None) or ():
        try:
            out[tag] = float(info.threshold(tag))
        except Exception:  # noqa: BLE001 - a predictor without per-tag thresholds
            out[tag] = 0.5
    return out

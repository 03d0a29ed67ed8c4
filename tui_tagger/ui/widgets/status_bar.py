"""The status line: what the lists show and what runs in the background, drawn from the app's state.

It follows the state by itself: the app's job reactives (``WATCHED``) redraw it when they change, and a
quarter-second poll catches the counters that change without telling (thumbnails to go, journal
corrections in memory, the scan's count). ``update_now`` is for the lists, after they change.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui_tagger.core.text import printable

# the app's reactives the line shows (ui/app.py declares them)
WATCHED = ("scanning", "verifying", "saving", "predicting", "predict_device", "training", "head_status",
           "settings")
POLL_S = 0.25


def status_text(app) -> Text:
    s = app.session
    text = Text()
    # one line, and the tag, filter and expression come from files or the keyboard: controls made visible
    text.append(f" {printable(s.tag) or '-'} ", style="bold")
    text.append(f" +{len(app.pos.rows)} −{len(app.neg.rows)}  of {len(s.rows)} images")
    if app.filter_text:
        text.append(f"  filter ({app.filter_kind}): {printable(app.filter_text)}")
    text.append(f"  sort: {app.sort}")
    if app.order_stale():  # steady lists: new p shown, rows not moved yet
        text.append(" (new p: o re-sorts)")
    pending = app.lists_pending()  # a big folder's lists rebuilt in a worker (ui/lists.py)
    if pending is not None:
        text.append(f"  listing {printable(pending.tag)}…" if pending.tag != s.tag
                    else "  filtering…" if pending.filter != app.view.filter else "  sorting…")
    for job in (app.filter_status, app.review_status):  # workers / and r started (ui/view.py, ui/review_mode.py)
        if job:
            text.append(f"  {job}")
    if s.overrides:
        text.append(f"  ● {len(s.overrides)} unsaved", style="bold")
    if s.journal.unwritten:
        text.append(f"  ⚠ journal: {s.journal.unwritten} in memory only", style="bold red")
    # background jobs
    if getattr(app, "loading", 0):  # ui/scan.py: the first screen is up, the rest of the index loads
        text.append(f"  loading {app.loading:,} images…")
    elif app.verifying:
        text.append("  checking for changes…")
    elif app.scanning:
        text.append(f"  scanning… {len(s.rows):,} found")
    thumbs = app.thumbs.pending if app.thumbs is not None else 0
    if thumbs:
        text.append(f"  thumbnails… {thumbs} to go")
    if app.saving:
        text.append("  saving…")
    if app.predicting is not None:
        done, total = app.predicting
        text.append(f"  predicting {done:,}/{total:,} on {app.predict_device or '…'} (p/esc: stop)")
    elif app.predict_device:
        text.append(f"  model: {printable(app.predict_device)}")
    if app.training is not None:
        text.append(f"  training: {app.training} (esc: stop)")
    follow = app.follow_text()  # ui/follow.py: rate, backlog, last alert
    if follow:
        text.append(f"  {printable(follow)}", style="bold" if "alert" in follow else "")
    if app.head_status:
        text.append(f"  {printable(app.head_status)}")
    settings = app.settings
    if settings.expression:
        text.append(f"  expr: {printable(settings.expression)}")
    text.append(f"  {settings.colormap}/{settings.scaling}")
    return text


class StatusBar(Static):
    def __init__(self, **kw) -> None:
        super().__init__("", **kw)
        self._text: Text | None = None

    def on_mount(self) -> None:
        for name in WATCHED:
            self.watch(self.app, name, self._changed, init=False)
        self.set_interval(POLL_S, self.update_now)
        self.update_now()

    def _changed(self, _value=None) -> None:
        self.update_now()

    def update_now(self) -> None:
        """Redraw if the line changed (one line, fixed height: no layout pass)."""
        if not self.is_mounted:
            return
        text = status_text(self.app)
        if text != self._text:
            self._text = text
            self.update(fit_line(text, self.size.width), layout=False)
            # the whole line on hover, where the terminal is too narrow for it
            self.tooltip = text.plain.strip() if self.size.width and text.cell_len > self.size.width else None

    def on_resize(self, _event) -> None:
        self._text = None  # fitted to the old width
        self.update_now()


# what a narrow terminal shortens first, in this order (then it cuts items off the end, and says so)
SHORTER = ((" (p/esc: stop)", ""), (" (esc: stop)", ""), (" (new p: o re-sorts)", " (o: re-sort)"),
           (" images", ""), ("thumbnails… ", "thumbs "), (" to go", ""), ("sort: ", "sort "))


def fit_line(text: Text, width: int) -> Text:
    """The status line in ``width`` cells: where it is longer, what does not fit is cut and a "…" says so
    (never dropped silently: at 80 columns the jobs at its end are what would go)."""
    if not width or text.cell_len <= width:
        return text
    fitted = text.copy()
    for long, short in SHORTER:  # first the words that only explain
        i = fitted.plain.find(long)
        if i >= 0:
            fitted = fitted[:i] + Text(short) + fitted[i + len(long):]
            if fitted.cell_len <= width:
                return fitted
    text = fitted
    room = max(width - 2, 0)
    cut = text.plain.rfind("  ", 0, room + 2)  # at the end of an item: never "predicting 30/6"
    fitted.truncate(cut if cut > 0 else room)
    fitted.rstrip()
    fitted.append(" …", style="bold")
    return fitted

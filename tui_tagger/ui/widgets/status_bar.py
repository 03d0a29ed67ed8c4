"""The status line: what the lists show and what runs in the background, drawn from the app's state.

It follows the state by itself: the app's job reactives (``WATCHED``) redraw it when they change, and a
quarter-second poll catches the counters that change without telling (thumbnails to go, journal
corrections in memory, the scan's count). ``update_now`` is for the lists, after they change.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from tui_tagger.core.text import printable
from tui_tagger.ui.fit import ELLIPSIS, middle_cut

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
    # following before the jobs: at the beamline it is the state the user must see, in 80 columns too
    follow = app.follow_text()  # ui/follow.py: rate, backlog, last alert
    if follow:
        text.append(f"  {printable(follow)}", style="bold" if "alert" in follow else "")
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


# what a narrow terminal shortens first, in this order (then the longest items, then it cuts items off the
# end, and says so)
SHORTER = ((" (p/esc: stop)", ""), (" (esc: stop)", ""), (" (f: stop)", ""), (" (new p: o re-sorts)", " (o: re-sort)"),
           ("following: ", "follow "), (" frames/min", "/min"),
           (" images", ""), ("thumbnails… ", "thumbs "), (" to go", ""), ("sort: ", "sort "),
           ("learning: features", "learning"),
           *((f"filter ({kind}): ", "filter: ") for kind in ("name", "tags", "images", "review")))  # ui/view.py


# the items that hold names, which a narrow line cuts in the middle (not the tag: it is what the lists show;
# nor the jobs, whose counts a cut would garble: "predicting 30/6")
NAMED = ("filter", "learned", "learning: needs", "listing", "expr:")  # "learning: features 26/26" is a job
ITEM_MIN = 16  # "filter (n…0123.tif" still says what


def item_spans(plain: str) -> list[tuple[int, int]]:
    """The (start, end) of each item of the line: items are separated by two spaces."""
    spans, at = [], 0
    for part in plain.split("  "):
        if part.strip():
            spans.append((at, at + len(part)))
        at += len(part) + 2
    return spans


def fit_line(text: Text, width: int) -> Text:
    """The status line in ``width`` cells: where it is longer, its hints shortened, its names cut in the
    middle, then the items that still do not fit cut off the end and a "…" says so (never dropped silently;
    the names kept get back the room those leave)."""
    if not width or text.cell_len <= width:
        return text
    fitted = text.copy()
    for long, short in SHORTER:  # first the words that only explain
        i = fitted.plain.find(long)
        if i >= 0:
            fitted = fitted[:i] + Text(short) + fitted[i + len(long):]
            if fitted.cell_len <= width:
                return fitted
    shrunk = shrink_names(fitted, width)
    if shrunk.cell_len <= width:
        return shrunk
    room = max(width - 2, 0)
    cut = shrunk.plain.rfind("  ", 0, room + 2)  # at the end of an item: never "predicting 30/6"
    kept = len(item_spans(shrunk.plain[:cut])) if cut > 0 else 0
    if kept:  # those items, their names cut only as far as the room now needs
        fitted = shrink_names(fitted[:item_spans(fitted.plain)[kept - 1][1]], room)
    else:
        fitted = shrunk
        fitted.truncate(room)
    fitted.rstrip()
    fitted.append(" …", style="bold")
    return fitted


def shrink_names(text: Text, width: int) -> Text:
    """The longest names (a filter, what the live head learned) cut in the middle, evenly, to ITEM_MIN cells
    at least, until ``text`` fits ``width`` or they are all that short: a filter in force shows in part."""
    while text.cell_len > width:
        plain = text.plain
        names = sorted((span for span in item_spans(plain) if plain[span[0]:span[1]].startswith(NAMED)),
                       key=lambda span: -cell_len(plain[span[0]:span[1]]))
        if not names or cell_len(plain[names[0][0]:names[0][1]]) <= ITEM_MIN:
            break
        (start, end), longest = names[0], cell_len(plain[names[0][0]:names[0][1]])
        runner_up = cell_len(plain[names[1][0]:names[1][1]]) if len(names) > 1 else 0
        to = max(ITEM_MIN, longest - (text.cell_len - width), min(runner_up, longest - 1))
        head, tail = middle_cut(plain[start:end], to)
        text = text[:start + head] + Text(ELLIPSIS) + text[start + tail:]
    return text

"""Messages posted from worker threads and widgets to the app."""

from __future__ import annotations

from textual.message import Message


class EntriesArrived(Message):
    """A batch of session rows (built from catalog entries) from the scan worker.

    ``cached``: the index's contents, for the first screen; the scan that follows sends only the rows that
    are new or changed, and ``removed`` (paths) with the last batch. ``done``: the last batch."""

    def __init__(self, rows: list, done: bool = False, error: str | None = None, catalog=None,
                 cached: bool = False, removed: list[str] | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.done = done
        self.error = error
        self.catalog = catalog  # with the last batch of a finished scan
        self.cached = cached
        self.removed = removed or []


class FirstScreen(Message):
    """The first rows of each list, read from the index (a few pages) while the rest loads: painted at once.
    ``tag``: the tag to open on, ``counts``: images per tag, ``images``: how many the index holds."""

    def __init__(self, rows: list, tag: str, counts: dict[str, int], images: int) -> None:
        super().__init__()
        self.rows, self.tag, self.counts, self.images = rows, tag, counts, images


class FolderRechecked(Message):
    """The folder looked at again after the first check (``ui/scan.py``): ``rows`` of images whose files changed
    on disk or are new, ``removed`` (paths) gone; ``took`` seconds; ``error`` when the check failed."""

    def __init__(self, rows: list, removed: list[str], took: float, error: str | None = None) -> None:
        super().__init__()
        self.rows, self.removed, self.took, self.error = rows, removed, took, error


class RowsLoaded(Message):
    """Every row of the index (``index``: path -> position, ``names``: their tags), with the lists already
    split and sorted (``split``: (positives, negatives)) for ``view`` = (tag, sort, filter) as it was."""

    def __init__(self, rows: list, index: dict, names: list, tag: str, counts: dict, view: tuple, split) -> None:
        super().__init__()
        self.rows, self.index, self.names, self.tag, self.counts = rows, index, names, tag, counts
        self.view, self.split = view, split


class ListsSplit(Message):
    """Both lists split and sorted in a worker for ``view`` (request ``seq``) from ``rows`` (the session's list
    then): (``pos``, ``neg``), without the rows of ``touched`` (paths changed meanwhile: the UI puts them
    right); ``pos`` None when the split failed (the rows changed under it)."""

    def __init__(self, seq: int, view, rows: list, pos: list | None, neg: list | None, touched: set) -> None:
        super().__init__()
        self.seq, self.view, self.rows, self.pos, self.neg, self.touched = seq, view, rows, pos, neg, touched


class NamesChecked(Message):
    """``/`` with part of a name: whether some name has it (``error``: why not), from the worker on a big
    folder (ui/view.py)."""

    def __init__(self, view_filter, error: str | None) -> None:
        super().__init__()
        self.filter, self.error = view_filter, error


class TagsCounted(Message):
    """The tag picker's counts (positives per tag) from its worker on a big folder; None: the rows kept
    changing under it (screens/tag_picker.py)."""

    def __init__(self, counts: dict[str, int] | None) -> None:
        super().__init__()
        self.counts = counts


class ThumbsReady(Message):
    """Thumbnails for some rows are in the memory cache: repaint the lists."""


class RowSelected(Message):
    """The cursor of an image list moved to a row (path) or the list became empty (None)."""

    def __init__(self, image_list, path: str | None) -> None:
        super().__init__()
        self.image_list = image_list
        self.path = path

    @property
    def control(self):
        """The list whose cursor moved (Message.control is None unless a message names it)."""
        return self.image_list


class RowMoveRequested(Message):
    """Right-click on a row: move it to the other list."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class InspectResized(Message):
    """The inspect pane changed size (shown at 80x24, a terminal resize): the image is rendered again to fit."""


# ---- results of the app's workers (posted from their threads; handled on the UI thread) -------------------
class ImageRendered(Message):
    """The inspect image of ``path``, rendered at ``key`` (path, settings, size) from ``frame``.
    ``settings``: display settings to adopt now that they rendered (a colour map or expression change)."""

    def __init__(self, path: str, image, meta: dict, key, frame, settings=None) -> None:
        super().__init__()
        self.path, self.image, self.meta, self.key, self.frame, self.settings = path, image, meta, key, frame, settings


class ImageFailed(Message):
    """``path`` could not be shown (``message``); ``remember``: a display change failed (the image stays)."""

    def __init__(self, path: str, message: str, remember: bool = False) -> None:
        super().__init__()
        self.path, self.message, self.remember = path, message, remember


class PredictStarted(Message):
    """The model is loaded on ``device``; ``thresholds`` are its per-tag ones (the Performance view's)."""

    def __init__(self, device: str, thresholds: dict[str, float]) -> None:
        super().__init__()
        self.device, self.thresholds = device, thresholds


class PredictionsArrived(Message):
    """(path, {tag: p} or None, error or None) results; ``done`` images so far, by ``model``."""

    def __init__(self, results: list, done: int, model: str) -> None:
        super().__init__()
        self.results, self.done, self.model = results, done, model


class PredictFinished(Message):
    """The prediction ended: ``done`` images, or ``error`` (one line)."""

    def __init__(self, done: int | None, error: str | None) -> None:
        super().__init__()
        self.done, self.error = done, error


class SaveFinished(Message):
    """A save wrote ``saved`` tag files; ``left``: clashing merges to ask about; ``errors``: one line each."""

    def __init__(self, saved: int, left: list, errors: list[str], then_quit: bool) -> None:
        super().__init__()
        self.saved, self.left, self.errors, self.then_quit = saved, left, errors, then_quit


class TrainingProgress(Message):
    """A line of the training run's progress (``T``) for the status bar."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class TrainingFinished(Message):
    """The training process ended with ``rc`` (None: it never started); ``last``: its last line."""

    def __init__(self, rc: int | None, last: str, out) -> None:
        super().__init__()
        self.rc, self.last, self.out = rc, last, out


class HeadProgress(Message):
    """Features of ``done`` of ``total`` images are in (the live head's first load)."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total


class HeadLoaded(Message):
    """The live head's features are in: ``head`` is a learn.live.LiveHead (None: fewer than 4 readable images
    to learn from yet)."""

    def __init__(self, head) -> None:
        super().__init__()
        self.head = head


class HeadFailed(Message):
    """Learning from corrections is off (``message`` says why)."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class HeadFitted(Message):
    """The live head of ``tag`` retrained on ``pos`` + ``neg`` labels: ``probs`` (path -> p) or None (too few
    labels); ``saved``: True when saved with the model, a string when it could not be."""

    def __init__(self, tag: str, probs: dict[str, float] | None, pos: int, neg: int, saved=None) -> None:
        super().__init__()
        self.tag, self.probs, self.pos, self.neg, self.saved = tag, probs, pos, neg, saved


class NextSuggested(Message):
    """``n`` with the live head: ``path`` is the image to label next for ``tag`` (learn.suggest), or None when
    every image with features is labelled or seen."""

    def __init__(self, tag: str, path: str | None) -> None:
        super().__init__()
        self.tag, self.path = tag, path


class ReviewFound(Message):
    """Review (``r``) of ``tag`` in ``mode``: ``found`` (questionable labels) and ``outliers``, or ``error``;
    ``head``: the features it loaded (the live head takes them); ``labelled``: the images it learnt from,
    (with the tag, without)."""

    def __init__(self, mode: str, tag: str, found, outliers, error: str | None, head=None,
                 labelled: tuple[int, int] = (0, 0)) -> None:
        super().__init__()
        self.mode, self.tag, self.found, self.outliers, self.error, self.head = mode, tag, found, outliers, error, head
        self.labelled = labelled


class HeatRequested(Message):
    """The render worker needs the heat map ``key`` (mode, path, tag) of ``frame``."""

    def __init__(self, key: tuple, frame) -> None:
        super().__init__()
        self.key, self.frame = key, frame


class HeatReady(Message):
    """The heat map ``key`` is computed (``heat``: a map, or None with a note saying why)."""

    def __init__(self, key: tuple, heat) -> None:
        super().__init__()
        self.key, self.heat = key, heat


# ---- following the folder (ui/follow.py) and the cluster (ui/cluster_status.py) --------------------------
class FollowStarted(Message):
    """The follow worker watches the folder: ``mode`` says how (events or polling)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode


class FramesArrived(Message):
    """Frames that became complete in the followed folder: session rows; ``backlog``: complete frames not yet
    predicted."""

    def __init__(self, rows: list, backlog: int) -> None:
        super().__init__()
        self.rows, self.backlog = rows, backlog


class FramesGone(Message):
    """Files deleted or renamed away in the followed folder (paths): their rows go."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self.paths = paths


class FollowPredicted(Message):
    """(path, {tag: p} or None, error or None) of followed frames, by ``model``; ``backlog`` as above."""

    def __init__(self, results: list, model: str, backlog: int, thresholds: dict[str, float]) -> None:
        super().__init__()
        self.results, self.model, self.backlog, self.thresholds = results, model, backlog, thresholds


class FollowNotice(Message):
    """A one-line problem of the follow worker (an unreadable frame, no model: following goes on)."""

    def __init__(self, text: str, severity: str = "warning") -> None:
        super().__init__()
        self.text, self.severity = text, severity


class FollowStopped(Message):
    """The follow worker ended: ``error`` (one line) when it could not go on."""

    def __init__(self, error: str | None) -> None:
        super().__init__()
        self.error = error


class ClusterReady(Message):
    """Connected to the Dask cluster: ``where`` the model runs (``2 workers @ tcp://…``)."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where


class ClusterFailed(Message):
    """The Dask cluster could not be reached (``error``: one line naming the address)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error

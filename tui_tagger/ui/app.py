"""The tagging app: composes the screen and wires the parts together. Each concern is a module named for
it, mixed in here: scan.py (streaming the folder in), lists.py (the two lists), view.py (tag, filter,
sort), corrections.py (moves, checklist, undo), rendering.py (the inspect image), prediction.py (p),
saving.py (save, quit), journal_notices.py, runs.py (P, T), live_heads.py, review_mode.py (r),
analysis.py (a), heatmap.py (h); the status line is widgets/status_bar.py. Workers post typed messages
(messages.py); their results are applied here, on the UI thread.
"""

from __future__ import annotations

import os
import time

from pathlib import Path

from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal
from textual.reactive import var
from textual.widgets import Footer

from tui_tagger.core.text import printable
from tui_tagger.ui import actions, backend, decoding, gc_quiet, predict
from tui_tagger.ui.analysis import AnalysisMixin
from tui_tagger.ui.cluster_status import ClusterMixin
from tui_tagger.ui.corrections import CorrectionsMixin
from tui_tagger.ui.follow import FollowMixin
from tui_tagger.ui.heatmap import HeatmapMixin
from tui_tagger.ui.journal_notices import JournalMixin
from tui_tagger.ui.lists import ListsMixin
from tui_tagger.ui.live_heads import LiveHeadsMixin
from tui_tagger.ui.prediction import PredictionMixin
from tui_tagger.ui.rendering import RenderingMixin
from tui_tagger.ui.review_mode import ReviewMixin
from tui_tagger.ui.runs import RunsMixin
from tui_tagger.ui.saving import SavingMixin
from tui_tagger.ui.scan import ScanMixin
from tui_tagger.ui.screens.help import HelpScreen
from tui_tagger.ui.session import Session
from tui_tagger.ui.themes import load_themes
from tui_tagger.ui.thumbs import ThumbLoader
from tui_tagger.ui.view import ViewMixin, ViewState
from tui_tagger.ui.messages import ThumbsReady
from tui_tagger.ui.widgets.image_adapter import choose_graphics, graphics_problem, make_placeholders, thumb_cell_pixels
from tui_tagger.ui.widgets.image_list import ImageList
from tui_tagger.ui.zoom import Zoom
from tui_tagger.ui.widgets import span_repaint
from tui_tagger.ui.widgets.inspect import InspectPane
from tui_tagger.ui.widgets.status_bar import StatusBar


class KeyFooter(Footer):
    """Textual's footer; below FOOTER_ONE_LINE columns, in two rows (every key of the contract stays visible)."""

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if self.screen.has_class("-footer-2"):  # Footer.compose set one grid column per key
            self.styles.grid_size_columns = max(1, -(-self.styles.grid_size_columns // 2))


FOOTER_ONE_LINE = 142  # the footer's keys fit one line from this many columns
NARROW = 110  # below this many columns the inspect pane replaces the lists instead of sitting beside them
PERIOD_S = 0.25  # the journal retry and the throttled rebuild while a folder streams in


class TaggerApp(ScanMixin, ListsMixin, ViewMixin, CorrectionsMixin, RenderingMixin, PredictionMixin,
                SavingMixin, JournalMixin, RunsMixin, LiveHeadsMixin, ReviewMixin, AnalysisMixin, HeatmapMixin,
                FollowMixin, ClusterMixin, App):
    CSS_PATH = "app.tcss"
    TITLE = "tui-tagger"
    BINDINGS = actions.bindings()

    # what the status bar shows of the background jobs: it redraws when one changes (widgets/status_bar.py)
    scanning = var(True)
    verifying = var(False)  # the lists show the index's rows; the scan checks them against the disk
    saving = var(False)
    predicting: var[tuple[int, int] | None] = var(None)  # (done, total) while a prediction runs
    predict_device = var("")
    training: var[str | None] = var(None)  # the training job's progress line while it runs
    head_status: var[str | None] = var(None)  # the live head's part
    settings = var(None)  # core.display.DisplaySettings of the inspect image and the thumbnails

    def __init__(self, root: Path, *, tag: str | None = None, tags_dir: Path | None = None,
                 theme: str | None = None, graphics: str = "auto", thumbnails: bool = True,
                 session: Session | None = None, predictor=None, model: str | Path | None = None,
                 follow: bool = False, alerts: list[str] | None = None, cluster=None) -> None:
        super().__init__()
        tmux_colours(self.console)
        self.root = Path(root)
        self.model = str(model) if model else None  # --model: p, P, T, h and the live heads use it
        self.session = session or Session(self.root, tags_dir)
        self.view = ViewState()
        self.initial_tag = tag
        self.graphics = choose_graphics(graphics)  # kitty, sixel, halfcell or none (ui/widgets/image_adapter.py)
        # how the lists and the grid draw thumbnails in pixels: kitty placeholders (widgets/kitty_placeholders.py),
        # Sixel / iTerm2 images over half blocks (widgets/inline_images.py); None: half blocks
        self.placeholders = make_placeholders(self, self.graphics)
        self.thumb_cell = thumb_cell_pixels(self.graphics)  # thumbnail pixels per cell
        self.settings = backend.display_settings()
        self.scan_error: str | None = None
        self.seen: set[str] = set()  # rows shown in the inspect pane (n skips them)
        self.predictor_factory = predictor or predict.load_predictor  # () -> a model.infer.Predictor
        self.cluster = cluster  # model.cluster.Cluster (open --scheduler/--cluster): p and the live head run there
        self.init_follow(follow, alerts or [])  # open --follow / --alert (ui/follow.py)
        self.stderr_lines: list[str] = []  # problems printed to stderr once the screen is gone (commands.open_cmd)
        self.keymap, keymap_problems = actions.load_keymap()
        self.set_keymap(self.keymap)
        themes, self._theme_problems = load_themes()
        self._startup_problems = self._theme_problems + keymap_problems
        if problem := graphics_problem(graphics):  # tmux settings that keep images out
            self._startup_problems.append(problem)
        for t in themes:
            self.register_theme(t)
        self.theme = theme or "beamline-dark"
        self.zoom = Zoom.load()  # + / - / v (ui/rendering.py), as the last session left them
        self.thumbs = (
            ThumbLoader(self.zoom.thumb_pixels(self.thumb_cell), self._thumb_settings(),
                        lambda: self.post_message(ThumbsReady()))
            if thumbnails else None
        )
        decoding.start()  # the decoding processes' server, before Textual takes stderr (ui/decoding.py)
        self.prefetch_index()  # the first screen read from the index while Textual starts (ui/scan.py)

    def compose(self) -> ComposeResult:
        # kept as attributes: query_one searches the active screen, which is a dialog while one is open
        self.pos = ImageList(self.session, self.thumbs, self.placeholders, self.on_row_selected, id="pos",
                             classes="image-list")
        self.neg = ImageList(self.session, self.thumbs, self.placeholders, self.on_row_selected, id="neg",
                             classes="image-list")
        self.inspect = InspectPane(self.graphics, self.placeholders, id="inspect")
        self.status = StatusBar(id="status")
        with Horizontal(id="main"):
            with Horizontal(id="lists"):
                yield self.pos
                yield self.neg
            yield self.inspect
        yield self.status
        yield KeyFooter()

    def on_mount(self) -> None:
        span_repaint.install(self.screen)  # a key repaints what changed, not the box around it
        for problem in self._startup_problems:
            self.notify(problem, severity="warning")
        self.pos.focus()
        self._last_list = self.pos
        self._layout(self.size.width)
        self.apply_zoom()
        self.start_journal()  # other sessions on this folder see this one live from now on
        self.scan()
        self.connect_cluster()
        self.mount_follow()
        gc_quiet.watch_full_collections()
        gc_quiet.full_collections_at_rest()
        self._mounted_at = time.monotonic()
        self.set_interval(PERIOD_S, self._periodic)

    def _periodic(self) -> None:
        if not self.screen_stack:  # closing: the lists and their screen are gone
            return
        self._check_journal(retry=True)
        self.rebuild_if_due()
        rest_s = time.monotonic() - max(self._last_input, self._mounted_at)
        gc_quiet.collect_at_rest(rest_s)  # full collections while nobody waits on a key
        gc_quiet.freeze_if_due()  # after a slow full collection: the next ones skip what it walked
        gc_quiet.reclaim_at_rest(rest_s)

    def on_resize(self, event) -> None:
        self._layout(event.size.width)

    def _layout(self, width: int) -> None:
        main = self.screen_stack[0] if self.screen_stack else self.screen  # not a dialog open on top of it
        main.set_class(width < NARROW, "-narrow")
        two = width < FOOTER_ONE_LINE
        if two != main.has_class("-footer-2"):
            main.set_class(two, "-footer-2")
            for footer in main.query(KeyFooter):
                footer.refresh(recompose=True)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.keymap))

    def action_full_image(self) -> None:
        from tui_tagger.ui.screens.full_image import FullImageScreen

        self.push_screen(FullImageScreen(self.active_list(), self.graphics, self.placeholders))

    def notify(self, message: str, *, markup: bool = False, **kwargs) -> None:
        """Notifications are plain text unless asked: they carry file names, tag names and errors from
        files, which Textual would otherwise parse as markup (and a stray "[/" would crash the app). They
        are one line each: every control character in them is made visible (``printable``), a newline
        in a file name included."""
        super().notify(printable(message), markup=markup, **kwargs)

    def action_help_quit(self) -> None:
        """ctrl+c (Textual's): say which key quits. Textual's notice is markup ("Press [b]ctrl+q[/b]…"),
        which the plain notices above showed as it is."""
        quit_action = next(a for a in actions.ACTIONS if a.id == "quit")
        self.notify(f"Press {actions.key_label(quit_action, self.keymap)} to quit (ctrl+c does not quit here).",
                    title="Quit?")

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's Screenshot: into the cache folder's ``screenshots/``, never the working directory
        (often the image folder, where a stray SVG clutters the data)."""
        if path is None:
            from tui_tagger.config import cache_dir

            shots = cache_dir() / "screenshots"
            try:
                shots.mkdir(parents=True, exist_ok=True)
                path = str(shots)
            except OSError as err:
                self.notify(f"Screenshot: cannot make {shots}: {err}", severity="error", title="Screenshot")
                return None
        return super().deliver_screenshot(filename, path, time_format)

    @on(events.DeliveryComplete)
    def _screenshot_saved(self, event: events.DeliveryComplete) -> None:
        """The palette's Screenshot: Textual's notice is markup ("Saved screenshot to [$text-success]…"),
        which the plain notices above showed as it is; this one says where, in plain words."""
        if event.name == "screenshot":
            event.prevent_default()  # not Textual's notice too
            self.notify(f"Saved screenshot to {event.path}" if event.path else "Saved screenshot", title="Screenshot")

    def get_system_commands(self, screen):
        for command in super().get_system_commands(screen):
            if command.title != "Quit":  # ours asks about unsaved corrections and shows the key
                yield command
        for a in actions.ACTIONS:
            yield SystemCommand(a.description, f"key: {actions.key_label(a, self.keymap)}",
                                getattr(self, f"action_{a.id}"))

    def on_unmount(self) -> None:
        self.stop_scan()  # the change check's child process (ui/scan.py)
        self.stop_following()
        self.close_model_process()  # p's model (ui/prediction.py)
        gc_quiet.thaw()
        if self.thumbs is not None:
            self.thumbs.stop()
        if self.placeholders is not None:
            self.placeholders.close()  # the images leave the terminal with the app
        self.close_journal()


def tmux_colours(console) -> None:
    """256 colours inside tmux: its default $TERM ("screen") makes Rich draw the 16 ANSI colours, the
    thumbnails' false colours and the cursor rows with them (focused and blurred the same grey), while tmux
    itself keeps 256 and converts them for a terminal that has fewer. A colour system the user chose
    (TEXTUAL_COLOR_SYSTEM) and 256 or 24-bit colour already detected are left as they are."""
    from rich.color import ColorSystem
    from textual import constants

    if os.environ.get("TMUX") and constants.COLOR_SYSTEM == "auto" and console._color_system == ColorSystem.STANDARD:
        console._color_system = ColorSystem.EIGHT_BIT  # Rich has no public setter after construction

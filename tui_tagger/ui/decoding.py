"""Decoding out of the UI's process: thumbnails and the inspect image are read, scaled and coloured in worker
processes (one ``ProcessPoolExecutor`` for the app, forkserver-started so that the UI's threads are never
forked), fed image refs and returning small uint8 arrays. The UI's threads only wait on futures (holding no
GIL), so keys stay instant while a folder's thumbnails load and a 1024 x 1024 frame decodes.

No Textual here: the workers import this module. ``use_threads()`` runs the jobs in the calling thread
instead (a benchmark's fake backend, which worker processes would not see).
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import multiprocessing as mp
import os
import sys
import threading
from collections import OrderedDict

WORKERS = max(1, min(4, (os.cpu_count() or 2) - 1))  # the UI keeps a core
_FRAMES_KEPT = 2  # per worker: a colour map or expression change re-renders without reading the file again

_pool: cf.ProcessPoolExecutor | None = None
_lock = threading.Lock()
_in_threads = False
submitted = 0  # jobs sent to the worker processes (tests check the UI used them)


def use_threads(on: bool = True) -> None:
    """Run the jobs in the caller's thread instead of the worker processes."""
    global _in_threads
    _in_threads = on


_PRELOAD = ["tui_tagger.ui.decoding", "tui_tagger.ui.backend", "tui_tagger.core.display", "tui_tagger.core.formats",
            "tui_tagger.core.thumbcache", "tui_tagger.ui.widgets.inline_codec"]


def start() -> None:
    """Start the worker processes' server now: before Textual replaces ``sys.stderr`` (multiprocessing hands
    the real one to its helper processes; a stand-in's fileno breaks their start) and while the screen loads."""
    _executor()


def _executor() -> cf.ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            if "forkserver" in mp.get_all_start_methods():
                ctx = mp.get_context("forkserver")
                from multiprocessing import forkserver, resource_tracker

                forkserver.set_forkserver_preload(_PRELOAD)  # each worker forks with these imported
                saved = sys.stderr
                try:
                    if not _real_fileno(sys.stderr) and sys.__stderr__ is not None:
                        sys.stderr = sys.__stderr__
                    resource_tracker.ensure_running()
                    forkserver.ensure_running()
                finally:
                    sys.stderr = saved
            else:
                ctx = mp.get_context("spawn")
            _pool = cf.ProcessPoolExecutor(WORKERS, mp_context=ctx)
        return _pool


def _real_fileno(stream) -> bool:
    try:
        return stream.fileno() >= 0
    except Exception:
        return False


def shutdown() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


atexit.register(shutdown)


def _run(fn, *args):
    """``fn(*args)`` in a worker process (waiting, without the GIL), or here under ``use_threads``."""
    global submitted
    if _in_threads:
        return fn(*args)
    for attempt in (0, 1):
        try:
            submitted += 1
            return _executor().submit(fn, *args).result()
        except cf.process.BrokenProcessPool:
            # a worker died (a decoder crashed, the OOM killer): a fresh pool, and this job once more
            global _pool
            with _lock:
                _pool = None
            if attempt:
                raise
    raise AssertionError("unreachable")


# ---- called from the UI's threads -----------------------------------------------------------------
GIL_WAIT_S = 0.001  # how long the UI thread may wait for the GIL while a background thread computes


def yield_to_ui() -> None:
    """The calling thread (a worker of the UI's process computing for long: predict, its model's threads
    and worker processes, which inherit it) yields the CPU to the UI's thread: on Linux a nice value is per
    thread. The UI thread waits at most GIL_WAIT_S for the GIL (Python's default: 5 ms, at each of the event
    loop's turns)."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + NICE))
    except (OSError, AttributeError):  # not Linux: the whole process would be lowered, so nothing
        pass
    if sys.getswitchinterval() > GIL_WAIT_S:
        sys.setswitchinterval(GIL_WAIT_S)


def thumbnail(ref: str, size: tuple[int, int], settings):
    """uint8 RGB (h, w, 3) fitted in ``size`` (w, h), through the disk cache; None when unreadable."""
    from tui_tagger.ui import backend

    return _run(_thumb_job, ref, tuple(size), settings, backend.thumbnail_cache_place())


def render(ref: str, settings, size: tuple[int, int], want_frame: bool = False):
    """The inspect image: ``(rgb, meta, frame or None)``, or ``(None, message, None)`` when it cannot be shown
    (``frame`` only when asked: a heat map needs it; pixels are otherwise left in the worker)."""
    return _run(_render_job, ref, settings, tuple(size), want_frame)


def inline_image(protocol: str, rgb, cols: int, rows: int, cell: tuple[int, int], tmux: bool = False) -> str:
    """A thumbnail's Sixel or iTerm2 escape over ``cols`` x ``rows`` cells (ui/widgets/inline_codec.py)."""
    return _run(_inline_job, protocol, rgb, cols, rows, tuple(cell), tmux)


# ---- run in the worker processes --------------------------------------------------------------------
_frames: OrderedDict = OrderedDict()


NICE = 10  # the workers yield the CPU to the UI's process (a 2-core machine: the keys come first)
_ready = False


def _yield_cpu() -> None:
    """Once per worker process: a lower priority, and its stdout and stderr to /dev/null (they are the
    terminal the TUI draws on: a reader's warning printed there would scribble over the screen)."""
    global _ready
    if _ready or mp.parent_process() is None:  # use_threads: this is the UI's process
        return
    _ready = True
    try:
        os.nice(NICE)
    except OSError:
        pass
    from tui_tagger.core.workers import silence_worker

    silence_worker()


def _thumb_job(ref, size, settings, place):
    import numpy as np

    _yield_cpu()
    from tui_tagger.ui import backend

    try:
        arr = backend.thumbnail(ref, size, settings, place)
    except Exception:  # a corrupt image: the row shows a marker, the inspect pane the error
        return None
    return np.ascontiguousarray(arr[..., :3], dtype=np.uint8)


def _inline_job(protocol, rgb, cols, rows, cell, tmux):
    from tui_tagger.ui.widgets import inline_codec

    _yield_cpu()
    return inline_codec.encode(protocol, rgb, cols, rows, cell, tmux)


def _render_job(ref, settings, size, want_frame):
    from tui_tagger.core.errors import TaggerError
    from tui_tagger.ui import backend

    _yield_cpu()
    key = (ref, backend.file_meta(ref).get("mtime"))  # a rewritten file is read again
    try:
        frame = _frames.get(key)
        if frame is None:
            frame = backend.read_frame(ref)
            _frames[key] = frame
            while len(_frames) > _FRAMES_KEPT:
                _frames.popitem(last=False)
        else:
            _frames.move_to_end(key)
        rgb = backend.render(frame, settings, size)
    except TaggerError as err:
        _frames.pop(key, None)
        return None, str(err), None
    except Exception as err:  # never a traceback on screen
        _frames.pop(key, None)
        return None, f"{ref}: cannot show: {err}", None
    meta = {"format": frame.format, **{k: v for k, v in frame.meta.items() if not isinstance(v, (list, dict))}}
    return rgb, meta, frame if want_frame else None

"""The model in a process of its own (``ModelProcess``), for the TUI's ``p``: torch, the model's Python between
its batches and the reading of results never take the UI process's GIL. In a thread of the UI's process they
did: on 2 cores, holding Down while ``p`` ran gave p90 28-116 ms per key against 9-13 ms without ``p``, the UI
thread's slices up 50 % from waiting for the GIL (README, "Instant keys").

The process is started from the fork server (a clean one-thread process: a fork of the many-threaded UI copies
locks another thread held), lowered by ``nice``, loads the model once and serves runs until it has waited
``IDLE_S`` for one, or the parent goes. No torch is imported in this module: the parent never needs it.

It also serves the CNN features of the live head (``embed_paths``): the same model, the same GIL problem.

Messages, parent -> child: ("predict" or "embed", paths, batch, workers), ("paths", paths) after the child's ("more",),
("stop",) (the run ends after the frames in hand), None (exit). Child -> parent: ("ready", info) once or
("error", line); per run ("results", [Result]), ("more",) when its paths are used up, then ("done", n).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from types import SimpleNamespace
from typing import Any, Iterator

from tui_tagger.core.errors import TaggerError

CHUNK = 8192  # paths per message: a million paths in one would be 80 MB pickled, held twice
FLUSH_S = 0.1  # results travel together at most this long (the UI applies them in batches of BATCH_S anyway)
IDLE_S = 120.0  # an idle model process exits (its RSS, torch and the model, about 300 MB, goes back)
STOP_WAIT_S = 5.0  # a cancelled run's frames in hand finish within this, else the process is terminated


def _serve(conn, model: str, device: str, nice: int) -> None:
    """The child: load the model, then serve runs until told to exit, the pipe closes or IDLE_S pass idle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl+C in the terminal is the TUI's to handle
    if nice:
        try:
            os.nice(nice)  # the model's threads and its decoding workers inherit it
        except OSError:
            pass
    from tui_tagger.core.workers import silence_worker

    silence_worker()  # the terminal is the TUI's screen
    try:
        from tui_tagger.model.infer import LocalPredictor

        predictor = LocalPredictor.load(model, device)
    except TaggerError as err:
        conn.send(("error", str(err)))
        return
    except Exception as err:  # noqa: BLE001 - the parent shows one line, never a traceback
        conn.send(("error", f"{model}: the model could not be loaded: {type(err).__name__}: {err}"))
        return
    info = predictor.info
    conn.send(("ready", {"name": info.name, "path": str(info.path or model), "tags": list(predictor.tags),
                         "thresholds": dict(info.thresholds), "device": predictor.device}))
    while conn.poll(IDLE_S):
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task and task[0] == "stop":
            continue  # a run's stop that came after its last results
        if not task or task[0] not in ("predict", "embed"):
            return
        try:
            _run(conn, predictor, *task)
        except (EOFError, OSError, BrokenPipeError):
            return


def _run(conn, predictor, kind: str, paths: list[str], batch: int, workers: int | None) -> None:
    """One run of ``predict_paths`` or ``embed_paths``: the results of ``paths`` (and of the chunks that
    follow) sent every FLUSH_S; a ("stop",) ends it early."""
    done, stopped = 0, False
    method = predictor.predict_paths if kind == "predict" else predictor.embed_paths
    while paths and not stopped:
        pending, last = [], time.monotonic()
        results = method(paths, batch=batch, workers=workers)
        try:
            for result in results:
                pending.append(result)
                now = time.monotonic()
                if now - last >= FLUSH_S:
                    conn.send(("results", pending))
                    done += len(pending)
                    pending, last = [], now
                    if conn.poll(0):  # only a stop comes during a run
                        conn.recv()
                        stopped = True
                        break
        except Exception as err:  # noqa: BLE001 - the run fails with one line; the process serves on
            conn.send(("results", pending))
            line = str(err) if isinstance(err, TaggerError) else f"prediction failed: {type(err).__name__}: {err}"
            conn.send(("failed", line))
            return
        finally:
            results.close()  # stops its decoding workers
        if pending:
            conn.send(("results", pending))
            done += len(pending)
        if stopped:
            break
        conn.send(("more",))
        task = conn.recv()
        if task[0] == "stop":
            break
        paths = task[1]
    conn.send(("done", done))


class ModelProcess:
    """A ``Predictor`` (model.infer's interface: ``info``, ``device``, ``tags``, ``predict_paths``) whose model
    runs in a child process. ``alive()`` says whether it can serve another run; ``close()`` ends it."""

    def __init__(self, model: str, device: str = "auto", nice: int = 0):
        # never a fork of this process: its torch (a test's, the live head's) or its threads' locks would be
        # copied mid-work; the fork server is a clean one-thread process
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["tui_tagger.model.feed"])  # numpy and the readers, never torch
        self.key = (str(model), str(device))
        self._conn, child = ctx.Pipe()
        # not a daemon: a daemon process may not start the decoding workers
        self.process = ctx.Process(target=_serve, args=(child, str(model), str(device), int(nice)),
                                   name="tui-tagger-model")
        self.process.start()
        child.close()
        self._busy = False
        message = self._recv()
        if message[0] == "error":
            self.close()
            raise TaggerError(message[1])
        meta: dict[str, Any] = message[1]
        self.info = SimpleNamespace(name=meta["name"], path=meta["path"], thresholds=meta["thresholds"])
        self.tags: list[str] = meta["tags"]
        self.device: str = meta["device"]

    def _recv(self):
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            self.process.join(1)
            code = self.process.exitcode
            why = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            raise TaggerError(f"the model process stopped ({why})") from None

    @property
    def busy(self) -> bool:
        """A run is in progress (or still stopping)."""
        return self._busy

    def alive(self) -> bool:
        """Ready for a run: not busy, and the process has not exited (idle, or killed)."""
        return self.process.is_alive() and not self._conn.closed and not self._busy

    def predict_paths(self, paths: list[str], batch: int = 32, workers: int | None = None) -> Iterator[tuple]:
        """(path, {tag: p} or None, error or None) per path, in order. Closing the generator early stops the
        run (the child finishes the frames in hand) and leaves the process ready for the next one."""
        return self._stream("predict", paths, batch, workers)

    def embed_paths(self, paths: list[str], batch: int = 32, workers: int | None = None) -> Iterator[tuple]:
        """(path, penultimate-layer vector or None, error or None) per path, in order (as ``predict_paths``)."""
        return self._stream("embed", paths, batch, workers)

    def _stream(self, kind: str, paths: list[str], batch: int, workers: int | None) -> Iterator[tuple]:
        if self._busy:
            raise TaggerError("the model process is busy with another run")
        if self._conn.closed or not self.process.is_alive():
            raise TaggerError("the model process has ended")
        self._busy = True
        ended = False
        paths = list(paths)
        try:
            self._conn.send((kind, paths[:CHUNK], batch, workers))
            sent = CHUNK
            while True:
                message = self._recv()
                kind = message[0]
                if kind == "results":
                    yield from message[1]
                elif kind == "more":
                    self._conn.send(("paths", paths[sent: sent + CHUNK]) if sent < len(paths) else ("stop",))
                    sent += CHUNK
                elif kind == "failed":
                    ended = True
                    raise TaggerError(message[1])
                else:  # "done"
                    ended = True
                    return
        finally:
            if not ended:
                self._stop()
            self._busy = False

    def _stop(self) -> None:
        """Stop the run in progress and read what it still sends; a child that does not end it in STOP_WAIT_S
        (or a broken pipe) is terminated."""
        try:
            self._conn.send(("stop",))
            end = time.monotonic() + STOP_WAIT_S
            while self._conn.poll(max(0.0, end - time.monotonic())):
                kind = self._conn.recv()[0]
                if kind == "more":
                    continue  # its ("stop",) is already on its way
                if kind in ("done", "failed"):
                    return
        except (EOFError, OSError):
            pass
        self.close()

    def close(self) -> None:
        """End the process (at once: its frames in hand are dropped)."""
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(0.5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2)
        self._conn.close()

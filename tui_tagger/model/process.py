"""The model in a process of its own (``ModelProcess``), for the TUI's ``p``: torch, the model's Python between
its batches and the reading of results never take the UI process's GIL. In a thread of the UI's process they
did: on 2 cores, holding Down while ``p`` ran gave p90 28-116 ms per key against 9-13 ms without ``p``, the UI
thread's slices up 50 % from waiting for the GIL (README, "Instant keys").

The process is started from the fork server (a clean one-thread process: a fork of the many-threaded UI copies
locks another thread held), lowered by ``nice``, loads the model once and serves runs until it has waited
``IDLE_S`` for one, or the parent goes. No torch is imported in this module: the parent never needs it.

It also serves the CNN features of the live head (``embed_paths``): the same model, the same GIL problem.

``stream`` serves the followed folder's frames one at a time (``ProcessStream``).

Messages, parent -> child: ("predict" or "embed", paths, batch, workers), ("stream", batch, workers, in_flight)
then ("submit", ref, id) per frame, ("paths", paths) after the child's ("more",),
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
        if not task or task[0] not in ("predict", "embed", "stream"):
            return
        try:
            if task[0] == "stream":
                _serve_stream(conn, predictor, *task[1:])
            else:
                _run(conn, predictor, *task)
        except (EOFError, OSError, BrokenPipeError):
            return


def _one_line(err: Exception) -> str:
    """What a failed run or stream says in the app: a TaggerError's own line, else the exception's."""
    return str(err) if isinstance(err, TaggerError) else f"prediction failed: {type(err).__name__}: {err}"


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
            conn.send(("failed", _one_line(err)))
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


def _serve_stream(conn, predictor, batch: int, workers: int | None, in_flight: int) -> None:
    """The followed folder's frames: ("submit", ref, id) in, ("results", [(id, Result)]) out as they finish
    (``model.stream.StreamPredictor``: decoding workers, batches gathered), until ("stop",)."""
    from tui_tagger.model.stream import StreamPredictor

    stream = StreamPredictor(predictor, batch, workers, in_flight)
    try:
        while True:
            while conn.poll(0 if len(stream) else 0.2):  # idle: wait for a frame (or the stop)
                message = conn.recv()
                if message[0] != "submit":
                    conn.send(("done", 0))
                    return
                stream.submit(message[1], message[2])
            if len(stream):
                try:
                    out = stream.results(wait=0.05)
                except Exception as err:  # noqa: BLE001 - the stream fails with one line; the process serves on
                    conn.send(("failed", _one_line(err)))
                    return
                if out:
                    conn.send(("results", out))
    finally:
        stream.close()


class ProcessInfo(SimpleNamespace):
    """The model's ``checkpoint.ModelInfo`` as far as its users here read it (name, path, thresholds), without
    torch: ``ModelInfo`` itself lives with torch."""

    def __init__(self, name: str, path: str, thresholds: dict[str, float]):
        super().__init__(name=name, path=path, thresholds=dict(thresholds))

    def threshold(self, tag: str, default: float = 0.5) -> float:
        return float(self.thresholds.get(tag, default))


class ProcessStream:
    """``ui.predict.open_stream``'s interface (``submit(ref, token)``, ``results(wait)``, ``full()``, ``len()``,
    ``close()``, ``in_flight``) over a ``ModelProcess``: the tokens stay here, the frames go by number."""

    def __init__(self, owner: "ModelProcess", batch: int, workers: int | None, in_flight: int):
        if not owner.alive():
            raise TaggerError("the model process is busy or has ended")
        self.owner, self.in_flight = owner, in_flight
        self._tokens: dict[int, Any] = {}
        self._next = 0
        owner._busy = True
        owner._conn.send(("stream", batch, workers, in_flight))

    def __len__(self) -> int:
        return len(self._tokens)

    def full(self) -> bool:
        return len(self._tokens) >= self.in_flight

    def submit(self, ref: str, token: Any = None) -> None:
        self._tokens[self._next] = token
        self.owner._conn.send(("submit", ref, self._next))
        self._next += 1

    def results(self, wait: float = 0.0) -> list:
        out: list = []
        conn = self.owner._conn
        if not conn.poll(wait if self._tokens else 0):
            return out
        while conn.poll(0):
            message = self.owner._recv()
            if message[0] == "failed":
                raise TaggerError(message[1])
            out += [(self._tokens.pop(i), result) for i, result in message[1]]
        return out

    def close(self) -> None:
        """Stop: the frames in hand are dropped; the process serves on (or is ended if it does not stop)."""
        if self.owner._busy:
            self.owner._stop()
            self.owner._busy = False


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
        self.info = ProcessInfo(meta["name"], meta["path"], meta["thresholds"])
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

    def stream(self, batch: int = 32, workers: int | None = None, in_flight: int | None = None) -> ProcessStream:
        """Frames submitted one at a time (the followed folder), predicted in the process (``ProcessStream``)."""
        return ProcessStream(self, max(1, batch), workers, in_flight or max(8, 2 * max(1, batch)))

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
                # results and a run's ("more",) (its ("stop",) is on its way) are dropped until the end
                if self._conn.recv()[0] in ("done", "failed"):
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

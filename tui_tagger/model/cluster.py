"""The model core on a Dask cluster (``dask.distributed``): predict and extract features on workers (GPU
nodes), this process (a login node, a beamline workstation, the TUI) the client.

How a run goes: the client cuts the image refs into batches of *paths* (never pixels) and submits one task
per batch; each task runs the local per-batch function on its worker (``LocalPredictor.predict_paths`` /
``embed_paths``, decoding in the worker from the shared file system) with the model loaded once per worker
process (``_worker_predictor``, cached per model, device and heads), and sends back the small results. The
client takes them in the order they complete and is the only one that writes anything (tag files, the
feature cache). At most a few batches per worker thread are in flight, so a million frames stream.

What the client sends the workers: the model's path, content digest, device and physics switch and the
heads the client loaded (``_Spec``, scattered once per run); a worker that sees another model file under
that path refuses (the workers must share the client's file system). Dask's own retries finish a run when a
worker dies (its batches re-run on the others; ``distributed.scheduler.allowed-failures``); a batch on which
every try killed its worker comes back as one error line per frame. A scheduler that does not answer, or
no workers within ``TUI_TAGGER_SCHEDULER_TIMEOUT`` seconds (default 10): a one-line ``TaggerError`` naming
the address, never a hang.

``dask.distributed`` is an optional extra (``pip install "tui-tagger[cluster]"``), imported only here and
only when a cluster is asked for. Entry points: ``open_cluster(scheduler, cluster)`` (the ``--scheduler`` /
``--cluster`` options and ``$TUI_TAGGER_SCHEDULER``) -> ``Cluster`` (connects on first use), then
``Cluster.predictor(...)`` (a ``RemotePredictor``: ``predict_indexed`` in completion order, ``predict_paths``
in input order, ``stream()`` for frames that arrive one by one, as ``watch`` has them: ``RemoteStream``, the
interface of ``model.stream.StreamPredictor``), ``Cluster.embed_indexed`` and ``Cluster.map_indexed``
(features)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from tui_tagger.core.errors import TaggerError

ENV = "TUI_TAGGER_SCHEDULER"
TIMEOUT_ENV = "TUI_TAGGER_SCHEDULER_TIMEOUT"
DEFAULT_TIMEOUT = 10.0
INSTALL = 'pip install "tui-tagger[cluster]"'
_POLL = 0.5  # seconds between checks that the scheduler and some workers are still there
_HOST_PORT = re.compile(r"^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$")


def distributed_module():
    """``dask.distributed``, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise TaggerError(f"a Dask cluster (--scheduler, --cluster, ${ENV}) needs dask.distributed, "
                          f"which is not installed: {INSTALL}") from None
    return distributed


def timeout_s() -> float:
    """How long to wait for a scheduler to answer or for workers to join (``TUI_TAGGER_SCHEDULER_TIMEOUT``)."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise TaggerError(f"{TIMEOUT_ENV}={text!r}: not a number of seconds above 0")
    return value


def local_workers(text: str) -> int:
    """``local`` (one worker per core) or ``local:N`` -> N; anything else is a one-line error."""
    name, _, count = text.strip().partition(":")
    if name != "local":
        raise TaggerError(f"--cluster {text!r}: expected local or local:N (N worker processes on this machine)")
    if not count:
        return max(1, os.cpu_count() or 1)
    if not count.isdigit() or int(count) < 1:
        raise TaggerError(f"--cluster {text!r}: N must be a whole number of at least 1")
    return int(count)


def scheduler_address(spec: str) -> str:
    """The scheduler's address from ``--scheduler``: ``tcp://HOST:PORT`` (any Dask protocol), ``HOST:PORT``,
    or the JSON scheduler file ``dask scheduler --scheduler-file FILE`` writes (its ``address``)."""
    spec = spec.strip()
    if "://" in spec:
        return spec
    path = Path(spec)
    if os.path.lexists(path):
        from tui_tagger.core.regular import read_regular

        try:
            data, _ = read_regular(path, 1 << 20)
        except OSError as err:
            raise TaggerError(f"{spec}: cannot read the scheduler file: {err.strerror or err}") from None
        try:
            address = json.loads(data.decode("utf-8")).get("address")
        except (UnicodeDecodeError, ValueError, AttributeError):
            address = None
        if not isinstance(address, str) or not address:
            raise TaggerError(f"{spec}: not a Dask scheduler file (JSON with an \"address\", as "
                              "`dask scheduler --scheduler-file FILE` writes)")
        return address
    if _HOST_PORT.match(spec):
        return f"tcp://{spec}"
    raise TaggerError(f"--scheduler {spec!r}: no such scheduler file, and not an address (tcp://HOST:PORT)")


def open_cluster(scheduler: str | None = None, cluster: str | None = None,
                 env: dict[str, str] | None = None) -> "Cluster | None":
    """The cluster the options ask for (``--cluster local[:N]``, ``--scheduler ADDRESS|FILE``, else
    ``$TUI_TAGGER_SCHEDULER``), not yet connected; None for local work. The options are checked here
    (a bad one is a one-line error); the connection is made on first use."""
    env = os.environ if env is None else env
    if scheduler and cluster:
        raise TaggerError("give --scheduler or --cluster, not both")
    if cluster:
        n = local_workers(cluster)
        distributed_module()
        return Cluster(None, local=n)
    spec = scheduler or env.get(ENV, "").strip()
    if not spec:
        return None
    distributed_module()
    return Cluster(scheduler_address(spec))


class Cluster:
    """A Dask scheduler (``address``) or a LocalCluster of ``local`` worker processes started on first use.
    ``close()`` (or ``with``) disconnects and stops a LocalCluster this object started."""

    def __init__(self, address: str | None, local: int | None = None):
        self.address = address or f"local:{local}"
        self.local = local
        self._client = None
        self._local_cluster = None
        self._lock = threading.Lock()  # the TUI's threads may ask for the client at once: one connection
        self.timeout = timeout_s()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- connection ---------------------------------------------------------------------------------------
    @property
    def client(self):
        """The ``distributed.Client``, connected (and a LocalCluster started) on first use, with at least
        one worker; else a one-line error naming the address."""
        with self._lock:
            if self._client is not None and self.local is None and \
                    getattr(self._client, "status", "running") in ("closing", "closed", "failed"):
                lost, self._client = self._client, None  # the scheduler went away (a TUI's next p): connect anew
                try:
                    lost.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
            if self._client is None:
                self._connect()
            return self._client

    def _connect(self) -> None:
        import logging

        distributed = distributed_module()
        if self.local is not None:
            try:
                self._local_cluster = distributed.LocalCluster(
                    n_workers=self.local, threads_per_worker=1, processes=True, dashboard_address=":0",
                    silence_logs=logging.ERROR)
            except Exception as err:  # noqa: BLE001 - ports, spawn failures: one line
                raise TaggerError(f"--cluster local:{self.local}: cannot start the workers: "
                                  f"{' '.join(str(err).split()) or type(err).__name__}") from None
            self.address = self._local_cluster.scheduler_address
            target = self._local_cluster
        else:
            target = self.address
            _probe_tcp(self.address, self.timeout)
        try:
            client = _client_class(distributed)(target, timeout=self.timeout, set_as_default=False)
        except Exception as err:  # noqa: BLE001 - OSError, TimeoutError, ValueError (a bad protocol): one line
            self.close()
            if isinstance(err, TimeoutError) or "timed out" in str(err).lower():
                reason = f"no answer within {self.timeout:g} s; ${TIMEOUT_ENV} sets the wait"
            else:
                reason = "something answered that is not a Dask scheduler"
            raise TaggerError(f"{self.address}: cannot connect to a Dask scheduler ({reason})") from None
        self._client = client
        # a lost scheduler or worker is reported once, as our own one line: distributed's client-side logs
        # (tracebacks of closed connections, "failed to reconnect") would repeat it on stderr
        for name in ("distributed", "distributed.client"):  # dask's logging config sets the second apart
            logging.getLogger(name).setLevel(logging.CRITICAL)
        try:
            client.wait_for_workers(1, timeout=self.timeout)
        except Exception:  # noqa: BLE001 - TimeoutError
            self.close()
            raise TaggerError(f"{self.address}: the scheduler has no workers (none joined within "
                              f"{self.timeout:g} s; start some with `dask worker {self.address}`)") from None

    def workers(self) -> dict[str, dict]:
        """The scheduler's current workers (address -> its info), as the client last heard."""
        try:
            return dict(self.client.scheduler_info().get("workers", {}))
        except Exception:  # noqa: BLE001 - a closing client
            return {}

    def threads(self) -> int:
        return sum(int(w.get("nthreads", 1) or 1) for w in self.workers().values())

    def describe(self) -> str:
        """Where the model runs, for a status line: ``3 workers, 1 GPU @ tcp://host:8786`` (imports torch on
        the workers to count their GPUs: distinct GPUs by host and device)."""
        try:
            found = self.client.run(_gpu_probe)
        except Exception:  # noqa: BLE001 - a worker that left meanwhile
            found = {}
        gpus = {g for value in found.values() for g in value}
        n = len(self.workers())
        return f"{n} worker{'s' * (n != 1)}, {len(gpus)} GPU{'s' * (len(gpus) != 1)} @ {self.address}"

    def close(self) -> None:
        client, self._client = self._client, None
        local, self._local_cluster = self._local_cluster, None
        for thing in (client, local):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass

    # -- work -----------------------------------------------------------------------------------------------
    def predictor(self, model: str | os.PathLike, device: str = "auto", heads: bool = True,
                  problems: list[str] | None = None, physics: bool | None = None) -> "RemotePredictor":
        """The model ``model`` on the workers (``--device`` resolved on each worker: its GPU under ``auto``).
        The client loads it once on its CPU for the tags, thresholds and heads (a bad model file is a
        one-line error here, before any worker is asked), exactly as ``LocalPredictor.load`` does."""
        from tui_tagger.model.infer import LocalPredictor

        local = LocalPredictor.load(model, "cpu", heads=heads, problems=problems, physics=physics)
        return RemotePredictor(self, local, _spec(model, device, local.physics, local.heads))

    def map_indexed(self, func: Callable[[list[str]], list], refs: list[str], chunk: int = 16,
                    progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any]]:
        """(index into ``refs``, result) for every ref, in completion order: ``func`` (a module-level function,
        list of refs -> one result per ref) runs on the workers over chunks of ``chunk`` refs. A chunk whose
        workers all died gives ``_Failed`` results (``str()`` is the reason)."""
        chunks = _chunks(refs, chunk)
        for k, outcome in self._stream(_map_task, (func,), chunks, progress):
            for j, result in enumerate(outcome if not isinstance(outcome, _Failed) else [outcome] * len(chunks[k][1])):
                yield chunks[k][0] + j, result

    def embed_indexed(self, refs: list[str], model: str | os.PathLike, device: str = "auto", batch: int = 32,
                      progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any, str | None]]:
        """(index into ``refs``, penultimate-layer vector or None, one-line error or None), in completion
        order: ``LocalPredictor.embed_paths`` on the workers (``model.extract_features`` on a cluster)."""
        from tui_tagger.model.checkpoint import load_checkpoint

        load_checkpoint(model, "cpu")  # a bad model file: one line here, not one per batch
        spec = _spec(model, device, False, [])
        chunks = _chunks(refs, batch)
        with self._scattered(spec) as remote:
            for k, outcome in self._stream(_embed_task, (remote, batch), chunks, progress):
                start, paths = chunks[k]
                if isinstance(outcome, _Failed):
                    for j, ref in enumerate(paths):
                        yield start + j, None, f"{ref}: {outcome}"
                    continue
                for j, (vec, error) in enumerate(outcome):
                    yield start + j, vec, error

    # -- the client loop ------------------------------------------------------------------------------------
    def _scattered(self, spec: "_Spec"):
        """The spec on every worker (one copy each, also to workers that join later via their peers)."""
        import contextlib

        client = self.client

        @contextlib.contextmanager
        def held():
            future = client.scatter(spec, broadcast=True, hash=False)
            try:
                yield future
            finally:
                try:
                    future.release()
                except Exception:  # noqa: BLE001 - a closed client
                    pass

        return held()

    def _stream(self, func: Callable, args: tuple, chunks: list[tuple[int, list[str]]],
                progress: Callable[[int], None] | None) -> Iterator[tuple[int, Any]]:
        """(chunk number, its outcome) for every chunk, in completion order; a few chunks per worker
        thread in flight. A model that cannot load on a worker raises (one line); a chunk whose every try
        killed its worker gives ``_Failed``."""
        distributed = distributed_module()
        client = self.client
        finished: queue.SimpleQueue = queue.SimpleQueue()  # futures as they finish (done callbacks)
        running: dict[Any, int] = {}
        following = 0
        frames = [0, sum(len(c[1]) for c in chunks)]  # done, total
        alone_since: float | None = None
        try:
            while following < len(chunks) or running:
                cap = max(2, 2 * self.threads()) + 2
                while following < len(chunks) and len(running) < cap:
                    future = client.submit(func, *args, chunks[following][1], pure=False,
                                           key=f"tui-tagger-{func.__name__.strip('_')}-{_token()}")
                    running[future] = following
                    following += 1
                    future.add_done_callback(finished.put)
                try:
                    future = finished.get(timeout=_POLL)
                except queue.Empty:
                    alone_since = self._check_alive(alone_since, *frames)
                    continue
                alone_since = None
                k = running.pop(future, None)
                if k is None:
                    continue
                outcome = self._take(future, distributed, *frames)
                frames[0] += len(chunks[k][1])
                yield k, outcome
                if progress:  # once the batch's lines are out (a line clears the bar), as a local run does
                    progress(len(chunks[k][1]))
        finally:
            if running:
                try:
                    client.cancel(list(running))
                except Exception:  # noqa: BLE001 - a closed client
                    pass

    def _check_alive(self, since: float | None, done: int, total: int) -> float | None:
        """Nothing finished in the last poll: fine while workers are there; after ``timeout`` seconds with no
        worker (or no scheduler) a one-line error."""
        status = getattr(self._client, "status", "running")
        if status == "running" and self.workers():
            return None
        now = time.monotonic()
        if since is None:
            return now
        if now - since > self.timeout:
            what = "no workers left" if status == "running" else "lost the connection to the scheduler"
            raise TaggerError(f"{self.address}: {what} for {self.timeout:g} s; {done} of {total} images done")
        return since

    def _take(self, future, distributed, done: int, total: int) -> Any:
        """A finished task's outcome; a scheduler gone meanwhile is one line (``done`` of ``total`` images)."""
        lost = TaggerError(f"{self.address}: lost the connection to the scheduler; {done} of {total} images done")
        if future.status == "cancelled":  # never by us while it runs: the scheduler forgot it
            raise lost
        try:
            return self._outcome(future, distributed)
        except (TaggerError, KeyboardInterrupt):
            raise
        except Exception:  # noqa: BLE001 - CommClosedError and the like: the scheduler went away
            raise lost from None

    @staticmethod
    def _outcome(future, distributed) -> Any:
        if future.status == "error":
            err = future.exception()
            if isinstance(err, distributed.KilledWorker):
                return _Failed("every worker that ran this batch died (a frame that crashes the decoder?)")
            return _Failed(f"failed on the cluster: {type(err).__name__}: {' '.join(str(err).split())}")
        outcome = future.result()
        if isinstance(outcome, _LoadFailed):
            raise TaggerError(str(outcome))
        return outcome


def _client_class(distributed):
    """``distributed.Client`` that, when its constructor failed (something answered that is not a scheduler),
    does not spend seconds at exit closing what never opened and print a traceback about it."""

    class Client(distributed.Client):
        _tui_opened = False

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._tui_opened = True

        def __del__(self):
            if self._tui_opened:
                super().__del__()

    return Client


def _probe_tcp(address: str, timeout: float) -> None:
    """A plain TCP connect to a ``tcp://`` scheduler first: an unreachable one is a one-line error at once,
    and no half-made ``distributed.Client`` is left to complain at exit."""
    import socket
    from urllib.parse import urlsplit

    if not address.startswith("tcp://"):
        return
    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None:
        raise TaggerError(f"{address}: not a scheduler address (tcp://HOST:PORT)")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TaggerError(f"{address}: cannot find the host {host!r}") from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.timeout:
        raise TaggerError(f"{address}: no Dask scheduler answered within {timeout:g} s "
                          f"(${TIMEOUT_ENV} sets the wait)") from None
    except OSError as err:
        raise TaggerError(f"{address}: cannot reach the Dask scheduler: {err.strerror or err} "
                          "(is `dask scheduler` running there?)") from None


class RemotePredictor:
    """``LocalPredictor``'s interface (``tags``, ``info``, ``heads``, ``physics``, ``preprocess``, ``device``,
    ``predict_paths``) with the frames decoded and the model run on a cluster's workers.
    ``predict_indexed`` gives (index, result) in completion order (predict, evaluate, the TUI)."""

    def __init__(self, cluster: Cluster, local, spec: "_Spec"):
        self.cluster = cluster
        self.info = local.info
        self.tags = list(local.tags)
        self.heads = list(local.heads)
        self.physics = local.physics
        self.preprocess = dict(local.preprocess)
        self.requested_device = spec.device
        self.device = f"{spec.device} on {cluster.address}"
        self._spec = spec

    def predict_indexed(self, paths: list[str], batch: int = 32, workers: int | None = None,
                        progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, tuple]]:
        """(index into ``paths``, (path, {tag: p} or None, one-line error or None)) for every path, in the
        order the batches complete. ``workers`` (local decoding processes) is not used: workers decode."""
        paths = list(paths)
        chunks = _chunks(paths, batch)
        with self.cluster._scattered(self._spec) as remote:
            for k, outcome in self.cluster._stream(_predict_task, (remote, batch), chunks, progress):
                start, part = chunks[k]
                if isinstance(outcome, _Failed):
                    for j, ref in enumerate(part):
                        yield start + j, (ref, None, f"{ref}: {outcome}")
                    continue
                for j, result in enumerate(outcome):
                    yield start + j, result

    def stream(self, batch: int = 32, in_flight: int | None = None) -> "RemoteStream":
        """Frames submitted one at a time (``watch``): ``model.stream.StreamPredictor``'s interface."""
        return RemoteStream(self, batch, in_flight)

    def predict_arrays(self, batch):
        raise TaggerError("a cluster predicts from paths its workers read, never from pixel arrays sent to it")

    def predict_paths(self, paths: list[str], batch: int = 32, workers: int | None = None,
                      progress: Callable[[int], None] | None = None) -> Iterator[tuple]:
        """One result per path, in input order (``Predictor``'s contract); ``predict_indexed`` streams."""
        waiting: dict[int, tuple] = {}
        following = 0
        for i, result in self.predict_indexed(paths, batch, workers, progress):
            waiting[i] = result
            while following in waiting:
                yield waiting.pop(following)
                following += 1


class RemoteStream:
    """``model.stream.StreamPredictor``'s interface (``submit(ref, token)``, ``results(wait)``, ``drain()``,
    ``full()``, ``len()``, ``close()``) on a cluster, for frames that come one at a time (``watch``, a TUI
    worker): the refs submitted since the last batch went out are sent as one batch (at most ``batch``) as
    soon as a worker thread is free, never waiting for a batch to fill; ``results`` gives
    [(token, (ref, {tag: p} or None, error or None))] of the batches finished so far, in the order they
    finish."""

    def __init__(self, predictor: RemotePredictor, batch: int = 32, in_flight: int | None = None):
        self.predictor = predictor
        self.cluster = predictor.cluster
        self.batch = max(1, int(batch))
        self.in_flight = in_flight or max(4, 4 * self.batch)
        self._held = self.cluster._scattered(predictor._spec)
        self._spec = self._held.__enter__()
        self._unsent: list[tuple[Any, str]] = []
        self._running: dict[Any, list[tuple[Any, str]]] = {}
        self._finished: queue.SimpleQueue = queue.SimpleQueue()
        self._count = 0  # submitted, not yet returned
        self._done = 0
        self._alone_since: float | None = None

    def __len__(self) -> int:
        return self._count

    def full(self) -> bool:
        return self._count >= self.in_flight

    def submit(self, ref: str, token: Any = None) -> None:
        self._unsent.append((token, ref))
        self._count += 1
        self._send()

    def _send(self) -> None:
        cap = max(2, 2 * self.cluster.threads()) + 2
        while self._unsent and (len(self._running) < cap or len(self._unsent) >= self.batch):
            part, self._unsent = self._unsent[: self.batch], self._unsent[self.batch:]
            future = self.cluster.client.submit(_predict_task, self._spec, self.batch, [ref for _, ref in part],
                                                pure=False, key=f"tui-tagger-stream-{_token()}")
            self._running[future] = part
            future.add_done_callback(self._finished.put)

    def results(self, wait: float = 0.0) -> list[tuple[Any, tuple]]:
        """The frames of every batch finished so far (waiting up to ``wait`` seconds for one)."""
        self._send()
        if not self._running:
            return []
        distributed = distributed_module()
        out: list[tuple[Any, tuple]] = []
        try:
            future = self._finished.get(timeout=wait) if wait > 0 else self._finished.get_nowait()
        except queue.Empty:
            self._alone_since = self.cluster._check_alive(self._alone_since, self._done, self._done + self._count)
            return out
        self._alone_since = None
        while True:
            part = self._running.pop(future, None)
            if part is not None:
                outcome = self.cluster._take(future, distributed, self._done, self._done + self._count)
                if isinstance(outcome, _Failed):
                    out += [(token, (ref, None, f"{ref}: {outcome}")) for token, ref in part]
                else:
                    out += [(token, result) for (token, _), result in zip(part, outcome)]
                self._count -= len(part)
                self._done += len(part)
            try:
                future = self._finished.get_nowait()
            except queue.Empty:
                break
        self._send()
        return out

    def drain(self, timeout: float | None = None) -> list[tuple[Any, tuple]]:
        """Every submitted frame's result (the frames in hand when a watch stops)."""
        out = []
        end = None if timeout is None else time.monotonic() + timeout
        while self._count and (end is None or time.monotonic() < end):
            self._send()
            out += self.results(wait=0.1)
        return out

    def close(self) -> None:
        running, self._running = list(self._running), {}
        if running:
            try:
                self.cluster.client.cancel(running)
            except Exception:  # noqa: BLE001 - a closed client
                pass
        self._held.__exit__(None, None, None)

    def __enter__(self) -> "RemoteStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def indexed(predictor, paths: list[str], batch: int = 32, workers: int | None = None,
            progress: Callable[[int], None] | None = None) -> Iterator[tuple[int, tuple]]:
    """(index, (path, probabilities, error)) from any predictor: in completion order from a cluster's, in
    input order from a local one. What predict and evaluate loop over."""
    if hasattr(predictor, "predict_indexed"):
        return predictor.predict_indexed(paths, batch, workers, progress)
    return enumerate(predictor.predict_paths(paths, batch, workers, progress))


# -- what travels ----------------------------------------------------------------------------------------------
@dataclass
class _Spec:
    """What a worker needs to load the client's model: small and picklable (heads are a few KiB each)."""

    model: str  # absolute path on the shared file system
    digest: str  # content hash: a worker that sees another file refuses
    device: str
    physics: bool
    heads: list = field(default_factory=list)
    token: str = ""  # the worker's cache key: same model, device, physics and heads -> loaded once

    def __post_init__(self) -> None:
        if not self.token:
            h = hashlib.sha256(f"{self.model}\0{self.digest}\0{self.device}\0{self.physics}".encode())
            h.update(pickle.dumps(self.heads))
            self.token = h.hexdigest()[:24]


def _spec(model: str | os.PathLike, device: str, physics: bool, heads: list) -> _Spec:
    from tui_tagger.model.headfile import model_digest

    return _Spec(os.path.abspath(model), model_digest(model), device or "auto", bool(physics), list(heads))


class _Failed(str):
    """A batch that did not run (its workers died, a task error): the reason, shown per frame."""


class _LoadFailed(str):
    """The model did not load on a worker: the whole run stops with this line."""


def _chunks(refs: list[str], size: int) -> list[tuple[int, list[str]]]:
    """(start, refs[start:start+size]) slices: the same batches a local run makes, so results match."""
    size = max(1, int(size))
    return [(start, list(refs[start:start + size])) for start in range(0, len(refs), size)]


_counter = iter(range(1 << 62))
_counter_lock = threading.Lock()


def _token() -> str:
    with _counter_lock:
        return f"{os.getpid()}-{time.time_ns()}-{next(_counter)}"


# -- on the workers ----------------------------------------------------------------------------------------------
_LOADED: dict[str, Any] = {}  # spec token -> LocalPredictor, per worker process (the last two)
_LOAD_LOCK = threading.Lock()


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:  # noqa: BLE001 - not in a worker (tests)
        return f"pid {os.getpid()}"


_TUNED: list[bool] = []


def _tune_malloc() -> None:
    """Once per worker process: give glibc back its large-block heap. Dask's nanny starts workers with
    ``MALLOC_TRIM_THRESHOLD_=65536``, and setting it turns off glibc's dynamic mmap threshold: every array of
    128 KiB or more (a frame, its preprocessed copy, a batch) is then a fresh mmap, zeroed page by page. That
    cost 15.2 instead of 9.1 CPU ms per 1024x1024 frame (the same frames and model in one process, with and
    without the variable); mmap only from 32 MiB and trim the heap from 256 MiB brings it back to 8.6.
    Workers here hold no data between tasks, so the memory dask's setting saves is not at stake."""
    if _TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    _TUNED.append(True)
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to undo
        pass


def _worker_predictor(spec: _Spec):
    """The spec's model in this worker process, loaded once (threads of one worker share it)."""
    with _LOAD_LOCK:
        found = _LOADED.get(spec.token)
        if found is not None:
            return found
        _tune_malloc()
        from tui_tagger.model.headfile import model_digest
        from tui_tagger.model.infer import LocalPredictor

        if model_digest(spec.model) != spec.digest:
            raise TaggerError(f"{spec.model}: this worker sees another file than the client under that "
                              "name (the workers need the client's file system)")
        predictor = LocalPredictor.load(spec.model, spec.device, heads=False, physics=spec.physics)
        if spec.heads:
            predictor.set_heads(spec.heads)
        while len(_LOADED) >= 2:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[spec.token] = predictor
        return predictor


def _loaded(spec: _Spec):
    try:
        return _worker_predictor(spec)
    except TaggerError as err:
        return _LoadFailed(f"on worker {_worker_name()}: {err}")
    except Exception as err:  # noqa: BLE001 - CUDA out of memory, a broken install: still one line
        return _LoadFailed(f"on worker {_worker_name()}: cannot load {spec.model}: {type(err).__name__}: "
                           f"{' '.join(str(err).split())}")


def _predict_task(spec: _Spec, batch: int, paths: list[str]):
    """One batch of paths: ``LocalPredictor.predict_paths`` on this worker (decoding in this process)."""
    predictor = _loaded(spec)
    if isinstance(predictor, _LoadFailed):
        return predictor
    return list(predictor.predict_paths(paths, batch, 0))


def _embed_task(spec: _Spec, batch: int, paths: list[str]):
    predictor = _loaded(spec)
    if isinstance(predictor, _LoadFailed):
        return predictor
    return [(vec, error) for _, vec, error in predictor.embed_paths(paths, batch, 0)]


def _map_task(func: Callable[[list[str]], list], paths: list[str]) -> list:
    with _LOAD_LOCK:
        _tune_malloc()
    return list(func(paths))


def _gpu_probe() -> list[tuple[str, str]]:
    """This worker's GPUs as (host, CUDA device UUID or index): counted once however many workers share one."""
    import socket

    try:
        import torch

        if not torch.cuda.is_available():
            return []
        out = []
        for i in range(torch.cuda.device_count()):
            uuid = getattr(torch.cuda.get_device_properties(i), "uuid", None)
            out.append((socket.gethostname(), str(uuid) if uuid is not None else f"{i}"))
        return out
    except Exception:  # noqa: BLE001
        return []

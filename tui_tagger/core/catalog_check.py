"""The catalog's change check in a child process, so that a viewer's keys never wait for it.

The check stats every file of the folder (a million frames: two million stat calls) and parses what
changed; in a thread of the viewer's own process that work would hold the GIL between system calls and
slow every key. Here a child process runs ``Catalog.changes()`` (it writes the index itself) and sends
each change as one JSON line; the parent's reading thread only waits on the pipe and decodes the few
lines of what changed.

    check = BackgroundCheck(root, tags_dir=None, cache_dir=None, sweep_temps_before=None, nice=0)
    for change in check:          # in a worker thread: Change("changed", path, Entry) / ("removed", path, None)
        ...
    check.problems                # folders that could not be listed, once the iteration ended
    check.close()                 # stop early (the index stays consistent)

``python -m tui_tagger.core.catalog_check ROOT [--tags-dir D] [--cache-dir D] [--quick] [--nice N]`` is the child.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator

from tui_tagger.core.catalog import Catalog, Change, Entry
from tui_tagger.core.errors import TaggerError

_FIELDS = ("path", "rel", "size", "mtime_ns", "format", "tag_path", "tags", "predictions", "error", "tag_error")


class BackgroundCheck:
    """Iterate for the ``Change`` objects of the folder's change check, run in a child process."""

    def __init__(self, root: str | os.PathLike, tags_dir: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None, sweep_temps_before: float | None = None,
                 quick: bool = False, nice: int = 0):
        cmd = [sys.executable, "-m", "tui_tagger.core.catalog_check", os.fspath(root)]
        if nice:
            cmd += ["--nice", str(nice)]
        if tags_dir is not None:
            cmd += ["--tags-dir", os.fspath(tags_dir)]
        if cache_dir is not None:
            cmd += ["--cache-dir", os.fspath(cache_dir)]
        if sweep_temps_before is not None:
            cmd += ["--sweep-temps-before", repr(sweep_temps_before)]
        if quick:
            cmd.append("--quick")
        self.problems: list[str] = []
        self.error: str | None = None
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)

    def __iter__(self) -> Iterator[Change]:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            msg = json.loads(line)
            kind = msg["kind"]
            if kind == "changed":
                entry = Entry(**{k: msg["entry"][k] for k in _FIELDS})
                yield Change("changed", entry.path, entry)
            elif kind == "removed":
                yield Change("removed", msg["path"], None)
            elif kind == "problem":
                self.problems.append(msg["text"])
            elif kind == "error":
                self.error = msg["text"]
        self._proc.wait()
        if self._proc.returncode and self.error is None:
            err = self._proc.stderr.read().decode("utf-8", "replace").strip().splitlines() if self._proc.stderr else []
            self.error = f"the change check stopped: {err[-1] if err else f'exit status {self._proc.returncode}'}"
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()


def _send(out, msg: dict) -> None:
    # ASCII JSON: non-UTF-8 names travel as surrogate escapes and come back as they were
    out.write(json.dumps(msg, ensure_ascii=True).encode("ascii") + b"\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tui_tagger.core.catalog_check")
    ap.add_argument("root")
    ap.add_argument("--tags-dir")
    ap.add_argument("--cache-dir")
    ap.add_argument("--sweep-temps-before", type=float)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--nice", type=int, default=0)
    args = ap.parse_args(argv)
    if args.nice and hasattr(os, "nice"):
        os.nice(args.nice)
    out = sys.stdout.buffer
    try:
        cat = Catalog(args.root, tags_dir=args.tags_dir, cache_dir=args.cache_dir)
        cat.sweep_temps_before = args.sweep_temps_before
        for change in cat.changes(quick=args.quick):
            if change.kind == "changed":
                e = change.entry
                _send(out, {"kind": "changed", "entry": {k: getattr(e, k) for k in _FIELDS}})
            else:
                _send(out, {"kind": "removed", "path": change.path})
        for problem in cat.problems:
            _send(out, {"kind": "problem", "text": problem})
        cat.close()
    except TaggerError as err:
        _send(out, {"kind": "error", "text": str(err)})
    except BrokenPipeError:  # the viewer stopped reading: it closed us
        return 0
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

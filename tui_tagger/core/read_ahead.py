"""A cold scan's reads done ahead in worker processes: the folders no walk has listed yet (a first scan, new
run folders) are probed and their tag files parsed by ``python -m tui_tagger.core.read_ahead`` children
while the walk works through the folders before them; the walk's own process is left the stats, the merge
with the index and the writes, and takes an answer only while the file's size and mtime are what the
worker saw (``Catalog``'s ``_Walk``).

Children, not ``multiprocessing``: its spawned workers re-run the caller's main script (a script without
a ``__main__`` guard would scan again in each), and forking a process that has threads (the TUI scans
from one) is unsafe. Each child answers its requests in order: one JSON line in (the folder's path with a
trailing separator, as the walk spells it), one length-prefixed pickle out.

    ahead = ReadAhead(tags=True)
    ahead.add([prefix, ...], probed)   # folders the walk goes through next, in walk order
    answers = ahead.take(prefix, probed)  # the folder's answers, or None (the walk reads it itself)
    ahead.close()
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

# At most one child per core, the walk's own process besides; started once the walk has probed this many
# files itself (a big cold scan, not a few new files), and only onto idle cores: on a machine already busy
# the children only add their own cost (measured on a 2-core VM at load 14: 100k frames cold, 24-25 s
# with none, 27-30 s with two, 30-36 s with three; the children's pickling and second listing cost ~30%
# more CPU in all).
WORKERS = min(4, os.cpu_count() or 1)
START_AFTER = 2000


def idle_cores() -> int:
    """Cores no other process keeps busy: the core count less the load average besides our own process."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 0
    return int((os.cpu_count() or 1) - max(0.0, load - 1.0) + 0.5)
_LEN = struct.Struct("<Q")


def read_folder(prefix: str, tags: bool) -> dict[str, tuple]:
    """What a walk will want of the folder ``prefix``: per image name (size, mtime_ns, ``probe_problem``'s
    answer) and, with ``tags``, per tag file beside a single-frame image (size, mtime_ns, ``read_tag_file``'s
    answer). Each stat is taken before the read: an answer holds while the stat does."""
    from tui_tagger.core.catalog import read_tag_file, skipped
    from tui_tagger.core.formats import probe_problem
    from tui_tagger.core.tagfile import read_tags
    from tui_tagger.core.tagstore import file_stem

    out: dict[str, tuple] = {}
    try:
        with os.scandir(prefix) as it:
            listing = {e.name: e for e in it}
    except OSError:
        return out
    for name, e in listing.items():
        if name[0] == "." or skipped(name, listing):
            continue
        path = prefix + name
        try:
            if e.is_dir():
                continue
            st = os.stat(path)
        except OSError:
            continue
        got = probe_problem(path)
        out[name] = (st.st_size, st.st_mtime_ns, got)
        if not tags or got[0] is None or got[1] != [path]:
            continue
        stem = file_stem(name)
        for tag_name in (stem + ".tag", stem + ".xml"):  # TagStore's order, as the walk's candidates
            if tag_name in listing:
                try:
                    tst = os.stat(prefix + tag_name)
                except OSError:
                    continue
                out[tag_name] = (tst.st_size, tst.st_mtime_ns, read_tag_file(read_tags, prefix + tag_name))
                break
    return out


class ReadAhead:
    """Folders handed to ``WORKERS`` children in walk order, a few ahead of the walk."""

    def __init__(self, tags: bool):
        self.tags = tags
        self.queue: list[str] = []  # folder prefixes in walk order, not sent yet
        self.sent: dict[str, int] = {}  # prefix -> the child it went to
        self.order: list[list[str]] = []  # per child: prefixes sent, answers not read yet
        self.answers: dict[str, dict] = {}  # read, not taken yet
        self.children: list[subprocess.Popen] = []
        self.next = 0
        self.off = False

    def add(self, prefixes: list[str], probed: int) -> None:
        """Sub-folders of the folder just listed: the walk goes through them before what was queued.
        ``probed``: files the walk probed itself so far (the children start once it is ``START_AFTER``)."""
        if not self.off:
            self.queue[:0] = prefixes
            self.fill(probed)

    def take(self, prefix: str, probed: int) -> dict | None:
        """The answers for this folder (None: not read ahead; the walk reads it itself)."""
        child = self.sent.pop(prefix, None)
        if child is None and prefix in self.queue:  # its turn came before its read-ahead's
            self.queue.remove(prefix)
        self.fill(probed)
        if child is None:
            return None
        try:
            while prefix not in self.answers:
                self.answers[self.order[child].pop(0)] = self.receive(self.children[child])
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):
            self.close()  # a child died: the walk reads the rest itself
            self.off = True
            return None
        return self.answers.pop(prefix)

    def start(self) -> None:
        cmd = [sys.executable, "-m", "tui_tagger.core.read_ahead"]
        # the children run this very package, wherever the caller found it
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH"))
                                                           if p)}
        n = min(WORKERS, idle_cores())
        if n < 1:
            self.off = True  # no core to spare: the walk reads every folder itself
            return
        try:
            for _ in range(n):
                self.children.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                      stderr=subprocess.DEVNULL, env=env))
                self.order.append([])
        except OSError:
            self.close()
            self.off = True

    def fill(self, probed: int) -> None:
        if not self.children and not self.off and probed >= START_AFTER and self.queue:
            self.start()
        while self.children and self.queue and len(self.sent) < 2 * len(self.children) + 2:
            prefix = self.queue.pop(0)
            child = self.next
            self.next = (self.next + 1) % len(self.children)
            line = json.dumps([prefix, self.tags], ensure_ascii=True) + "\n"
            try:
                self.children[child].stdin.write(line.encode("ascii"))
                self.children[child].stdin.flush()
            except OSError:
                self.close()
                self.off = True
                return
            self.sent[prefix] = child
            self.order[child].append(prefix)

    @staticmethod
    def receive(child: subprocess.Popen) -> dict:
        head = child.stdout.read(_LEN.size)
        if len(head) < _LEN.size:
            raise EOFError
        (n,) = _LEN.unpack(head)
        data = child.stdout.read(n)
        if len(data) < n:
            raise EOFError
        return pickle.loads(data)  # from our own child

    def close(self) -> None:
        self.queue.clear()
        self.sent.clear()
        self.answers.clear()
        for child in self.children:
            try:
                child.stdin.close()  # its loop ends
            except OSError:
                pass
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            child.stdout.close()
        self.children, self.order = [], []


def main() -> int:
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        prefix, tags = json.loads(line)
        data = pickle.dumps(read_folder(prefix, tags), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            out.write(_LEN.pack(len(data)) + data)
            out.flush()
        except BrokenPipeError:  # the walk is done with us
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

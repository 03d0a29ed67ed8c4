"""kill -9 while tagging and saving, two sessions open on one folder: is any correction lost?

Two session "slots" work on one folder at once, each in its own process running the TUI's Session (the
scan, the journal, restores and saves as the app does them; no screen). Every so often one of them is
killed with SIGKILL, at a random moment (in a correction, in a save, in a restore), and a new process
takes its slot: it offers itself the orphaned corrections (restores them, as pressing Enter at the prompt
does), then goes on. Each process prints a line for every correction *after* the Session call returned
(the moment a key press is handled), so the parent holds a record of every acknowledged correction.

At the end a last session restores whatever is orphaned and saves; then every tag file is read and checked
against that record:
  lost       an acknowledged correction whose result is not in the tag files
  duplicated a tag written twice in one file
  corrupt    a tag file that no longer parses
Slot 0 corrects the even images, slot 1 the odd ones, so that "the last correction of an image's tag"
is well defined; tags are added once and removed at most once.

    python benchmarks/bench_kills.py --kills 1000
"""

from __future__ import annotations

import argparse
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def worker(root: Path, slot: int, seed: int) -> None:
    """One session process: restore what is orphaned, then correct and save until killed."""
    from tui_tagger.ui import backend
    from tui_tagger.ui.session import Session

    rng = random.Random(seed)
    s = Session(root)
    s.journal.start()
    s.add_entries(list(backend.catalog(root, None).scan()))
    pending = s.pending_journal()
    if pending:
        s.restore(pending)
    mine = [r.path for r in sorted(s.rows, key=lambda r: r.rel)][slot::2]
    print("ready", flush=True)
    n = 0
    while True:
        path = rng.choice(mine)
        row = s.row(path)
        present = [t for t in s.tags(row) if t.startswith(f"K{slot}")]
        if present and rng.random() < 0.3:
            tag, value = rng.choice(present), False
        else:
            tag, value = f"K{slot}{seed:06d}{n:05d}", True
            n += 1
        s.set_tag([path], tag, value)
        print(f"A\t{path}\t{tag}\t{int(value)}", flush=True)  # acknowledged: the call returned
        if rng.random() < 0.15:
            s.save()
        time.sleep(rng.uniform(0, 0.01))


def make_folder(root: Path, n: int) -> None:
    import numpy as np
    import tifffile

    root.mkdir(parents=True)
    for i in range(n):
        tifffile.imwrite(root / f"img{i:03d}.tif", np.full((16, 16), i, np.uint16))


class Slot:
    def __init__(self, root: Path, slot: int, env: dict):
        self.root, self.slot, self.env = root, slot, env
        self.proc: subprocess.Popen | None = None
        self.buf = b""

    def start(self, seed: int) -> None:
        self.proc = subprocess.Popen([sys.executable, str(HERE), "--worker", str(self.root), str(self.slot),
                                      str(seed)], stdout=subprocess.PIPE, env=self.env)
        self.buf = b""

    def drain(self, acked: list) -> None:
        fd = self.proc.stdout.fileno()
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            parts = line.decode("utf-8", "surrogateescape").split("\t")
            if parts[0] == "A":
                acked.append((parts[1], parts[2], parts[3] == "1"))

    def kill(self, acked: list) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.drain(acked)  # what it wrote before it died is still in the pipe
        self.proc.stdout.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), int(args.worker[1]), int(args.worker[2]))
        return 0

    rng = random.Random(args.seed)
    base = Path(tempfile.mkdtemp(prefix="bench_kills_"))
    root = base / "data"
    make_folder(root, args.images)
    env = dict(os.environ, TUI_TAGGER_CACHE_DIR=str(base / "cache"), TMPDIR=str(base),
               TUI_TAGGER_FSYNC=os.environ.get("TUI_TAGGER_FSYNC", "0"))
    slots = [Slot(root, 0, env), Slot(root, 1, env)]
    acked: list[tuple[str, str, bool]] = []
    seed = 0
    for s in slots:
        seed += 1
        s.start(seed)
    t0 = time.monotonic()
    for k in range(args.kills):
        victim = slots[rng.randrange(2)]
        time.sleep(rng.uniform(0.05, 1.2))  # sometimes mid-start or mid-restore, mostly mid-work
        for s in slots:
            s.drain(acked)
        victim.kill(acked)
        seed += 1
        victim.start(seed)
        if (k + 1) % 100 == 0:
            print(f"  {k + 1} kills, {len(acked)} corrections acknowledged, {time.monotonic() - t0:.0f} s",
                  flush=True)
    for s in slots:
        s.kill(acked)

    # the last session: restore everything orphaned, save
    sys.path.insert(0, str(HERE.parents[1]))
    os.environ.update(TUI_TAGGER_CACHE_DIR=env["TUI_TAGGER_CACHE_DIR"], TMPDIR=env["TMPDIR"])
    tempfile.tempdir = None
    from tui_tagger.core.errors import TaggerError
    from tui_tagger.core.tagstore import TagStore
    from tui_tagger.ui import backend
    from tui_tagger.ui.session import Session

    last = Session(root)
    last.add_entries(list(backend.catalog(root, None).scan()))
    last.restore(last.pending_journal())
    saved, left, errors = last.save()
    last.journal.close()

    want: dict[tuple[str, str], bool] = {}
    for path, tag, value in acked:
        want[(path, tag)] = value
    corrupt = duplicated = 0
    disk: dict[str, set[str]] = {}
    store = TagStore()
    for img in sorted(root.glob("*.tif")):
        try:
            tf = store.load(img)
        except TaggerError:
            corrupt += 1
            continue
        names = [t.name for t in tf.tags.values()] if tf else []
        duplicated += len(names) - len(set(names))
        if tf is not None:
            raw = tf.path.read_bytes()
            duplicated += sum(max(0, raw.count(f">{n}<".encode()) - 1) for n in set(names))
        disk[str(img)] = set(names)
    lost = [(p, t, v) for (p, t), v in want.items() if (t in disk.get(p, set())) != v]
    temps = [p for p in root.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    print(f"kills: {args.kills} (two sessions on {args.images} images, {time.monotonic() - t0:.0f} s)")
    print(f"corrections acknowledged: {len(acked)} ({len(want)} distinct image/tag results)")
    print(f"lost: {len(lost)}   duplicated: {duplicated}   corrupt tag files: {corrupt}")
    print(f"last session: restored and saved {saved} files, {len(left)} clashes, {len(errors)} errors; "
          f"temp files left: {len(temps)}")
    for p, t, v in lost[:10]:
        print(f"  lost: {Path(p).name} {t} {'present' if v else 'absent'}")
    return 1 if lost or corrupt or duplicated else 0


if __name__ == "__main__":
    sys.exit(main())

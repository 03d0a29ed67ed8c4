"""Pilot test, in a fresh process: the live head on the model's features learns from corrections, starting from
the model's own p, and the app's process never imports torch (~216 MB of RSS): the CNN runs in a model process,
the model's head is read from its file (``model.peek``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tui_tagger.core.tagfile import TagFile
from support import arc_frame

RING = "Ring: Oriented z"

SCRIPT = r"""
import asyncio, json, sys
sys.path.insert(0, sys.argv[2])
from support import ready
from tui_tagger.ui.app import TaggerApp

async def main(root):
    app = TaggerApp(root, tag=sys.argv[3], graphics="none", thumbnails=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await ready(app, pilot)
        from tui_tagger.learn.live import prepare
        prepare()  # the imports the app does at the first rest
        app.neg.focus()
        for name in ("f10.tif", "f11.tif", "f13.tif"):  # three corrections: a retrain
            app.neg.select_path(f"{root}/{name}")
            await pilot.press("m")
        for _ in range(1200):
            await pilot.pause(0.05)
            if app.head_status and app.head_status.startswith("learned"):
                break
        print(json.dumps({"status": app.head_status, "torch": "torch" in sys.modules}))

asyncio.run(main(sys.argv[1]))
"""


def test_the_live_head_learns_on_the_models_features_without_torch_in_the_apps_process(tmp_path):
    from tui_tagger.model.locate import shipped_model_paths

    shipped = shipped_model_paths()[0]
    if not shipped.exists():
        pytest.skip("no shipped model in models/")
    pytest.importorskip("torch")  # (the model process needs it)
    import tifffile

    rng = np.random.default_rng(1)
    root = tmp_path / "arcs"
    root.mkdir()
    for i in range(16):
        path = root / f"f{i:02d}.tif"
        tifffile.imwrite(path, arc_frame("z" if i % 3 == 0 else "iso", rng))
        if i in (0, 3, 6, 1, 2, 4):
            tf = TagFile.new(path.with_suffix(".xml"), path.name)
            tf.add(RING if i % 3 == 0 else "Ring: Isotropic", source="human")
            tf.save(fsync=False)
    env = {**os.environ, "TUI_TAGGER_CACHE_DIR": str(tmp_path / "cache"), "TUI_TAGGER_CONFIG_DIR": str(tmp_path / "cfg"),
           "TUI_TAGGER_MODEL": str(shipped), "TUI_TAGGER_HEAD_FEATURES": "cnn"}
    tests = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(root), tests, RING], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"].startswith(f"learned {RING}") and "on the model's p" in out["status"], out
    assert out["torch"] is False

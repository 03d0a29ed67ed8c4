"""The graphics probe (textual-image's kitty query, an APC string) must not leave ``Gi=…,a=q,…`` as the tmux
pane's title: tmux takes APC strings as titles. Run for real in a tmux server of the test's own."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def test_the_graphics_probe_leaves_the_tmux_pane_title_alone(tmp_path):
    go, done = tmp_path / "go", tmp_path / "done"
    script = tmp_path / "probe.py"
    script.write_text(
        "import os, time\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"  # the title is set first
        "from tui_tagger.ui.widgets.image_adapter import probe_terminal\n"
        "probe_terminal()\n"
        f"open({str(done)!r}, 'w').close()\n"
        "import time; time.sleep(30)\n"
    )
    server = ["tmux", "-L", f"tui-tagger-test-{tmp_path.name}", "-f", "/dev/null"]
    subprocess.run([*server, "new-session", "-d", "-x", "80", "-y", "24", "-s", "probe",
                    f"{sys.executable} {script}"], check=True)
    try:
        subprocess.run([*server, "select-pane", "-t", "probe", "-T", "before the probe"], check=True)
        go.touch()
        for _ in range(300):  # until the probe has run (the script says so), at most ~30 s
            if done.exists():
                break
            time.sleep(0.1)
        assert done.exists()
        time.sleep(0.2)  # tmux has read everything the probe wrote before the file appeared
        title = subprocess.run([*server, "display-message", "-p", "-t", "probe", "#{pane_title}"],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert "a=q" not in title and title == "before the probe"
    finally:
        subprocess.run([*server, "kill-server"], capture_output=True)

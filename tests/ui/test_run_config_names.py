"""P and T on a folder whose name is not UTF-8 (another system's encoding): the run's TOML configuration
cannot hold the path, and that is one notice, not a crash of the TUI (the UnicodeEncodeError ended the app)."""

from __future__ import annotations

import os

import pytest

from tui_tagger.core.errors import TaggerError
from tui_tagger.ui import run_options


@pytest.mark.parametrize("kind", ["predict", "train"])
def test_a_config_for_a_non_utf8_folder_is_one_clear_error(tmp_path, kind):
    folder = tmp_path / os.fsdecode(b"run_\xe9t\xe9")
    folder.mkdir()
    path = run_options.config_path(kind, folder)
    table = (run_options.predict_table({}, [str(folder)], None) if kind == "predict"
             else run_options.train_table({}, folder, None))
    with pytest.raises(TaggerError, match="cannot save the configuration: the folder's path is not valid UTF-8"):
        run_options.save(kind, table, path)
    assert not path.exists()

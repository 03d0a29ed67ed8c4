"""Names from the file system reach the terminal literally: escapes are shown, never obeyed."""

import json

import numpy as np
import tifffile

from tui_tagger import cli
from tui_tagger.core.text import printable


def test_printable_makes_controls_visible_and_keeps_layout():
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("x\x9by") == "x\\x9by"  # C1 CSI too
    assert printable("line\n\ttab") == "line\n\ttab"
    assert printable("[bold]not markup[/]") == "[bold]not markup[/]"


def _image(folder, name):
    path = folder / name
    tifffile.imwrite(path, np.arange(64, dtype=np.uint16).reshape(8, 8))
    return path


def test_info_and_search_print_hostile_names_literally(tmp_path, capsys):
    path = _image(tmp_path, "evil\x1b]0;pwned\x07[red]x.tif")
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b]0;pwned\\x07[red]x.tif" in out

    cli.main(["tag", str(path), "--add", "GISAXS"])
    capsys.readouterr()
    assert cli.main(["search", str(tmp_path), "GISAXS"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil\\x1b" in out
    # JSON keeps the real name (escaped the JSON way), for tools
    assert cli.main(["search", str(tmp_path), "GISAXS", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [str(path)]

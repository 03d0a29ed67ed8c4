"""Names from the file system reach the terminal literally: escapes are shown, never obeyed."""

import json
import os
import sys

import numpy as np
import tifffile

from tui_tagger import cli
from tui_tagger.core.tagfile import TagFile
from tui_tagger.core.text import PrintableStream, printable


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


def test_bidi_overrides_and_non_utf8_bytes_are_shown_not_obeyed():
    assert printable("\u202eevil") == "\\u202eevil"  # right-to-left override would reverse the line
    assert printable(os.fsdecode(b"bad\xffname")) == "bad\\xffname"  # the byte, not a broken character


def _hostile_tagged(folder):
    """An image with a non-UTF-8 name, tagged with names that hold a C1 CSI and a bidi override."""
    path = _image(folder, os.fsdecode(b"bad\xffname.tif"))
    (folder / os.fsdecode(b"bad\xffname.tag")).write_bytes(
        "<tag_list><tag>Pow\x9b31mder</tag><tag>\u202eevil</tag></tag_list>".encode())
    return path


def test_json_output_stays_valid_and_exact_with_hostile_names(tmp_path, capsys, monkeypatch):
    path = _hostile_tagged(tmp_path)
    monkeypatch.setattr(sys, "stdout", PrintableStream(sys.stdout))  # what cli.main does for a terminal
    assert cli.main(["tags", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x9b" not in out and "\u202e" not in out
    row = json.loads(out)[0]
    assert row["tags"] == ["Pow\x9b31mder", "\u202eevil"] and os.fsencode(row["path"]) == os.fsencode(str(path))
    assert cli.main(["search", str(tmp_path), "Pow*", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [str(path)]
    assert cli.main(["export", str(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["path"] == str(path) and rows[0]["tags"] == ["Pow\x9b31mder", "\u202eevil"]
    assert cli.main(["info", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["path"] == str(path)


def test_tag_and_export_to_a_file_with_a_non_utf8_name(tmp_path, capsys):
    path = _image(tmp_path, os.fsdecode(b"raw\xfe.tif"))
    assert cli.main(["tag", str(path), "--add", "Powder"]) == 0
    assert "raw\\xfe.tif: +Powder" in capsys.readouterr().out
    assert TagFile.read(tmp_path / os.fsdecode(b"raw\xfe.xml")).names == ["Powder"]
    out = tmp_path / "table.csv"
    assert cli.main(["export", str(tmp_path), "-o", str(out)]) == 0
    assert b"raw\xfe.tif,,1" in out.read_bytes()  # the name as the file system has it

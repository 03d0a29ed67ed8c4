"""Names from the file system reach the terminal literally: escapes are shown, never obeyed."""

import json
import os
import sys

import numpy as np
import tifffile

from tui_tagger import cli
from tui_tagger.core.tagfile import TagFile
from tui_tagger.core.text import PrintableStream, json_text, printable


def test_printable_makes_controls_visible_and_keeps_layout_only_when_asked():
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("x\x9by") == "x\\x9by"  # C1 CSI too
    assert printable("x\x7f\x00y") == "x\\x7f\\x00y"
    # inside a name or value, newline, CR and tab are shown, in Python's string-literal style
    assert printable("line\n\ttab\r") == "line\\n\\ttab\\r"
    # the program's own multi-line text keeps them as layout; every other control is still shown
    assert printable("line\n\ttab\r\x1b\x9b", layout=True) == "line\n\ttab\r\\x1b\\x9b"
    assert printable("[bold]not markup[/]") == "[bold]not markup[/]"
    assert printable("Ångström ≥ 2θ, 温度, a\u00a0b") == "Ångström ≥ 2θ, 温度, a\u00a0b"  # nothing else touched


def test_printable_is_idempotent():
    """PrintableStream passes already escaped text through printable again: nothing may change twice."""
    for text in ("a\x1b[31m\n\t\r\x9b\u202e\U000e0041", os.fsdecode(b"bad\xff"), "back\\slash"):
        once = printable(text)
        assert printable(once) == once and printable(once, layout=True) == once and once.isprintable()


def test_printable_covers_every_unicode_control_and_format_character():
    """Every Cc, Cf, Zl, Zp and surrogate of the running Python's Unicode database is escaped: the
    hand-written list in core.text must not fall behind a newer Unicode."""
    import unicodedata

    missed = [hex(c) for c in range(sys.maxunicode + 1)
              if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp", "Cs") and printable(chr(c)) == chr(c)]
    assert missed == []
    for ch in "\u200b\u200d\ufeff\u2028\u2066":  # zero-width space and joiner, BOM, separator, isolate
        assert printable(ch) == f"\\u{ord(ch):04x}"
    assert printable("soft\u00adhyphen") == "soft\\xadhyphen"  # below U+0100: \xNN, as Python writes it
    assert printable("\U000e0041") == "\\U000e0041"  # an invisible tag character


def test_json_text_reads_back_exactly():
    value = {"name": "a\n\r\tb\x1b\x7f\x9b\u202e\U000e0041" + os.fsdecode(b"\xff")}
    text = json_text(value)
    assert text.isprintable()
    assert printable(text) == text  # nothing left for PrintableStream to rewrite
    back = json.loads(text)
    assert back == value and os.fsencode(back["name"])[-1:] == b"\xff"


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


# Tag names with CR, LF and tab: a results XML keeps them (character references in an attribute), as it
# keeps a C1 CSI and a bidi override; a <tag_list>'s source attribute keeps them too.
CRLF_TAG = "Bad\r\nna\tme"
HOSTILE_TAGS = [CRLF_TAG, "Pow\x9b31mder", "\u202eevil"]
HOSTILE_SHOWN = ["Bad\\r\\nna\\tme", "Pow\\x9b31mder", "\\u202eevil"]
RAW_CONTROL = [chr(c) for c in (*range(0x20), *range(0x7f, 0xa0))] + ["\u202e"]


def _results_xml(names) -> bytes:
    def attr(name):
        return "".join(f"&#{ord(c)};" if ord(c) < 0x20 else c for c in name)

    results = "".join(f'<result name="{attr(n)}" value="True"/>' for n in names)
    return (f'<DataFile name="x"><protocol name="tag_generated" end_timestamp="1">{results}'
            "</protocol></DataFile>").encode()


def _raw_controls(text: str, layout: str = "\n") -> list[str]:
    return [c for c in RAW_CONTROL if c in text and c not in layout]


def test_tags_shows_cr_lf_tab_c1_and_bidi_in_tag_names_and_sources_visibly(tmp_path, capsys):
    crlf = _image(tmp_path, "crlf.tif")
    (tmp_path / "crlf.xml").write_bytes(_results_xml(HOSTILE_TAGS))
    src = _image(tmp_path, "src.tif")
    (tmp_path / "src.xml").write_bytes(b'<tag_list><tag source="hu&#10;m&#9;a&#13;n\xc2\x9b">Powder</tag></tag_list>')
    assert cli.main(["tags", str(crlf), str(src)]) == 0
    out = capsys.readouterr().out
    assert _raw_controls(out) == [] and out.count("\n") == 2  # one line per image
    assert f"crlf.tif: {', '.join(HOSTILE_SHOWN)}" in out
    assert "src.tif: Powder (hu\\nm\\ta\\rn\\x9b)" in out
    assert cli.main(["tags", "--json", str(crlf), str(src)]) == 0
    out = capsys.readouterr().out
    assert _raw_controls(out) == []
    rows = json.loads(out)
    assert rows[0]["tags"] == HOSTILE_TAGS and rows[1]["sources"] == {"Powder": "hu\nm\ta\rn\x9b"}


def test_info_search_and_tag_show_cr_lf_tab_in_file_names_visibly(tmp_path, capsys):
    path = _image(tmp_path, "new\nline\r\ttab\x9b31m\u202e.tif")
    shown = "new\\nline\\r\\ttab\\x9b31m\\u202e.tif"
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert _raw_controls(out) == [] and out.count("\n") == 2 and shown in out  # the header and one row
    assert cli.main(["info", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["path"] == str(path)

    assert cli.main(["tag", str(path), "--add", "Powder"]) == 0
    out = capsys.readouterr().out
    assert _raw_controls(out) == [] and out.count("\n") == 1 and f"{shown}: +Powder" in out
    assert cli.main(["tags", str(path)]) == 0
    out = capsys.readouterr().out
    assert _raw_controls(out) == [] and out == f"{tmp_path}/{shown}: Powder (human)\n"

    # (the catalog does not pair a tag file with an image whose name holds a newline: search another)
    other = _image(tmp_path, "cr\r\ttab\x9b31m\u202e.tif")
    assert cli.main(["tag", str(other), "--add", "Powder"]) == 0
    capsys.readouterr()
    assert cli.main(["search", str(tmp_path), "Powder"]) == 0
    out = capsys.readouterr().out
    assert _raw_controls(out) == [] and f"{tmp_path}/cr\\r\\ttab\\x9b31m\\u202e.tif\n" in out
    assert cli.main(["search", str(tmp_path), "Powder", "--json"]) == 0
    assert str(other) in json.loads(capsys.readouterr().out)


def test_errors_naming_a_file_show_its_newline(tmp_path, capsys):
    path = tmp_path / "bad\nname\x9b.tif"
    path.write_bytes(b"II*\x00garbage")
    assert cli.main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert _raw_controls(err) == [] and err.count("\n") == 1 and "bad\\nname\\x9b.tif" in err

"""``tui-tagger tag DIR --add NAME``: a folder is not an image. It wrote DIR.xml beside the folder (a stray
file in the parent, no image tagged) and ``tags DIR`` said "(no tag file)"; now both say what went wrong."""

from __future__ import annotations

from support import make_folder

from tui_tagger import cli


def test_tag_and_tags_refuse_a_folder(tmp_path, capsys):
    folder = make_folder(tmp_path / "run3", n=2)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["tag", str(folder), "--add", "GISAXS"]) == 1
    err = capsys.readouterr().err
    assert err == f"tui-tagger: {folder}: is a folder, not an image (give its images: {folder}/*)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no run3.xml beside the folder
    assert cli.main(["tags", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "is a folder, not an image" in err

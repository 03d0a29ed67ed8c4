"""Another program's XML beside an image, with the image's name (acquisition metadata: a.tif + a.xml), was
taken for its tag file: 'not a tag file' from tag, tags, the index and the TUI, and the image could not be
tagged at all. It is not a tag file: the image has no tags until NAME.tag is written, and the XML is never
touched."""

from __future__ import annotations

from support import make_folder

from tui_tagger import cli
from tui_tagger.core.catalog import Catalog
from tui_tagger.core.tagstore import TagStore

METADATA = '<?xml version="1.0"?>\n<metadata><exposure unit="s">1.0</exposure></metadata>\n'


def test_an_image_beside_a_foreign_xml_is_tagged_in_its_tag_file(tmp_path, capsys):
    folder = make_folder(tmp_path / "run", n=2)
    sidecar = folder / "img00.xml"
    sidecar.write_text(METADATA)
    image = folder / "img00.tif"
    entries = {e.rel: e for e in Catalog(folder).entries()}
    assert entries["img00.tif"].tags == {} and not entries["img00.tif"].tag_error
    assert TagStore().load(image) is None

    assert cli.main(["tag", str(image), "--add", "GISAXS"]) == 0
    assert capsys.readouterr().out.endswith(f"+GISAXS -> {folder / 'img00.tag'}\n")
    assert sidecar.read_text() == METADATA
    assert cli.main(["tags", str(image)]) == 0
    assert capsys.readouterr().out == f"{image}: GISAXS (human)\n"
    entries = {e.rel: e for e in Catalog(folder).entries()}
    assert entries["img00.tif"].tags == {"GISAXS": "human"}


def test_a_tag_file_named_tag_with_another_root_is_still_an_error(tmp_path, capsys):
    folder = make_folder(tmp_path / "run", n=1)
    (folder / "img00.tag").write_text(METADATA)
    assert cli.main(["tags", str(folder / "img00.tif")]) == 1
    assert "not a tag file: root element <metadata>" in capsys.readouterr().err

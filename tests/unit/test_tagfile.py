"""Tag files: the field's tag_list XML (read, edit in place, write), results XML, hostile XML, merging."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lxml import etree

from tui_tagger.core import tagfile as tagfile_mod
from tui_tagger.core.errors import TagFileError
from tui_tagger.core.tagfile import Tag, TagFile, merge_tags

DATA = Path(__file__).parents[1] / "data"
REAL = sorted((DATA / "real-examples").glob("*.tag")) + sorted((DATA / "real-tags").glob("*.tag"))


def structure(data: bytes) -> list:
    """Everything a reader could rely on: each element's path, attributes and stripped text, plus comments."""
    root = etree.fromstring(data)
    out = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            out.append(("#other", el.text))
            continue
        path = "/".join([*(a.tag for a in reversed(list(el.iterancestors()))), el.tag])
        out.append((path, dict(el.attrib), (el.text or "").strip()))
    return out


def python_reader(data: bytes) -> list[str]:
    """The field's Python reader: the text of every <tag>."""
    return [t.text.strip() for t in etree.fromstring(data).iter("tag")]


def matlab_reader(data: bytes) -> list[int]:
    """The field's MATLAB reader: scans for '<tag id="' and takes the number."""
    return [int(m) for m in re.findall(r'<tag id="(\d+)"', data.decode())]


def copy(tmp_path: Path, src: Path) -> Path:
    dst = tmp_path / src.name
    dst.write_bytes(src.read_bytes())
    return dst


# --- the real files ----------------------------------------------------------------------------


def test_real_files_read_every_tag_with_its_id():
    assert len(REAL) == 14
    for path in REAL:
        tf = TagFile.read(path)
        raw = path.read_bytes()
        assert tf.names == list(dict.fromkeys(python_reader(raw)))
        assert [t.id for t in tf.tags.values()] == matlab_reader(raw)
        assert tf.image_name == path.stem
        assert all(t.source is None for t in tf.tags.values())


def test_agbh_example_content():
    tf = TagFile.read(DATA / "real-examples" / "AgBH_10sec_SAXS.tag")
    assert tf.tags["Ring: Isotropic"] == Tag("Ring: Isotropic", 42, None, None)
    assert set(tf.names) == {"TSAXS", "Linear beamstop", "MarCCD", "Standard", "Diffuse low-q: Isotropic",
                             "Ring: Isotropic", "Ordered", "Powder", "AgBH"}


@pytest.mark.parametrize("src", REAL, ids=lambda p: p.name)
def test_round_trip_without_changes_keeps_structure(tmp_path, src):
    path = copy(tmp_path, src)
    tf = TagFile.read(path)
    tf.save(fsync=False)
    assert structure(path.read_bytes()) == structure(src.read_bytes())
    assert path.read_bytes().startswith(b'<?xml version="1.0"?>\n<tag_list')
    assert TagFile.read(path).tags == tf.tags


def test_add_and_remove_round_trip_keeps_the_rest(tmp_path):
    path = copy(tmp_path, DATA / "real-examples" / "AgBH_10sec_SAXS.tag")
    tf = TagFile.read(path)
    assert tf.remove("Standard")  # the only tag of "Kinds of images": its containers go too
    tf.add("Ring: Oriented z", source="model", p=0.93)
    tf.add("Beam streaking")
    tf.save(fsync=False)
    data = path.read_bytes()
    again = TagFile.read(path)
    assert "Standard" not in again.names and b"what we measured" not in data
    assert again.tags["Ring: Oriented z"] == Tag("Ring: Oriented z", None, "model", 0.93)
    assert again.tags["Beam streaking"] == Tag("Beam streaking", 38, "human", None)
    assert again.names[:3] == ["TSAXS", "Linear beamstop", "MarCCD"]  # existing order kept
    # the id comes first, as the MATLAB reader expects; the readers see the new tags
    assert b'<tag id="38" source="human">Beam streaking</tag>' in data
    assert 38 in matlab_reader(data) and "Ring: Oriented z" in python_reader(data)
    root = etree.fromstring(data)
    nest = root.xpath("//primary_category[@name='Scattering features in image']/secondary_category"
                      "[@name='main features']/grid[@name='grid main features']/row_tag[@name='Ring']"
                      "/col_tag[@name='Oriented z']/tag")
    assert [t.text for t in nest] == ["Ring: Oriented z"]
    assert root.xpath("//primary_category[@name='Kinds of images']/secondary_category[@name='problems']"
                      "/tag/text()") == ["Beam streaking"]
    # the file still looks like the real ones: 4-space indentation, one element per line
    assert "\n                        <tag id=\"42\">Ring: Isotropic</tag>\n" in data.decode()
    assert "><" not in data.decode()


def test_removing_a_grid_tag_prunes_only_emptied_plain_containers(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<tag_list filename="a">\n'
        '    <primary_category name="Scattering features in image">\n'
        '        <secondary_category name="main features" note="keep me">\n'
        '            <grid name="grid main features">\n'
        '                <row_tag name="Ring"><col_tag name="Isotropic"><tag id="42">Ring: Isotropic</tag>'
        "</col_tag></row_tag>\n"
        "            </grid>\n        </secondary_category>\n    </primary_category>\n</tag_list>\n"
    )
    tf = TagFile.read(path)
    tf.remove("ring: isotropic")  # case-insensitive
    tf.save(fsync=False)
    root = etree.fromstring(path.read_bytes())
    assert root.xpath("//tag") == [] and root.xpath("//grid") == []
    assert root.xpath("//secondary_category/@note") == ["keep me"]  # carries something else: kept


def test_unknown_content_survives_edits(tmp_path):
    path = tmp_path / "x.tag"
    path.write_text(
        '<?xml version="1.0"?>\n<!-- written by hand -->\n'
        '<tag_list filename="x" type="WAXS" path="./d/" operator="kyoto">\n'
        "    <?editor keep?>\n"
        '    <beamline name="11-BM" energy="13.5"/>\n'
        '    <primary_category name="Kinds of experiments">\n'
        '        <secondary_category name="measurements">\n'
        '            <tag id="6" checked="yes">GISAXS</tag>\n'
        "            <!-- a note -->\n"
        "        </secondary_category>\n"
        "    </primary_category>\n"
        '    <primary_category name="Instrumental"><secondary_category name="detector">'
        '<tag id="017">MarCCD</tag></secondary_category></primary_category>\n'
        "</tag_list>\n"
    )
    tf = TagFile.read(path)
    tf.remove("GISAXS")
    tf.add("TSAXS")
    tf.save(fsync=False)
    data = path.read_bytes().decode()
    for kept in ("<!-- written by hand -->", "<?editor keep?>", '<beamline name="11-BM" energy="13.5"/>',
                 "<!-- a note -->", 'type="WAXS"', 'operator="kyoto"', '<tag id="017">MarCCD</tag>'):
        assert kept in data
    # the measurements category still holds the comment, so it stays
    assert TagFile.read(path).names == ["TSAXS", "MarCCD"]


def test_new_file_layout_and_order(tmp_path):
    tf = TagFile.new(tmp_path / "img.xml", "img.tif")
    for name in ("AgBH", "Ring: Isotropic", "TSAXS", "Some new tag"):
        tf.add(name)
    tf.save(fsync=False)
    data = (tmp_path / "img.xml").read_bytes()
    assert data.startswith(b'<?xml version="1.0"?>\n<tag_list filename="img.tif">\n    <primary_category')
    primaries = etree.fromstring(data).xpath("/tag_list/primary_category/@name")
    assert primaries == ["Kinds of experiments", "Scattering features in image", "Specific substances", "Other"]
    assert TagFile.read(tmp_path / "img.xml").names == ["TSAXS", "Ring: Isotropic", "AgBH", "Some new tag"]


def test_provenance_and_predictions_are_not_tags(tmp_path):
    tf = TagFile.new(tmp_path / "a.xml", "a")
    tf.add("Ring: Isotropic", source="model", p=0.93)
    tf.set_predictions("cnn-v1", {"Ring: Isotropic": 0.93, "Powder": 0.12})
    tf.save(fsync=False)
    data = (tmp_path / "a.xml").read_bytes()
    assert python_reader(data) == ["Ring: Isotropic"]  # old readers see only accepted tags
    again = TagFile.read(tmp_path / "a.xml")
    assert again.predictions == {"Ring: Isotropic": 0.93, "Powder": 0.12}
    assert again.prediction_model == "cnn-v1" and again.prediction_time
    block = etree.fromstring(data).find("predictions")
    assert block.getparent().tag == "tag_list"
    assert [p.get("name") for p in block] == ["Ring: Isotropic", "Powder"]
    again.set_predictions("cnn-v2", {"Powder": 0.5})  # replaced, not appended
    again.save(fsync=False)
    root = etree.fromstring((tmp_path / "a.xml").read_bytes())
    assert len(root.findall("predictions")) == 1
    assert TagFile.read(tmp_path / "a.xml").predictions == {"Powder": 0.5}


def test_source_change_rewrites_only_that_attribute(tmp_path):
    tf = TagFile.new(tmp_path / "a.xml", "a")
    tf.add("Powder", source="model", p=0.8)
    tf.save(fsync=False)
    tf = TagFile.read(tmp_path / "a.xml")
    tf.add("Powder", source="human")  # a person accepts the model's tag
    tf.save(fsync=False)
    assert b'<tag id="107" source="human">Powder</tag>' in (tmp_path / "a.xml").read_bytes()


def test_latin1_declared_file_parses_and_keeps_its_encoding(tmp_path):
    path = tmp_path / "l.tag"
    path.write_bytes('<?xml version="1.0" encoding="ISO-8859-1"?>\n<tag_list filename="Ålesund">\n'
                     '    <primary_category name="Other"><secondary_category name="other">'
                     "<tag>Probe \xe9t\xe9</tag></secondary_category></primary_category>\n</tag_list>\n"
                     .encode("latin-1"))
    tf = TagFile.read(path)
    assert tf.names == ["Probe été"] and tf.image_name == "Ålesund"
    tf.add("Powder")
    tf.save(fsync=False)
    data = path.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    assert sorted(TagFile.read(path).names) == ["Powder", "Probe été"]


# --- results XML -------------------------------------------------------------------------------

RESULTS = """<?xml version="1.0"?>
<DataFile name="sim_0001">
  <protocol name="tag_generated" end_timestamp="1500000000.0">
    <result name="features.main.ring: isotropic" value="False"/>
    <result name="features.main.halo: isotropic" value="True"/>
  </protocol>
  <protocol name="tag_generated" end_timestamp="1600000000.5">
    <result name="features.main.ring: isotropic" value="True"/>
    <result name="experiment.tsaxs" value="True"/>
    <result name="features.other.weird new thing" value="True"/>
    <result name="instrumental.detector.marccd" value="False"/>
    <result name="q0" value="0.0123"/>
  </protocol>
  <protocol name="circular_average" end_timestamp="1400000000">
    <result name="problems.saturation" value="True"/>
  </protocol>
</DataFile>
"""


def test_results_xml_latest_protocol_and_vocabulary_names(tmp_path):
    path = tmp_path / "sim_0001.xml"
    path.write_text(RESULTS)
    tf = TagFile.read(path)
    assert tf.kind == "results" and tf.image_name == "sim_0001"
    assert tf.names == ["Ring: Isotropic", "TSAXS", "weird new thing", "Saturation"]
    assert tf.tags["Ring: Isotropic"].id == 42


def test_results_xml_is_never_overwritten_but_can_be_saved_elsewhere(tmp_path):
    path = tmp_path / "sim_0001.xml"
    path.write_text(RESULTS)
    tf = TagFile.read(path)
    tf.add("Powder")
    with pytest.raises(TagFileError, match="results XML"):
        tf.save(fsync=False)
    assert path.read_text() == RESULTS
    tf.path = tmp_path / "sim_0001.tag"
    tf.save(fsync=False)
    assert path.read_text() == RESULTS
    again = TagFile.read(tmp_path / "sim_0001.tag")
    assert again.kind == "tag_list"
    assert set(again.names) == {"Ring: Isotropic", "TSAXS", "weird new thing", "Saturation", "Powder"}
    assert tf.kind == "tag_list" and not tf.changed_on_disk()


# --- bad and hostile files ---------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"], ids=["empty", "whitespace"])
def test_empty_file_is_an_error_and_never_overwritten(tmp_path, content):
    path = tmp_path / "e.tag"
    path.write_bytes(content)
    with pytest.raises(TagFileError, match="empty") as err:
        TagFile.read(path)
    assert str(err.value).startswith(str(path))
    tf = TagFile.new(path, "e")
    tf.add("Powder")
    with pytest.raises(TagFileError, match="refusing"):
        tf.save(fsync=False)
    assert path.read_bytes() == content


def test_malformed_file_names_file_and_line_and_is_never_overwritten(tmp_path):
    path = tmp_path / "bad.tag"
    bad = b'<?xml version="1.0"?>\n<tag_list filename="b">\n  <tag id="1">TSAXS</tga>\n</tag_list>\n'
    path.write_bytes(bad)
    with pytest.raises(TagFileError) as err:
        TagFile.read(path)
    assert str(err.value).startswith(f"{path}:3: not valid XML")
    assert "\n" not in str(err.value)
    tf = TagFile.new(path, "b")
    tf.add("TSAXS")
    with pytest.raises(TagFileError, match="does not parse"):
        tf.save(fsync=False)
    assert path.read_bytes() == bad


def test_file_broken_after_read_is_not_overwritten(tmp_path):
    path = copy(tmp_path, REAL[0])
    tf = TagFile.read(path)
    path.write_bytes(b"<tag_list><oops")
    tf.add("Powder")
    with pytest.raises(TagFileError):
        tf.save(fsync=False)
    assert path.read_bytes() == b"<tag_list><oops"


def test_wrong_root_element(tmp_path):
    path = tmp_path / "w.xml"
    path.write_text("<svg><tag>x</tag></svg>")
    with pytest.raises(TagFileError, match="not a tag file"):
        TagFile.read(path)


def test_oversized_file_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(tagfile_mod, "MAX_BYTES", 1000)
    path = tmp_path / "big.tag"
    path.write_text('<tag_list filename="b">' + "<!-- pad -->" * 200 + "</tag_list>")
    with pytest.raises(TagFileError, match="limit"):
        TagFile.read(path)


def test_billion_laughs_does_not_expand(tmp_path):
    lol = "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    path = tmp_path / "lol.tag"
    path.write_text(f'<?xml version="1.0"?><!DOCTYPE tag_list [<!ENTITY lol0 "lol">{lol}]>'
                    "<tag_list><primary_category><secondary_category><tag>&lol9;</tag>"
                    "</secondary_category></primary_category></tag_list>")
    with pytest.raises(TagFileError, match="entities"):
        TagFile.read(path)


def test_external_entity_is_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-TOKEN")
    path = tmp_path / "xxe.tag"
    path.write_text(f'<?xml version="1.0"?><!DOCTYPE tag_list [<!ENTITY xxe SYSTEM "file://{secret}">]>'
                    "<tag_list><tag>&xxe;</tag><tag>Powder</tag></tag_list>")
    with pytest.raises(TagFileError, match="entities") as err:
        TagFile.read(path)
    assert "TOP-SECRET" not in str(err.value)


def test_parser_itself_never_resolves_entities():
    secret = Path(__file__)
    data = (f'<!DOCTYPE t [<!ENTITY xxe SYSTEM "file://{secret}">]><tag_list><tag>&xxe;</tag></tag_list>').encode()
    root = etree.fromstring(data, tagfile_mod._parser())
    assert "tui_tagger" not in "".join(root.itertext())


def test_unreadable_path_is_a_one_line_error(tmp_path):
    with pytest.raises(TagFileError, match="no such tag file"):
        TagFile.read(tmp_path / "nope.tag")
    with pytest.raises(TagFileError, match="folder"):
        TagFile.read(tmp_path)


def test_read_only_folder_names_tags_dir(tmp_path, monkeypatch):
    def denied(path, data, fsync=True):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tagfile_mod, "atomic_write_bytes", denied)
    tf = TagFile.new(tmp_path / "a.xml", "a")
    tf.add("Powder")
    with pytest.raises(TagFileError, match="read-only; use --tags-dir DIR"):
        tf.save()


# --- change detection and merging --------------------------------------------------------------


def test_changed_on_disk(tmp_path):
    path = copy(tmp_path, REAL[0])
    tf = TagFile.read(path)
    assert tf.size == path.stat().st_size and tf.mtime_ns == path.stat().st_mtime_ns
    assert not tf.changed_on_disk()
    other = TagFile.read(path)
    other.add("Powder")
    other.save(fsync=False)
    assert tf.changed_on_disk()
    new = TagFile.new(tmp_path / "n.xml", "n")
    assert not new.changed_on_disk()
    (tmp_path / "n.xml").write_text("<tag_list/>")
    assert new.changed_on_disk()


def T(name, source=None, p=None):
    return Tag(name, None, source, p)


def test_merge_tags_one_sided_changes_are_taken():
    base = {"A": T("A"), "B": T("B"), "C": T("C")}
    mine = {"A": T("A"), "C": T("C", "human"), "D": T("D")}  # removed B, changed C, added D
    theirs = {"A": T("A"), "B": T("B"), "C": T("C"), "E": T("E")}  # added E
    merged, conflicts = merge_tags(base, mine, theirs)
    assert merged == {"A": T("A"), "C": T("C", "human"), "D": T("D"), "E": T("E")}
    assert conflicts == []


def test_merge_tags_agreement_and_collisions():
    base = {"A": T("A", "model", 0.6), "B": T("B")}
    mine = {"X": T("X", "human"), "B": T("B", "human")}  # removed A
    theirs = {"A": T("A", "human"), "X": T("X", "human")}  # changed A, removed B, both added X
    merged, conflicts = merge_tags(base, mine, theirs)
    assert merged["X"] == T("X", "human")  # both sides agree
    assert merged["A"] == T("A", "human") and merged["B"] == T("B", "human")  # nothing silently dropped
    assert len(conflicts) == 2 and any(c.startswith("A:") for c in conflicts)
    _, c2 = merge_tags({}, {"Y": T("Y", "human")}, {"Y": T("Y", "model", 0.7)})
    assert c2 and c2[0].startswith("Y:")


def test_merge_from_disk_keeps_both_sides(tmp_path):
    path = copy(tmp_path, DATA / "real-examples" / "AgBH_10sec_SAXS.tag")
    mine = TagFile.read(path)
    theirs = TagFile.read(path)
    theirs.add("Beam streaking")
    theirs.remove("Powder")
    theirs.save(fsync=False)
    with open(path, "ab") as fh:  # someone also appended a comment after the root
        fh.write(b"<!-- reviewed -->\n")
    mine.remove("Standard")
    mine.add("Thin film")
    assert mine.changed_on_disk()
    conflicts = mine.merge_from_disk()
    assert conflicts == []
    mine.save(fsync=False)
    final = TagFile.read(path)
    assert "Beam streaking" in final.names and "Thin film" in final.names
    assert "Powder" not in final.names and "Standard" not in final.names
    assert b"<!-- reviewed -->" in path.read_bytes()


def test_atomic_save_leaves_no_temp_files(tmp_path):
    tf = TagFile.new(tmp_path / "a.xml", "a")
    tf.add("TSAXS")
    tf.save(fsync=True)
    assert sorted(os.listdir(tmp_path)) == ["a.xml"]


def test_new_tags_follow_the_files_indentation(tmp_path):
    path = tmp_path / "two.tag"
    path.write_text('<?xml version="1.0"?>\n<tag_list filename="two">\n  <primary_category name="Kinds of experiments">\n'
                    '    <secondary_category name="measurements">\n      <tag id="1">TSAXS</tag>\n'
                    "    </secondary_category>\n  </primary_category>\n</tag_list>\n")
    tf = TagFile.read(path)
    tf.add("GISAXS")
    tf.save(fsync=False)
    assert '      <tag id="1">TSAXS</tag>\n      <tag id="6" source="human">GISAXS</tag>\n    </secondary' in path.read_text()

"""The catalog's index answers tag queries: the same answers as the in-memory search over every entry, on a
folder with the hard cases, and it keeps up with changes made after it was filled."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tui_tagger import cli
from tui_tagger.core import catalog as catalog_mod
from tui_tagger.core.catalog import Catalog, search
from tui_tagger.core.errors import QueryError
from tui_tagger.core.tagfile import TagFile

TAG_LIST = '<?xml version="1.0"?>\n<tag_list filename="{name}">\n{body}</tag_list>\n'


def tag_file(path, tags=(), predictions=None):
    """tags: names, or (name, source) pairs; predictions: {name: p}."""
    body = ""
    for tag in tags:
        name, source = (tag, None) if isinstance(tag, str) else tag
        attr = f' source="{source}"' if source else ""
        body += f"  <tag{attr}>{_xml(name)}</tag>\n"
    if predictions:
        body += '  <predictions model="m" time="2024-01-01T00:00:00">\n'
        body += "".join(f'    <p name="{_xml(n)}" value="{p}"/>\n' for n, p in predictions.items())
        body += "  </predictions>\n"
    name = _xml(path.stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    path.write_bytes(TAG_LIST.format(name=name, body=body).encode())


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def tiff(path, value=1):
    import tifffile

    tifffile.imwrite(path, np.full((4, 4), value, np.uint16))


def bump(path):
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


@pytest.fixture
def tricky(tmp_path):
    """Sub-folders that sort between files, a non-UTF-8 name, a malformed tag file, names with odd
    characters and sources, predictions, an untagged image, a multi-page TIFF with a tag file per page."""
    from PIL import Image

    root = tmp_path / "data"
    (root / "b" / "deep").mkdir(parents=True)
    tiff(root / "a1.tif")
    tag_file(root / "a1.xml", [("Powder", "human"), ("Ordered", "model")], {"Powder": 0.9, "Thin film": 0.2})
    tiff(root / "a2.tif")  # untagged
    tiff(root / "b" / "c1.tif")
    tag_file(root / "b" / "c1.xml", ["Thin film", "Asymmetric (left/right)", 'Say "cheese" & <go>'])
    tiff(root / "b" / "deep" / "d.tif")
    tag_file(root / "b" / "deep" / "d.tag", [("powder", "human"), "Ring: Isotropic", "Ring: Oriented z"],
             {"powder": 0.4})
    tiff(root / "b-side.tif")
    tag_file(root / "b-side.xml", [("GISAXS", "synthetic"), "Ünïcødé tag", "Beamline 11-BM and more"])
    tiff(root / "broken.tif")
    (root / "broken.xml").write_bytes(b"<tag_list><tag>Powder</tag>")  # truncated: its tags are unknown
    raw = os.fsdecode(b"raw\xfename.tif")
    tiff(root / raw)
    tag_file(root / os.fsdecode(b"raw\xfename.xml"), ["Powder", "Saturation"])
    pages = [Image.fromarray(np.full((300, 300), i, np.uint8)) for i in range(3)]
    pages[0].save(root / "pages.tif", save_all=True, append_images=pages[1:])
    tag_file(root / "pages_1.xml", ["Powder"], {"Powder": 0.7})
    tag_file(root / "pages_2.xml", ["Saturation"])
    return root


QUERIES = [
    "", "Powder", "powder", "not Powder", "Powder and not Ordered", "Powder or Thin film", "human:Powder",
    "model:Ordered", "synthetic:GISAXS", "human:Ordered", "Ring: *", "not *", "*", "not (Powder or Saturation)",
    '"Asymmetric (left/right)"', "Asymmetric (left/right) and Thin film", '"Say \\"cheese\\" & <go>"',
    "Ünïcødé tag", "beamline 11-bm and more", "p(Powder) > 0.5", "p(Powder) <= 0.5", "not p(Thin film) > 0.1",
    "p(Powder) > 0.5 or Saturation", "(Powder and p(Powder) > 0.8) or not *", "! Powder && (Saturation || Ordered)",
]


def paths(entries):
    return [e.path for e in entries]


@pytest.mark.parametrize("query", QUERIES)
def test_index_answers_exactly_as_the_in_memory_search(tricky, query):
    if query == '"Say \\"cheese\\" & <go>"':
        query = "'Say \"cheese\" & <go>'"
    entries = Catalog(tricky).entries()
    slow = search(entries, query)
    fresh = Catalog(tricky)  # a new catalog: the answer comes from the index file
    assert list(fresh.rows(query)) == slow  # the same entries (tags, sources, predictions, errors), same order
    assert fresh.count(query) == len(slow)
    assert list(fresh.paths(query)) == paths(slow)
    assert paths(Catalog(tricky).search(query)) == paths(slow)


def test_the_folder_has_what_the_tricky_cases_need(tricky):
    entries = {e.rel: e for e in Catalog(tricky).entries()}
    assert list(entries) == ["a1.tif", "a2.tif", "b/c1.tif", "b/deep/d.tif", "b-side.tif", "broken.tif",
                             "pages.tif#0", "pages.tif#1", "pages.tif#2", os.fsdecode(b"raw\xfename.tif")]
    assert entries["broken.tif"].tag_error
    assert entries[os.fsdecode(b"raw\xfename.tif")].tags == {"Powder": None, "Saturation": None}
    assert entries["pages.tif#1"].predictions == {"Powder": 0.7}
    assert list(Catalog(tricky).rows()) == list(entries.values())  # the index alone gives them back


def test_unknown_tag_is_the_same_error_from_the_index(tricky):
    Catalog(tricky).entries()
    with pytest.raises(QueryError) as slow:
        search(Catalog(tricky).entries(), "Powdr")
    with pytest.raises(QueryError) as fast:
        list(Catalog(tricky).rows("Powdr"))
    assert str(fast.value) == str(slow.value)


def test_malformed_tag_file_stays_marked_and_is_never_written(tricky, capsys):
    before = (tricky / "broken.xml").read_bytes()
    assert cli.main(["search", str(tricky), "not", "Powder"]) == 0
    out, err = capsys.readouterr()
    assert "broken.tif" not in out  # its tags are unknown: it matches nothing
    assert "broken.xml" in err and "not searched" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["search", str(tricky), "not", "Powder"]) == 0  # warm: still named
    assert "broken.xml" in capsys.readouterr().err
    assert (tricky / "broken.xml").read_bytes() == before
    assert [e.rel for e in Catalog(tricky).rows() if e.tag_error] == ["broken.tif"]


def _search(root, *args, capsys) -> list[str]:
    """The paths ``search --json`` prints (exact, where plain output escapes a non-UTF-8 name)."""
    cli.main(["search", "--json", str(root), *args])
    return json.loads(capsys.readouterr().out)


def test_search_sees_changes_made_after_indexing(tricky, capsys):
    assert _search(tricky, "Saturation", capsys=capsys) == [
        str(tricky / "pages.tif#2"), str(tricky / os.fsdecode(b"raw\xfename.tif"))]
    tag_file(tricky / "a1.xml", ["Saturation"])  # rewritten in place, as other tools write
    bump(tricky / "a1.xml")
    tag_file(tricky / "a2.xml", ["Saturation"])  # a new tag file for an untagged image
    (tricky / os.fsdecode(b"raw\xfename.xml")).unlink()  # a tag file removed: its tags are gone
    tiff(tricky / "b" / "new.tif")
    tag_file(tricky / "b" / "new.tag", ["Saturation"])
    assert _search(tricky, "Saturation", capsys=capsys) == [
        str(tricky / "a1.tif"), str(tricky / "a2.tif"), str(tricky / "b" / "new.tif"), str(tricky / "pages.tif#2")]
    assert str(tricky / os.fsdecode(b"raw\xfename.tif")) in _search(tricky, "not", "*", capsys=capsys)
    (tricky / "b" / "new.tif").unlink()
    assert str(tricky / "b" / "new.tif") not in _search(tricky, "Saturation", capsys=capsys)


def test_quick_search_trusts_unchanged_folders_and_lists_changed_ones(tricky, capsys, monkeypatch):
    monkeypatch.setattr(catalog_mod, "_RACY_NS", 0)  # no waiting out the clock tick in a test
    assert str(tricky / "a1.tif") in _search(tricky, "Powder", "--quick", capsys=capsys)
    tf = TagFile.read(tricky / "a1.xml")  # a save as tui-tagger makes it: a new file renamed into place
    tf.remove("Powder")
    tf.save()
    os.unlink(tricky / "b" / "c1.xml")  # removed: the folder changes
    assert _search(tricky, "Powder or Thin film", "--quick", capsys=capsys) == [
        str(tricky / "b" / "deep" / "d.tif"), str(tricky / "pages.tif#1"), str(tricky / os.fsdecode(b"raw\xfename.tif"))]
    (tricky / "c").mkdir()  # a new run folder
    tiff(tricky / "c" / "x.tif")
    tag_file(tricky / "c" / "x.xml", ["Thin film"])
    assert _search(tricky, "Thin film", "--quick", capsys=capsys) == [str(tricky / "c" / "x.tif")]
    # what --quick does not see, by design: a tag file rewritten in place in an unchanged folder
    tag_file(tricky / "b" / "deep" / "d.tag", ["Thin film"])
    bump(tricky / "b" / "deep" / "d.tag")
    assert _search(tricky, "Thin film", "--quick", capsys=capsys) == [str(tricky / "c" / "x.tif")]
    assert _search(tricky, "Thin film", capsys=capsys) == [  # the full check does
        str(tricky / "b" / "deep" / "d.tif"), str(tricky / "c" / "x.tif")]


def test_changes_stream_what_differs_and_rows_page_the_index(tricky):
    everything = Catalog(tricky).entries()
    cat = Catalog(tricky)
    assert list(cat.changes()) == []
    tag_file(tricky / "a2.xml", ["Amorphous"])
    (tricky / "b" / "c1.tif").unlink()
    changes = list(cat.changes())
    assert [(c.kind, c.path) for c in changes] == [("changed", str(tricky / "a2.tif")),
                                                   ("removed", str(tricky / "b" / "c1.tif"))]
    assert changes[0].entry.tags == {"Amorphous": None}
    now = Catalog(tricky).entries()
    assert len(now) == len(everything) - 1
    for start, limit in [(0, 3), (3, 4), (5, 100), (9, 1)]:
        assert list(Catalog(tricky).rows(start=start, limit=limit)) == now[start:start + limit]
    assert Catalog(tricky).count() == len(now)
    assert Catalog(tricky).get(str(tricky / "a2.tif")).tags == {"Amorphous": None}  # no list held: the index


def test_update_tags_after_a_save_is_what_the_index_answers(tricky):
    cat = Catalog(tricky)
    cat.update()
    tf = TagFile.read(tricky / "a1.xml")
    tf.add("Misaligned")
    tf.save()
    cat.update_tags(str(tricky / "a1.tif"), tf)
    assert paths(Catalog(tricky).rows("Misaligned")) == [str(tricky / "a1.tif")]


def test_background_check_reports_the_changes_from_a_child_process(tricky, tmp_path):
    from tui_tagger.core.catalog_check import BackgroundCheck

    cache = tmp_path / "cache"
    Catalog(tricky, cache_dir=cache).update()
    tag_file(tricky / "a2.xml", ["Amorphous"])
    (tricky / "b" / "c1.tif").unlink()
    changes = list(BackgroundCheck(tricky, cache_dir=cache))
    assert [(c.kind, c.path) for c in changes] == [("changed", str(tricky / "a2.tif")),
                                                   ("removed", str(tricky / "b" / "c1.tif"))]
    assert changes[0].entry == Catalog(tricky, cache_dir=cache).get(str(tricky / "a2.tif"))
    assert list(BackgroundCheck(tricky, cache_dir=cache)) == []  # the child wrote the index


def test_quick_check_watches_the_tags_dir_mirror_too(tmp_path, capsys, monkeypatch):
    from tui_tagger.core.tagstore import TagStore

    monkeypatch.setattr(catalog_mod, "_RACY_NS", 0)
    root, mirror = tmp_path / "data", tmp_path / "tags"
    (root / "run").mkdir(parents=True)
    tiff(root / "run" / "x.tif")
    args = ["--tags-dir", str(mirror), "--quick"]
    assert _search(root, "not", "*", *args, capsys=capsys) == [str(root / "run" / "x.tif")]
    store = TagStore(tags_dir=mirror)
    tf = store.load_or_new(root / "run" / "x.tif")  # saved in the mirror: the image's folder is unchanged
    tf.add("Powder")
    store.save(tf)
    assert _search(root, "Powder", *args, capsys=capsys) == [str(root / "run" / "x.tif")]


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """Five run folders of two tagged frames each, indexed; folder stamps trusted at once (no waiting out
    the clock tick: a short sleep puts later changes on a later tick)."""
    import time

    monkeypatch.setattr(catalog_mod, "_RACY_NS", 0)
    root = tmp_path / "data"
    for r in range(5):
        (root / f"run{r}").mkdir(parents=True)
        for i in range(2):
            tiff(root / f"run{r}" / f"f{i}.tif")
            tag_file(root / f"run{r}" / f"f{i}.xml", ["Powder"])
    Catalog(root).update()
    time.sleep(0.05)
    return root


def test_default_search_sees_a_save_by_rename_in_any_folder(runs, capsys):
    tf = TagFile.read(runs / "run3" / "f1.xml")  # as tui-tagger saves: a new file renamed into place
    tf.add("Saturation")
    tf.save()
    (runs / "run1" / "f0.xml").unlink()
    assert _search(runs, "Saturation", capsys=capsys) == [str(runs / "run3" / "f1.tif")]
    assert str(runs / "run1" / "f0.tif") in _search(runs, "not", "*", capsys=capsys)


def test_an_in_place_rewrite_shows_after_verify_or_once_the_rolling_check_comes_round(runs, capsys, monkeypatch):
    from tui_tagger.commands import search as search_cmd

    monkeypatch.setattr(search_cmd, "ROLLING", 1)  # one folder per search
    tag_file(runs / "run2" / "f0.xml", ["Saturation"])  # rewritten in place: run2's stamp is unchanged
    bump(runs / "run2" / "f0.xml")
    assert _search(runs, "Saturation", "--quick", capsys=capsys) == []  # folders alone: not seen
    hits = [_search(runs, "Saturation", capsys=capsys) for _ in range(7)]  # root + 5 runs: round once
    assert hits[-1] == [str(runs / "run2" / "f0.tif")]
    assert hits[0] == []  # the rolling check starts at the top: run2 comes later
    tag_file(runs / "run4" / "f1.xml", ["Saturation"])
    bump(runs / "run4" / "f1.xml")
    assert _search(runs, "Saturation", "--verify", capsys=capsys) == [
        str(runs / "run2" / "f0.tif"), str(runs / "run4" / "f1.tif")]


def test_a_cold_scan_read_ahead_in_child_processes_lists_what_the_walk_alone_does(tricky, tmp_path, monkeypatch):
    from tui_tagger.core import read_ahead

    raw = os.fsdecode(b"deep\xfe")  # a folder and a file whose names are not UTF-8, read by a child
    (tricky / "b" / raw).mkdir()
    tiff(tricky / "b" / raw / os.fsdecode(b"f\xfe.tif"))
    tag_file(tricky / "b" / raw / os.fsdecode(b"f\xfe.xml"), ["Amorphous"])
    alone = Catalog(tricky, cache_dir=tmp_path / "alone").entries()
    assert any(e.tags == {"Amorphous": None} for e in alone)
    monkeypatch.setattr(read_ahead, "WORKERS", 2)
    monkeypatch.setattr(read_ahead, "START_AFTER", 0)  # the children start at the first folder
    monkeypatch.setattr(read_ahead, "idle_cores", lambda: 2)  # whatever else this machine runs
    answered = []
    take = read_ahead.ReadAhead.take

    def spy(self, prefix, probed):
        got = take(self, prefix, probed)
        answered.append(got is not None)
        return got

    monkeypatch.setattr(read_ahead.ReadAhead, "take", spy)
    ahead = Catalog(tricky, cache_dir=tmp_path / "ahead").entries()
    assert ahead == alone  # tags, sources, predictions, errors (the truncated tag file), frames
    assert answered.count(True) == 3  # b and its folders came from a child; the top folder the walk read itself
    assert list(Catalog(tricky, cache_dir=tmp_path / "ahead").rows()) == alone  # and the index holds them
    answered.clear()
    monkeypatch.setattr(read_ahead, "idle_cores", lambda: 0)  # a busy machine: no children
    assert Catalog(tricky, cache_dir=tmp_path / "busy").entries() == alone
    assert answered and not any(answered)

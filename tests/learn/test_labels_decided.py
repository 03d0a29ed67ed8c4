"""Which tags a reviewed image labels: a person who added "AgBH" said nothing of the experiment type."""

from types import SimpleNamespace

import numpy as np

from tui_tagger.core.vocabulary import decides
from tui_tagger.learn.folder import tag_labels
from tui_tagger.ui.session import Row, Session


def test_an_experiment_type_is_decided_only_where_the_image_names_one():
    assert decides("Ring: Isotropic", {"AgBH": "human"})
    assert not decides("TSAXS", {"AgBH": "human"})
    assert decides("TSAXS", {"AgBH": "human", "GISAXS": "human"})
    assert not decides("GISAXS", {})  # an empty tag file: reviewed, no type named


def test_tag_files_naming_no_experiment_type_are_no_negative_for_one(tmp_path):
    entry = lambda tags: SimpleNamespace(tag_path=str(tmp_path / "x.xml"), tag_error=None, tags=tags,  # noqa: E731
                                         predictions={})
    entries = [entry({"AgBH": "human"}), entry({"AgBH": "human", "TSAXS": "human"}), entry({"GISAXS": "human"})]
    assert np.array_equal(tag_labels(entries, "TSAXS"), [np.nan, 1.0, 0.0], equal_nan=True)
    assert np.array_equal(tag_labels(entries, "AgBH"), [1.0, 1.0, 0.0])


def test_a_correction_in_the_tui_labels_no_experiment_type(tmp_path):
    s = Session(tmp_path)
    s.add_rows([Row(f"/d/{n}.tif", f"{n}.tif", f"{n}.tif", 0, {}) for n in ("a", "b", "c")])
    s.set_tag(["/d/a.tif"], "AgBH", True)
    s.set_tag(["/d/b.tif"], "GISAXS", True)
    assert s.labels("AgBH") == {"/d/a.tif": True, "/d/b.tif": False}
    assert s.labels("TSAXS") == {"/d/b.tif": False}  # a names no type: unlabelled for TSAXS, not absent
    assert s.labels("GISAXS") == {"/d/b.tif": True}
    s.journal.close()


def test_a_tag_file_of_the_models_alone_is_no_label_an_empty_one_is(tmp_path):
    """``predict --write`` leaves tag files of predictions alone, ``--accept-above`` of the model's tags: no one
    decided on those frames, so they are no negative for every tag (a head or a training run would learn the
    model's own misses); an empty tag file someone saved is a decision."""
    def entry(tags, predictions):
        return SimpleNamespace(tag_path=str(tmp_path / "x.xml"), tag_error=None, tags=tags, predictions=predictions)

    entries = [entry({}, {"AgBH": 0.2}), entry({"AgBH": "model"}, {"AgBH": 0.95}), entry({}, {}),
               entry({"Ring: Isotropic": "human"}, {"AgBH": 0.9})]
    assert np.array_equal(tag_labels(entries, "AgBH"), [np.nan, np.nan, 0.0, 0.0], equal_nan=True)

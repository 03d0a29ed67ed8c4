"""A hand-edited run configuration (``--config FILE``) with a value of the wrong kind -- ``batch = "big"``,
``paths = 3``, ``paths = "/data"`` (a string, not a list) -- is one line naming the file and the option, exit 1,
never a traceback from deep in the run (a string batch size crashed ``predict``; a string of paths was walked
one character at a time)."""

from __future__ import annotations

import pytest

from tui_tagger import cli


@pytest.mark.parametrize("body, option", [
    ('paths = ["{d}"]\nbatch = "big"\n', "batch"),
    ("paths = 3\n", "paths"),
    ('paths = "{d}"\n', "paths"),
    ('paths = ["{d}"]\nwrite = "yes"\n', "write"),
    ('paths = ["{d}"]\nthreshold = "high"\n', "threshold"),
    ('paths = ["{d}"]\nworkers = 1.5\n', "workers"),
])
def test_predict_config_with_a_wrong_kind_of_value_is_one_line(tmp_path, capsys, body, option):
    folder = tmp_path / "run"
    folder.mkdir()
    config = tmp_path / "predict-config.toml"
    config.write_text("[predict]\n" + body.format(d=folder))
    assert cli.main(["predict", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert str(config) in err and option in err, err


def test_a_section_that_is_not_a_table_is_one_line(tmp_path, capsys):
    config = tmp_path / "predict-config.toml"
    config.write_text("predict = 3\n")
    assert cli.main(["predict", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(config) in err and "predict" in err, err


def test_a_number_where_a_decimal_is_wanted_is_fine(tmp_path):
    from tui_tagger.model import runconfig
    import argparse

    args = argparse.Namespace(config="c.toml", threshold=None, batch=None, paths=[])
    runconfig.apply(args, {"threshold": 1, "batch": 8, "paths": ["/x"]},
                    {"threshold": None, "batch": 32, "paths": []})
    assert (args.threshold, args.batch, args.paths) == (1, 8, ["/x"])

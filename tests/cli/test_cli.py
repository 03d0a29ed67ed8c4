import pytest

from tui_tagger import cli


def test_help_lists_the_contract_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("info", "tags", "tag", "search", "export", "synth"):
        assert name in out


def test_a_folder_alone_means_open(monkeypatch, tmp_path):
    seen = {}

    class FakeOpen:
        @staticmethod
        def add_arguments(p):
            p.add_argument("directory")

        @staticmethod
        def run(args):
            seen["dir"] = args.directory
            return 0

    monkeypatch.setattr(cli, "_module", lambda name: FakeOpen)
    monkeypatch.setattr(cli, "_available", lambda: {"open": cli.COMMANDS["open"]})
    assert cli.main([str(tmp_path)]) == 0
    assert seen["dir"] == str(tmp_path)


def test_user_errors_are_one_line_without_traceback(monkeypatch, capsys):
    from tui_tagger.core.errors import ImageReadError

    class Failing:
        @staticmethod
        def add_arguments(p):
            p.add_argument("files", nargs="*")

        @staticmethod
        def run(args):
            raise ImageReadError("/data/x.tif", "truncated file\n(expected 4 MB)")

    monkeypatch.setattr(cli, "_module", lambda name: Failing)
    monkeypatch.setattr(cli, "_available", lambda: {"info": cli.COMMANDS["info"]})
    assert cli.main(["info", "x"]) == 1
    err = capsys.readouterr().err
    assert err == "tui-tagger: /data/x.tif: truncated file (expected 4 MB)\n"

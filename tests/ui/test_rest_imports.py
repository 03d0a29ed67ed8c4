"""ui/rest_imports.py: a worker's imports wait while the user is at work; other threads' imports do not."""

import sys
import threading
from contextlib import contextmanager

from tui_tagger.ui import rest_imports


def _package(tmp_path, monkeypatch):
    pkg = tmp_path / "restpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from restpkg import leaf\nVALUE = leaf.VALUE + 1\n")
    (pkg / "leaf.py").write_text("VALUE = 41\n")
    (tmp_path / "otherpkg.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("restpkg", "restpkg.leaf", "otherpkg"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_imports_wait_for_the_rest_and_modules_keep_their_loaders(tmp_path, monkeypatch):
    _package(tmp_path, monkeypatch)
    rest, holds, done = threading.Event(), [], {}

    @contextmanager
    def held():
        holds.append(1)
        yield

    def warm():
        with rest_imports.while_resting(rest.is_set, held):
            import restpkg

            done["value"] = restpkg.VALUE

    thread = threading.Thread(target=warm)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and "restpkg" not in sys.modules and holds  # held before its first module
    import otherpkg  # another thread's import goes on meanwhile

    assert otherpkg.VALUE == 7
    rest.set()
    thread.join(5)
    assert not thread.is_alive() and done["value"] == 42
    for name in ("restpkg", "restpkg.leaf"):
        module = sys.modules[name]
        assert type(module.__loader__).__name__ == "SourceFileLoader"
        assert module.__spec__.loader is module.__loader__
    assert not any(isinstance(f, rest_imports._Gate) for f in sys.meta_path)  # the gate is gone


def test_a_resting_user_holds_nothing(tmp_path, monkeypatch):
    _package(tmp_path, monkeypatch)
    holds = []

    @contextmanager
    def held():
        holds.append(1)
        yield

    with rest_imports.while_resting(lambda: True, held):
        import restpkg
    assert restpkg.VALUE == 42 and not holds

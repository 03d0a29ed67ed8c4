"""What pyproject.toml cannot say on its own: the shipped model stays in ``models/`` at the top of the
repository (the project's rule) and still reaches the wheel, as the package data of ``tui_tagger.models``
(``model.locate.shipped_model_paths`` looks there in an installed package). Everything else is in
pyproject.toml."""

from setuptools import find_packages, setup

setup(
    # data/ and themes/ hold no code but are importable folders: named, so setuptools ships them as they are
    # rather than warning that they would be ignored (their files are package data, see pyproject.toml)
    packages=find_packages(include=["tui_tagger", "tui_tagger.*"]) + ["tui_tagger.models", "tui_tagger.data",
                                                                       "tui_tagger.themes"],
    package_dir={"tui_tagger.models": "models"},
)

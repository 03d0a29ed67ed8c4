"""What pyproject.toml cannot say on its own: the shipped model stays in ``models/`` at the top of the
repository (the project's rule) and still reaches the wheel, as the package data of ``tui_tagger.models``
(``model.locate.shipped_model_paths`` looks there in an installed package). Everything else is in
pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["tui_tagger", "tui_tagger.*"]) + ["tui_tagger.models"],
    package_dir={"tui_tagger.models": "models"},
)

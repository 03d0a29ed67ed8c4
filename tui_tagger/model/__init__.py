"""The tagging model: torch lives here and only here.

Importing this package is cheap (no torch); the submodules that need torch import it at their top,
so commands import them inside ``run()``.
"""

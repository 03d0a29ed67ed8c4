"""The model tests' labelled frames: they live in tests/support.py, the one module of shared test helpers."""

from tests.support import TAGS, frame, labelled_arrays, write_tagged_tiffs  # noqa: F401

"""The errors a user sees. Each renders as one line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path


class TaggerError(Exception):
    """Base class: ``str(err)`` is the one-line message shown to the user."""


class FileProblem(TaggerError):
    """A problem with one file: the message starts with the file's path."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None):
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # one line, whatever the cause said
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {self.problem}")


class ImageReadError(FileProblem):
    """An image that cannot be read: corrupt, truncated, empty, mislabelled, too large."""


class TagFileError(FileProblem):
    """A tag file that does not parse or cannot be written. A file that failed to parse is never overwritten."""


class ForeignXml(TagFileError):
    """XML whose root element is neither a tag_list nor a results DataFile: another program's file. Found at an
    image's ``NAME.xml`` (acquisition metadata beside the frame) it is not the image's tag file."""


class ExpressionError(TaggerError):
    """A bad image expression; the image is left as it was."""


class QueryError(TaggerError):
    """A tag query that does not parse or names an unknown tag (with suggestions)."""

"""Showing text from files literally: control characters (terminal escapes) made visible, never obeyed."""

from __future__ import annotations

import re

# C0 and C1 controls and DEL; newline and tab are layout, kept. \r is kept only where the caller says so.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_NO_CR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _escape(m: re.Match) -> str:
    return f"\\x{ord(m.group()):02x}"


def printable(text: str, keep_cr: bool = False) -> str:
    """``text`` with every control character written as ``\\xNN``: a file named ``a\\x1b[31m`` prints as
    that, instead of turning the terminal red."""
    return (_CONTROL_NO_CR if keep_cr else _CONTROL).sub(_escape, text)


class PrintableStream:
    """Wraps a text stream so that whatever is written reaches the terminal with its controls made visible."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, s: str) -> int:
        self._stream.write(printable(s, keep_cr=True))
        return len(s)

    def __getattr__(self, name):
        return getattr(self._stream, name)

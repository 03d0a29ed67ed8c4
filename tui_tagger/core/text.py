"""Showing text from files literally: control characters (terminal escapes) made visible, never obeyed."""

from __future__ import annotations

import re

# C0 and C1 controls and DEL (newline and tab are layout, kept; \r only where the caller says so), and
# characters that rearrange what the terminal shows without being controls: bidirectional overrides and
# isolates ("Trojan Source"), line and paragraph separators. Shown as \\uNNNN.
# Lone surrogates are the bytes of names that are not UTF-8 (``os.fsdecode``): shown as the byte, \\xNN.
_INVISIBLE = "\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff"
_CONTROL = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{_INVISIBLE}]")
_CONTROL_NO_CR = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{_INVISIBLE}]")
# What JSON (ensure_ascii=False) leaves raw but a terminal would obey: DEL, C1 controls, the above.
_JSON_RAW = re.compile(f"[\\x7f-\\x9f{_INVISIBLE}]")


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # a byte of a non-UTF-8 file name
        c -= 0xDC00
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def json_text(value, **kwargs) -> str:
    """``json.dumps(value, ensure_ascii=False)`` with DEL, C1 controls, bidi overrides and lone surrogates
    (non-UTF-8 file names) written as ``\\uNNNN`` escapes: still the exact strings for a JSON reader
    (``os.fsencode`` gives back the name's bytes), valid UTF-8, nothing a terminal obeys (and nothing that
    ``PrintableStream`` would have to rewrite, which would break the JSON)."""
    import json

    text = json.dumps(value, ensure_ascii=False, **kwargs)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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

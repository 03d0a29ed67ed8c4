"""Showing text from files literally: control characters (terminal escapes) made visible, never obeyed.

``printable`` is the one function every name and value from a file (file names, tag names, sources, XML
text, metadata, error messages that quote them) goes through before it is shown, on the command line and
in the TUI alike. ``json_text`` is JSON's own escaping of the same characters, for machine-readable output.
"""

from __future__ import annotations

import re

# What a terminal would obey or that changes what it shows without being seen: C0 controls, DEL, C1
# controls, Unicode format characters (category Cf: bidirectional overrides, embeddings and isolates
# ("Trojan Source"), zero-width spaces and joiners, the BOM, soft hyphen, invisible tag characters),
# line and paragraph separators (Zl, Zp), and lone surrogates (the bytes of names that are not UTF-8,
# from ``os.fsdecode``). The Cf list is Unicode 14's (tests check it against the running Python's).
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\ud800-\udfff"
)
_CONTROL = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_FORMAT}]")
_CONTROL_LAYOUT = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{_FORMAT}]")  # keeps \t \n \r
# What JSON (ensure_ascii=False) leaves raw but a terminal would obey: DEL, C1 controls, the above.
_JSON_RAW = re.compile(f"[\\x7f-\\x9f{_FORMAT}]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_LAYOUT = str.maketrans("", "", "\t\n\r")


def _escape(m: re.Match) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named:
        return named
    c = ord(ch)
    if 0xDC80 <= c <= 0xDCFF:  # a byte of a non-UTF-8 file name
        c -= 0xDC00
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" if c < 0x10000 else f"\\U{c:08x}"


def printable(text: str, layout: bool = False) -> str:
    """``text`` as shown to a person: every character a terminal would obey, or that would hide or reorder
    what it shows, written as a visible escape in Python's string-literal style:

    - tab, newline, carriage return: ``\\t`` ``\\n`` ``\\r``;
    - other C0 controls, DEL, C1 controls: ``\\xNN`` (``a\\x1b[31m``, ``\\x9b31m``), so a file name
      cannot turn the terminal red;
    - format characters (bidi overrides like U+202E, zero-width spaces, the BOM, ...) and the line and
      paragraph separators: ``\\uNNNN`` (``\\xNN`` below U+0100, the soft hyphen; ``\\UNNNNNNNN`` above
      U+FFFF), as Python's ``repr`` writes them;
    - a byte of a file name that is not UTF-8 (a lone surrogate from ``os.fsdecode``): that byte, ``\\xNN``.

    Everything else is kept, backslashes included (so the escapes are not reversible; JSON output is the
    exact form, ``json_text``), and Rich markup is not special here: show the result as ``rich.text.Text``,
    never as a markup string. ``printable(printable(s)) == printable(s)``.

    ``layout=True`` is for the program's own text, whole output lines or multi-line messages it composed:
    tab, newline and carriage return are kept as layout there, everything else is escaped as above. The
    names and values put into such text must have gone through ``printable(name)`` first, or a newline in
    a name would start a line of its own.
    """
    if text.isprintable():  # nearly every name: no regex pass
        return text
    if layout and text.translate(_LAYOUT).isprintable():  # lines of output: no regex pass either
        return text
    return (_CONTROL_LAYOUT if layout else _CONTROL).sub(_escape, text)


def _json_escape(m: re.Match) -> str:
    c = ord(m.group())
    if c < 0x10000:
        return f"\\u{c:04x}"
    c -= 0x10000  # a UTF-16 surrogate pair, as JSON writes characters above U+FFFF
    return f"\\u{0xD800 + (c >> 10):04x}\\u{0xDC00 + (c & 0x3FF):04x}"


def json_text(value, **kwargs) -> str:
    """``json.dumps(value, ensure_ascii=False)`` with DEL, C1 controls, format characters (bidi overrides)
    and lone surrogates (non-UTF-8 file names) written as ``\\uNNNN`` escapes (JSON itself writes C0
    controls as ``\\n``, ``\\t``, ``\\u001b``): still the exact strings for a JSON reader (``os.fsencode``
    gives back a name's bytes), valid UTF-8, nothing a terminal obeys (and nothing that
    ``PrintableStream`` would have to rewrite, which would break the JSON)."""
    import json

    text = json.dumps(value, ensure_ascii=False, **kwargs)
    return _JSON_RAW.sub(_json_escape, text)


class PrintableStream:
    """Wraps a text stream so that whatever is written reaches the terminal with its controls made visible:
    ``printable(s, layout=True)``, the safety net under the commands' output (which escape each name with
    ``printable`` where they put it into a line, so that a newline in a name shows as ``\\n``)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, s: str) -> int:
        self._stream.write(printable(s, layout=True))
        return len(s)

    def __getattr__(self, name):
        return getattr(self._stream, name)

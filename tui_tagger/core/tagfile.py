"""Tag files: read, edit and write the field's ``tag_list`` XML; read the pipelines' results XML.

Edits are applied to the parsed lxml tree in place (never regenerated), so whatever tui-tagger does not
understand -- unknown elements and attributes, comments, processing instructions, the order of existing
tags -- survives a rewrite. ``TagFile.tags`` is the model: callers may edit it directly or through
``add``/``remove``; ``to_bytes`` brings the tree in line with it.

Safety rules:
- parsing never resolves entities, never loads a DTD, never touches the network, refuses files over
  ``MAX_BYTES`` and files that declare entities (billion laughs, XXE);
- a file that does not parse is never overwritten (``read`` raises; ``save`` re-checks the target);
- a results XML (``<DataFile>``) is another program's output: ``save`` refuses to write over it. Give the
  TagFile another ``path`` (``TagStore`` does: ``NAME.tag``) and it is saved there in the tag_list form.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from tui_tagger.core.atomic import atomic_write_bytes
from tui_tagger.core.text import printable
from tui_tagger.core.errors import ForeignXml, TagFileError
from tui_tagger.core.regular import NotRegularFile, open_regular, read_regular
from tui_tagger.core.vocabulary import FIELD_EXTRAS, GROUPS, KNOWN_IDS, OTHER_GROUP, Attribute, default_vocabulary

MAX_BYTES = 4 * 1024 * 1024  # real tag files are ~2 KiB; anything this big is not one
INDENT = "    "  # the real files' indentation
GRID_NAME = "grid main features"
PREDICTIONS = "predictions"
# Containers tui-tagger creates for a tag; emptied ones are removed with their last tag.
_CONTAINERS = ("col_tag", "row_tag", "grid", "secondary_category", "primary_category")
_NAME_OF_ID = {v: k for k, v in KNOWN_IDS.items()}
_TRUE = {"true", "1", "yes"}
_DECL_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


@dataclass(frozen=True)
class Tag:
    name: str
    id: int | None = None
    source: str | None = None  # "human" | "model" | "synthetic" | None when the file does not say
    p: float | None = None  # the model's probability, for source="model"


_VOCAB = None


def _vocab():
    global _VOCAB
    if _VOCAB is None:
        _VOCAB = default_vocabulary()
    return _VOCAB


def _attribute(name: str) -> Attribute:
    """The vocabulary entry for ``name`` (case-insensitive), or an ad-hoc one for an unknown tag."""
    return _vocab().get(name) or Attribute(name, FIELD_EXTRAS.get(name, OTHER_GROUP), 0, KNOWN_IDS.get(name), False)


_PARSERS = threading.local()


def _parser() -> etree.XMLParser:
    """The safe parser, one per thread (an lxml parser is reusable, not shareable between threads)."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
        )
    return parser


def _local(el) -> str:
    """Element name without namespace; '' for comments and processing instructions."""
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def _float(text: str | None) -> float | None:
    """A finite number, else None: 'nan', 'inf' or '1e999' in a file say nothing (the text stays as it is)."""
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _fmt_p(p: float) -> str:
    return f"{p:.6g}"


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def parse_xml(path: Path, data: bytes):
    """Parse ``data`` (the bytes of ``path``) safely; return the root element or raise TagFileError."""
    if len(data) > MAX_BYTES:
        raise TagFileError(path, f"is {len(data) / 2**20:.1f} MiB; a tag file is small (limit {MAX_BYTES // 2**20} MiB)")
    if not data.strip():
        raise TagFileError(path, "is empty; not a tag file (left as it is)")
    if b"<!ENTITY" in data:  # billion laughs, XXE: refuse before libxml2 sees them
        raise TagFileError(path, "declares XML entities; refused (tag files never need them)")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        line = err.lineno if isinstance(err.lineno, int) and err.lineno > 0 else None
        msg = getattr(err, "msg", None) or str(err)
        raise TagFileError(path, f"not valid XML ({msg}); the file is left as it is", line) from None
    except ValueError as err:  # e.g. an unsupported encoding declaration
        raise TagFileError(path, f"not valid XML ({err}); the file is left as it is") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise TagFileError(path, "declares XML entities; refused (tag files never need them)")
    return root


def _read_bytes(path: Path) -> tuple[bytes, tuple[int, int, int]]:
    try:
        # a FIFO or device named x.tag is refused, never waited on; what fstat says is there is read (a
        # read of MAX_BYTES + 1 would allocate 4 MiB per file)
        data, st = read_regular(path, MAX_BYTES)
        if st.st_size > MAX_BYTES:
            raise TagFileError(path, f"is {st.st_size / 2**20:.1f} MiB; a tag file is small (limit {MAX_BYTES // 2**20} MiB)")
    except FileNotFoundError:
        raise TagFileError(path, "no such tag file") from None
    except IsADirectoryError:
        raise TagFileError(path, "is a folder, not a tag file") from None
    except NotRegularFile as err:
        raise TagFileError(path, err.strerror) from None  # "not a regular file (a FIFO)"
    except OSError as err:
        raise TagFileError(path, f"cannot read: {err.strerror or err}") from None
    return data, (st.st_size, st.st_mtime_ns, st.st_ino)


def _timestamp_key(text: str | None) -> tuple[int, float, str]:
    """Sort key for a protocol's end_timestamp: epoch seconds or ISO 8601; missing sorts first."""
    if not text:
        return (0, 0.0, "")
    value = _float(text)
    if value is None:
        try:
            d = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            if d.tzinfo is None:
                d = d.replace(tzinfo=_dt.timezone.utc)
            value = d.timestamp()
        except ValueError:
            return (1, 0.0, text)
    return (2, value, text)


def _result_name(raw: str) -> str:
    """Map a results-XML name ("features.main.ring: isotropic") to the vocabulary's spelling."""
    parts = [p.strip() for p in raw.split(".")]
    for i in range(len(parts) - 1, -1, -1):  # the last component first, then longer suffixes
        attr = _vocab().get(".".join(parts[i:]))
        if attr is not None:
            return attr.name
    return parts[-1] or raw.strip()


# ---------------------------------------------------------------------------------------------------
# whitespace-aware tree edits (keep the file looking like the real ones)


def _depth(el) -> int:
    return sum(1 for _ in el.iterancestors())


def _insert(parent, child, index: int | None, indent: str | None) -> None:
    """Insert ``child`` at ``index`` (None = end) among parent's children, indented by ``indent`` per
    level (None: the file is not indented, add no whitespace)."""
    kids = list(parent)
    pretty = indent is not None
    if index is None or index >= len(kids):
        if pretty:
            depth = _depth(parent)
            inner, outer = "\n" + indent * (depth + 1), "\n" + indent * depth
            if kids:
                child.tail = kids[-1].tail if (kids[-1].tail or "").strip() == "" else outer
                kids[-1].tail = inner if (kids[-1].tail or "").strip() == "" else kids[-1].tail
            else:
                if not (parent.text or "").strip():
                    parent.text = inner
                child.tail = outer
        parent.append(child)
    else:
        if pretty:
            child.tail = "\n" + indent * (_depth(parent) + 1)
        parent.insert(index, child)


def _remove(el) -> None:
    """Remove ``el`` keeping the neighbours' indentation and any text that followed it."""
    parent = el.getparent()
    if parent is None:
        return
    prev = el.getprevious()
    tail = el.tail or ""
    if tail.strip() or el.getnext() is None:
        # the tail carries text, or closes the parent's indentation: hand it to the previous node
        if prev is not None:
            prev.tail = tail if not (prev.tail or "").strip() else (prev.tail or "") + tail
        else:
            parent.text = tail if not (parent.text or "").strip() else (parent.text or "") + tail
    parent.remove(el)


def _indent_of(root) -> str | None:
    """The file's indentation unit, from the whitespace before its first child (4 spaces if empty)."""
    if len(root) == 0:
        return INDENT
    lead = root.text or ""
    if "\n" not in lead:
        return None
    unit = lead.rsplit("\n", 1)[1]
    return unit if unit and not unit.strip() else INDENT


def _is_empty_container(el) -> bool:
    return (
        _local(el) in _CONTAINERS
        and len(el) == 0
        and not (el.text or "").strip()
        and set(el.attrib) <= {"name"}
    )


def _find_child(parent, local: str, name: str | None):
    for c in parent:
        if _local(c) == local and (name is None or (c.get("name") or "").strip().lower() == name.lower()):
            return c
    return None


def _make(parent, local: str, **attrs):
    ns = etree.QName(parent).namespace if isinstance(parent.tag, str) else None
    return etree.Element(f"{{{ns}}}{local}" if ns else local, attrs)


def _tag_elements(root, maybe_predictions: bool = True):
    """(name, id, element) of each <tag> of a tag_list outside the predictions block, in document order; an
    empty <tag/> with an unknown id is no tag (kept in the tree). ``maybe_predictions`` False: the caller
    knows the file has no predictions block."""
    inside_predictions = set(root.iterfind(f".//{{*}}{PREDICTIONS}//{{*}}tag")) if maybe_predictions else ()
    for el in root.iter("{*}tag"):
        if inside_predictions and el in inside_predictions:
            continue
        tid = el.get("id")
        tid = _int(tid) if tid is not None else None
        text = "".join(el.itertext()) if len(el) else el.text  # no children: the text is all there is
        name = " ".join(text.split()) if text else ""
        if not name and tid is not None:
            name = _NAME_OF_ID.get(tid, "")
        if name:
            yield name, tid, el


def _latest_predictions(root):
    """(the newest <predictions> block or None, its {name: p})."""
    blocks = [c for c in root if isinstance(c.tag, str) and _local(c) == PREDICTIONS]
    if not blocks:
        return None, {}
    block = max(blocks, key=lambda b: _timestamp_key(b.get("time")))
    predictions = {}
    for p in block:
        value = _float(p.get("value"))
        if _local(p) == "p" and p.get("name") and value is not None:
            predictions[p.get("name")] = value
    return block, predictions


def read_tags(path: str) -> tuple[dict[str, str | None], dict[str, float]]:
    """What a catalog lists of a tag file: ({name: source}, {name: p}), exactly as ``TagFile.read(path)``
    gives them in ``tags`` / ``predictions`` (the same parsing and checks, the same TagFileError), without
    building a TagFile: several times faster, for scans of many files."""
    data, _ = _read_bytes(path)
    root = parse_xml(path, data)
    if _local(root) != "tag_list":
        tf = TagFile.from_bytes(path, data)  # results XML, or not a tag file: the full reader says which
        return {name: tag.source for name, tag in tf.tags.items()}, tf.predictions
    tags: dict[str, str | None] = {}
    # no "predictions" in the bytes: no block (unless they are UTF-16/32: a BOM or NULs, then look)
    maybe = b"predictions" in data or not data[:1].isascii() or b"\x00" in data[:8]
    for name, _, el in _tag_elements(root, maybe):
        if name not in tags:
            tags[name] = el.get("source")
    return tags, _latest_predictions(root)[1] if maybe else {}


# ---------------------------------------------------------------------------------------------------


class TagFile:
    """One image's tag file. ``kind`` is "tag_list" (the field's format, read and written) or "results"
    (an analysis pipeline's DataFile XML: read; saved only to another path, in the tag_list form)."""

    def __init__(self, path: Path, image_name: str):
        self.path = Path(path)
        self.image_name = image_name
        self.tags: dict[str, Tag] = {}
        self.predictions: dict[str, float] = {}
        self.prediction_model: str | None = None
        self.prediction_time: str | None = None
        self.kind = "tag_list"
        self.read_from: Path | None = None  # the file the tags were read from (None: new)
        self._disk: tuple[int, int, int] | None = None  # (size, mtime_ns, inode) of read_from as read
        self._base: dict[str, Tag] = {}  # tags as read, the base of a three-way merge
        self._pred_read: tuple = ({}, None)
        self._root = None
        self._elements: dict[str, list] = {}
        self._indent: str | None = INDENT  # indentation unit; None for files written on one line
        self._declared_encoding: str | None = None

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def new(cls, path: str | Path, image_name: str | None = None) -> "TagFile":
        """An empty tag_list for ``image_name`` (default: the file's stem); nothing written yet."""
        path = Path(path)
        tf = cls(path, image_name if image_name is not None else path.stem)
        # XML 1.0 cannot hold control characters: a name that has them is kept in its visible form
        tf._root = etree.Element("tag_list", filename=printable(tf.image_name))
        return tf

    @classmethod
    def read(cls, path: str | Path) -> "TagFile":
        """Read a tag_list or results XML; TagFileError (with the line) for anything unreadable."""
        path = Path(path)
        data, disk = _read_bytes(path)
        tf = cls(path, path.stem)
        tf._load(data)
        tf.read_from, tf._disk = path, disk
        return tf

    @classmethod
    def from_bytes(cls, path: str | Path, data: bytes) -> "TagFile":
        """Parse ``data`` as if it were the file ``path`` (not read from disk)."""
        tf = cls(Path(path), Path(path).stem)
        tf._load(data)
        return tf

    def _load(self, data: bytes) -> None:
        root = parse_xml(self.path, data)
        m = _DECL_ENCODING.match(data)
        self._declared_encoding = m.group(1).decode("ascii") if m else None
        kind = _local(root)
        if kind == "tag_list":
            self._load_tag_list(root)
        elif kind == "DataFile":
            self._load_results(root)
        else:
            raise ForeignXml(self.path, f"not a tag file: root element <{kind}> (expected <tag_list> or <DataFile>)", root.sourceline)
        self._base = dict(self.tags)
        self._pred_read = (dict(self.predictions), self.prediction_model)

    def _load_tag_list(self, root) -> None:
        self.kind = "tag_list"
        self._root = root
        self._indent = _indent_of(root)
        self.image_name = root.get("filename") or self.image_name
        self.tags, self._elements = {}, {}
        for name, tid, el in _tag_elements(root):
            self._elements.setdefault(name, []).append(el)
            if name not in self.tags:
                self.tags[name] = Tag(name, tid, el.get("source"), _float(el.get("p")))
        block, predictions = _latest_predictions(root)
        if block is not None:
            self.prediction_model = block.get("model")
            self.prediction_time = block.get("time")
            self.predictions = predictions

    def _load_results(self, root) -> None:
        self.kind = "results"
        self._root = None
        self.image_name = root.get("name") or self.image_name
        latest: dict[str, object] = {}
        for prot in root.iter():
            if _local(prot) != "protocol":
                continue
            key = prot.get("name") or ""
            if key not in latest or _timestamp_key(prot.get("end_timestamp")) >= _timestamp_key(latest[key].get("end_timestamp")):
                latest[key] = prot
        self.tags = {}
        for prot in latest.values():
            for res in prot.iter():
                if _local(res) != "result" or not res.get("name"):
                    continue
                if (res.get("value") or res.text or "").strip().lower() not in _TRUE:
                    continue
                name = _result_name(res.get("name"))
                if name not in self.tags:
                    self.tags[name] = Tag(name, _attribute(name).id, res.get("source"), _float(res.get("p")))

    # -- the model ------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self.tags)

    def _key(self, name: str) -> str | None:
        """The existing tag's name for ``name``: exact, else case-insensitive."""
        name = " ".join(name.split())
        if name in self.tags:
            return name
        lower = name.lower()
        return next((k for k in self.tags if k.lower() == lower), None)

    def has(self, name: str) -> bool:
        return self._key(name) is not None

    def get(self, name: str) -> Tag | None:
        key = self._key(name)
        return None if key is None else self.tags[key]

    def add(self, name: str, source: str | None = "human", p: float | None = None) -> Tag:
        """Add ``name`` (or update its source/p where present, keeping the file's spelling)."""
        name = " ".join(name.split())
        if not name:
            raise TagFileError(self.path, "empty tag name")
        if printable(name) != name:
            raise TagFileError(self.path, f"tag name {printable(name)!r} has control characters")
        key = self._key(name) or name
        old = self.tags.get(key)
        tid = old.id if old and old.id is not None else _attribute(key).id
        tag = Tag(key, tid, source, None if p is None else float(p))
        self.tags[key] = tag
        return tag

    def remove(self, name: str) -> bool:
        """Remove ``name`` (case-insensitive); False when the file did not have it."""
        key = self._key(name)
        if key is None:
            return False
        del self.tags[key]
        return True

    def set_predictions(self, model: str, probs: dict[str, float], time: str | None = None) -> None:
        """Model scores that are not accepted tags (a separate block old readers ignore)."""
        self.prediction_model = model
        self.predictions = {str(k): float(v) for k, v in probs.items()}
        self.prediction_time = time or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()

    @property
    def dirty(self) -> bool:
        """Whether the tags or predictions differ from the file as read (or this is a new file)."""
        return (
            self.read_from is None
            or self.tags != self._base
            or (self.predictions, self.prediction_model) != self._pred_read
        )

    # -- change detection -----------------------------------------------------------------------

    @property
    def size(self) -> int | None:
        return self._disk[0] if self._disk else None

    @property
    def mtime_ns(self) -> int | None:
        return self._disk[1] if self._disk else None

    def changed_on_disk(self) -> bool:
        """Whether ``path`` differs from what this TagFile last read or wrote (created, replaced, deleted)."""
        expected = self._disk if self.read_from == self.path else None
        return _stat(self.path) != expected

    # -- writing --------------------------------------------------------------------------------

    def _sync(self) -> None:
        """Bring the tree in line with ``tags`` and ``predictions``, touching only what changed."""
        root = self._root
        for name in [n for n in self._elements if n not in self.tags]:
            for el in self._elements.pop(name):
                self._remove_with_containers(el)
        for name, tag in self.tags.items():
            els = self._elements.get(name)
            if not els:
                self._elements[name] = [self._insert_tag(name, tag)]
                continue
            for el in els:
                _set_attr(el, "id", tag.id, _int(el.get("id")), str)
                _set_attr(el, "source", tag.source, el.get("source"), str)
                _set_attr(el, "p", tag.p, _float(el.get("p")), _fmt_p)
        if (self.predictions, self.prediction_model) != self._pred_read or (
            self.predictions and not any(_local(c) == PREDICTIONS for c in root)
        ):
            for old in [c for c in root if _local(c) == PREDICTIONS]:
                _remove(old)
            if self.predictions:
                block = _make(root, PREDICTIONS)
                if self.prediction_model:
                    block.set("model", self.prediction_model)
                if self.prediction_time:
                    block.set("time", self.prediction_time)
                _insert(root, block, None, self._indent)
                for name, value in self.predictions.items():
                    _insert(block, _make(block, "p", name=name, value=_fmt_p(value)), None, self._indent)
            self._pred_read = (dict(self.predictions), self.prediction_model)

    def _remove_with_containers(self, el) -> None:
        parent = el.getparent()
        _remove(el)
        while parent is not None and parent is not self._root and _is_empty_container(parent):
            up = parent.getparent()
            _remove(parent)
            parent = up

    def _insert_tag(self, name: str, tag: Tag):
        attr = _attribute(name)
        primary_name, secondary_name = attr.placement
        root, pretty = self._root, self._indent  # pretty: the indentation unit
        primary = _find_child(root, "primary_category", primary_name)
        if primary is None:
            primary = _make(root, "primary_category", name=primary_name)
            _insert(root, primary, self._primary_index(primary_name), pretty)
        secondary = _find_child(primary, "secondary_category", secondary_name)
        if secondary is None:
            secondary = _make(primary, "secondary_category", name=secondary_name)
            _insert(primary, secondary, None, pretty)
        parent = secondary
        if attr.grid is not None:
            row_name, col_name = attr.grid
            grid = _find_child(secondary, "grid", None)
            if grid is None:
                grid = _make(secondary, "grid", name=GRID_NAME)
                _insert(secondary, grid, None, pretty)
            row = _find_child(grid, "row_tag", row_name)
            if row is None:
                row = _make(grid, "row_tag", name=row_name)
                _insert(grid, row, None, pretty)
            parent = _find_child(row, "col_tag", col_name)
            if parent is None:
                parent = _make(row, "col_tag", name=col_name)
                _insert(row, parent, None, pretty)
        el = _make(parent, "tag")
        if tag.id is not None:  # the id first: the field's MATLAB reader scans for '<tag id="'
            el.set("id", str(tag.id))
        if tag.source is not None:
            el.set("source", tag.source)
        if tag.p is not None:
            el.set("p", _fmt_p(tag.p))
        el.text = name
        _insert(parent, el, None, pretty)
        return el

    def _primary_index(self, primary_name: str) -> int | None:
        """Where a new primary category goes: in G1..G7 order among the existing ones."""
        order = {v.lower(): i for i, v in enumerate(GROUPS.values())}
        mine = order.get(primary_name.lower(), len(order))
        last = None
        for i, c in enumerate(self._root):
            if _local(c) != "primary_category":
                continue
            if order.get((c.get("name") or "").strip().lower(), len(order)) > mine:
                return i
            last = i
        return None if last is None else last + 1

    def to_bytes(self) -> bytes:
        """The file's bytes with the current tags: the tag_list form (a results XML is converted)."""
        if self.kind == "results":
            fresh = TagFile.new(self.path, self.image_name)
            fresh.tags = dict(self.tags)
            fresh.predictions, fresh.prediction_model = dict(self.predictions), self.prediction_model
            fresh.prediction_time = self.prediction_time
            return fresh.to_bytes()
        self._sync()
        tree = self._root.getroottree()
        enc = self._declared_encoding or "UTF-8"
        if enc.lower().replace("_", "-") in ("utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1"):
            # keep the real files' plain declaration (lxml would add encoding='UTF-8' in single quotes)
            body = etree.tostring(tree, encoding=enc, xml_declaration=False)
            decl = f'<?xml version="1.0" encoding="{enc}"?>\n' if self._declared_encoding else '<?xml version="1.0"?>\n'
            return decl.encode("ascii") + body + b"\n"
        return etree.tostring(tree, encoding=enc, xml_declaration=True)

    def save(self, fsync: bool = True) -> None:
        """Write atomically to ``path``. Refuses to write over a results XML or a file that does not parse."""
        target = self.path
        if self.kind == "results" and self.read_from is not None and _same_file(self.read_from, target):
            raise TagFileError(target, "is a results XML from an analysis pipeline; tui-tagger does not overwrite it "
                               "(its tags are saved to NAME.tag, or use --tags-dir DIR)")
        if self.changed_on_disk() and _stat(target) is not None:
            self._check_overwritable(target)
        data = self.to_bytes()
        try:
            atomic_write_bytes(target, data, fsync=fsync)
        except FileNotFoundError:
            raise TagFileError(target, "cannot write: the folder does not exist") from None
        except OSError as err:
            raise _write_error(target, err) from None
        if self.kind == "results":  # from now on this is the tag_list file just written
            self._load(data)
        self.read_from, self._disk = target, _stat(target)
        self._base = dict(self.tags)
        self._pred_read = (dict(self.predictions), self.prediction_model)

    def _check_overwritable(self, target: Path) -> None:
        """A file we did not read (or that changed since) is overwritten only if it is a tag_list."""
        data, _ = _read_bytes(target)
        try:
            root = parse_xml(target, data)
        except TagFileError as err:
            raise TagFileError(target, f"refusing to overwrite a tag file that does not parse ({err.problem})", err.line) from None
        if _local(root) != "tag_list":
            raise TagFileError(target, f"refusing to overwrite: root element <{_local(root)}> is not a tag_list")

    # -- merging --------------------------------------------------------------------------------

    def merge_from_disk(self) -> list[str]:
        """Three-way merge of this file's edits with the version now on disk; returns the conflicts.

        After it, this TagFile holds the disk version's tree (so its unknown content is kept) with the
        merged tags; ``save`` then writes the merge. When the file was deleted on disk, nothing changes.
        """
        if _stat(self.path) is None:
            return []
        disk = TagFile.read(self.path)
        merged, conflicts = merge_tags(self._base, self.tags, disk.tags)
        mine_preds = (self.predictions, self.prediction_model) != self._pred_read
        preds = (dict(self.predictions), self.prediction_model, self.prediction_time)
        for attr in ("kind", "read_from", "_disk", "_root", "_elements", "_indent", "_declared_encoding",
                     "image_name", "predictions", "prediction_model", "prediction_time"):
            setattr(self, attr, getattr(disk, attr))
        self._base = dict(disk.tags)
        self._pred_read = (dict(disk.predictions), disk.prediction_model)
        self.tags = merged
        if mine_preds:
            self.predictions, self.prediction_model, self.prediction_time = preds
        return conflicts

    def __repr__(self) -> str:
        return f"TagFile({str(self.path)!r}, {self.names!r})"


def _set_attr(el, key: str, want, have, fmt) -> None:
    """Set or drop one attribute only where the model differs from the file (keeps '012' as '012')."""
    if want == have:
        return
    if want is None:
        el.attrib.pop(key, None)
    else:
        el.set(key, fmt(want))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a == b or os.path.samefile(a, b)
    except OSError:
        return False


def _write_error(path: Path, err: OSError) -> TagFileError:
    import errno

    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return TagFileError(path, "cannot write: the folder is read-only; use --tags-dir DIR to keep tag files elsewhere")
    return TagFileError(path, f"cannot write: {err.strerror or err}")


def merge_tags(
    base: dict[str, Tag], mine: dict[str, Tag], theirs: dict[str, Tag]
) -> tuple[dict[str, Tag], list[str]]:
    """Three-way merge, tag by tag. A change on one side only is taken; both sides agreeing is taken.
    Where both changed a tag differently: a removal loses to a change (nothing is silently dropped),
    otherwise this side ("mine") wins; each such case is reported in ``conflicts``."""
    merged: dict[str, Tag] = {}
    conflicts: list[str] = []
    for name in [*mine, *(n for n in theirs if n not in mine), *(n for n in base if n not in mine and n not in theirs)]:
        b, m, t = base.get(name), mine.get(name), theirs.get(name)
        if m == t:
            pick = m
        elif m == b:
            pick = t
        elif t == b:
            pick = m
        elif m is None:
            pick = t
            conflicts.append(f"{name}: removed here but changed on disk ({_describe(t)}); kept")
        elif t is None:
            pick = m
            conflicts.append(f"{name}: changed here ({_describe(m)}) but removed on disk; kept")
        else:
            pick = m
            conflicts.append(f"{name}: here {_describe(m)}, on disk {_describe(t)}; kept this side's")
        if pick is not None:
            merged[name] = pick
    return merged, conflicts


def _describe(tag: Tag) -> str:
    bits = [f"source={tag.source}" if tag.source else "no source"]
    if tag.p is not None:
        bits.append(f"p={_fmt_p(tag.p)}")
    return ", ".join(bits)


__all__ = ["Tag", "TagFile", "merge_tags", "parse_xml", "MAX_BYTES"]

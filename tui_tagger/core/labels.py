"""Label tables: CSV files of known labels (``file,tag,value``), for measuring a model on partially
labelled images (``tui-tagger evaluate DIR --labels FILE.csv``).

A row says that an image certainly shows a tag (value 1) or certainly does not (value 0). A tag that
has no row for an image is *not labelled* there: neither a positive nor a negative.

``file`` names the image relative to the folder evaluated (``sub/x.tif``). A bare name (no ``/``)
that is not found there is looked up in the folder's tree and used when exactly one image has that
name. A frame of a container can be named like any ref (``run.h5::/entry/data/data#3``); a label on
a container without a frame applies to each of its frames. No torch here."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from tui_tagger.core.errors import FileProblem

COLUMNS = ("file", "tag", "value")


@dataclass(frozen=True)
class Label:
    file: str  # as written in the CSV
    tag: str
    value: int  # 1: certainly present, 0: certainly absent
    where: str  # "labels.csv:12", for messages


def read_labels(path: str | Path) -> list[Label]:
    """The rows of one label CSV. Raises ``FileProblem`` (one line: file, line, problem) on a file that
    is not such a table: no ``file,tag,value`` header, a row with another number of fields, an empty
    file or tag, a value other than 0 or 1, the same image and tag given both values."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(_rows(path, fh))
    except OSError as err:
        raise FileProblem(path, err.strerror or str(err)) from None
    except UnicodeDecodeError:
        raise FileProblem(path, "not UTF-8 text") from None
    if not rows:
        raise FileProblem(path, "empty: a label table starts with the header file,tag,value")
    line, header = rows[0]
    names = [h.strip().lower() for h in header]
    if sorted(names) != sorted(COLUMNS):
        raise FileProblem(path, f"the header must be file,tag,value, not {','.join(header)[:80]}", line)
    col = {name: names.index(name) for name in COLUMNS}
    out: list[Label] = []
    seen: dict[tuple[str, str], Label] = {}
    for line, row in rows[1:]:
        if len(row) != len(COLUMNS):
            raise FileProblem(path, f"{len(row)} fields, not 3 (file,tag,value)", line)
        file, tag, value = (row[col[name]].strip() for name in COLUMNS)
        if not file:
            raise FileProblem(path, "no file name", line)
        if not tag:
            raise FileProblem(path, "no tag", line)
        if value not in ("0", "1"):
            raise FileProblem(path, f"the value must be 0 or 1, not {value[:20]!r}", line)
        label = Label(file, tag, int(value), f"{path}:{line}")
        before = seen.setdefault((file, tag), label)
        if before.value != label.value:
            raise FileProblem(path, f"{file}: {tag} is {label.value} here but {before.value} on {before.where}", line)
        if before is label:
            out.append(label)
    return out


def _rows(path: Path, fh):
    reader = csv.reader(fh, strict=True)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error as err:
        raise FileProblem(path, f"not a CSV table: {err}", reader.line_num) from None


@dataclass
class ImageLabels:
    """Labels placed on images: ``labels[ref][tag] = 0 or 1`` (each from one row), ``names[ref]`` how
    to show the image (its path relative to the folder), ``problems`` one line per CSV row whose file
    is not found (or is ambiguous)."""

    labels: dict[str, dict[str, int]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    where: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def tags(self) -> dict[str, int]:
        """Each tag with its number of labels."""
        out: dict[str, int] = {}
        for tags in self.labels.values():
            for tag in tags:
                out[tag] = out.get(tag, 0) + 1
        return out


def place_labels(labels: list[Label], dirs: list[str | Path]) -> ImageLabels:
    """Find each label's image under ``dirs`` (see the module doc for the rule). Labels of one image
    from several tables are merged; the same image and tag given both values raises ``FileProblem``."""
    from tui_tagger.core.formats import frame_refs
    from tui_tagger.core.tagstore import split_ref

    roots = [Path(d) for d in dirs]
    by_name: dict[str, list[Path]] | None = None
    found: dict[str, tuple[list[str], Path] | str] = {}  # file as written -> (refs, root) or a problem
    out = ImageLabels()
    for label in labels:
        if label.file not in found:
            file, dataset, index = split_ref(label.file)
            suffix = label.file[len(str(file)):] if dataset is not None or index is not None else ""
            hits = [file] if file.is_absolute() and file.is_file() else [
                r / file for r in roots if (r / file).is_file()]
            if not hits and not file.is_absolute() and len(file.parts) == 1:
                if by_name is None:
                    by_name = _files_by_name(roots)
                hits = by_name.get(file.name, [])
            if len(hits) == 1:
                path = hits[0]
                refs = [str(path) + suffix] if suffix else frame_refs(path)
                root = next((r for r in roots if _inside(path, r)), path.parent)
                found[label.file] = (refs, root)
            elif hits:
                found[label.file] = (f"{label.where}: {len(hits)} images match {label.file} "
                                     f"({', '.join(str(h) for h in hits[:3])}); give its path")
            else:
                found[label.file] = f"{label.where}: no image {label.file} under {', '.join(map(str, roots))}"
            if isinstance(found[label.file], str):
                out.problems.append(found[label.file])
        hit = found[label.file]
        if isinstance(hit, str):
            continue
        refs, root = hit
        for ref in refs:
            tags = out.labels.setdefault(ref, {})
            before = tags.get(label.tag)
            if before is not None and before != label.value:
                path, line = label.where.rsplit(":", 1)
                raise FileProblem(path, f"{label.file}: {label.tag} is {label.value} here but {before} on "
                                        f"{out.where[(ref, label.tag)]}", int(line))
            tags[label.tag] = label.value
            out.where.setdefault((ref, label.tag), label.where)
            out.names.setdefault(ref, _shown(ref, root))
    return out


def _files_by_name(roots: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                out.setdefault(name, []).append(Path(folder) / name)
    return out


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def _shown(ref: str, root: Path) -> str:
    prefix = str(root).rstrip(os.sep) + os.sep
    return ref[len(prefix):] if ref.startswith(prefix) else ref

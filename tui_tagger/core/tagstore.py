"""Where an image's tag file lives. One tag file per image, never two.

Naming rule (``NAME`` = the image's file name without its image extension):
- beside the image: an existing ``NAME.tag`` (the field's files) wins, else ``NAME.xml`` (tui-tagger's
  default for new files). Extensionless MarCCD frames (``AgBH_10sec_SAXS``) have ``NAME`` = the whole name;
  a suffix counts as an extension only when it looks like one (``.tif``, ``.cbf``, ``.h5``, ``.edf.gz``;
  not ``sample_0.5deg`` or ``th0.12_SAXS``).
- a frame inside a container, ``file.h5::/entry/data/data#12`` or ``file.h5#12``: ``file_12.xml``; when
  the dataset is not the NeXus default (its last path component is not ``data``), the dataset's last
  component is included: ``file.h5::/entry/data/data_000002#5`` -> ``file_data_000002_5.xml``.
- a results XML (``<DataFile>``, an analysis pipeline's output) found at ``NAME.xml`` is read for its tags
  but never written: edits go to ``NAME.tag``, which then wins. Another program's XML there (the frame's
  acquisition metadata: any other root element) is not a tag file: no tags, never written, edits to ``NAME.tag``.
- with ``tags_dir``: the same name, under ``tags_dir`` mirroring the image folder's absolute (real) path:
  ``/data/run3/s1/x.tif`` -> ``TAGS/data/run3/s1/x.xml``. The place depends on neither the current folder
  nor the folder a command was given, so ``tag``, ``tags``, ``search``, ``export``, the TUI and the model
  commands all agree whichever folder (or parent folder) they are run on. Tag files already beside the
  images are read until the first save writes the mirror copy.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from tui_tagger.core.errors import ForeignXml, ImageReadError, TagFileError
from tui_tagger.core.regular import NotRegularFile, check_regular, open_regular
from tui_tagger.core.tagfile import TagFile

TAG_SUFFIXES = (".tag", ".xml")
_COMPRESSED = {".gz", ".bz2", ".xz", ".zst"}
_EXTENSION = re.compile(r"^\.[A-Za-z][A-Za-z0-9]{0,7}$")  # .tif .cbf .h5 .mccd .mar3450; not .5deg, .12_SAXS


def split_ref(image: str | os.PathLike) -> tuple[Path, str | None, int | None]:
    """``file.h5::/entry/data/data#12`` -> (file.h5, "/entry/data/data", 12); plain paths pass through."""
    text = os.fspath(image)
    dataset = None
    index = None
    if "::" in text:
        text, dataset = text.split("::", 1)
        if "#" in dataset:
            dataset, _, idx = dataset.rpartition("#")
            index = int(idx) if idx.isdigit() else None
        dataset = dataset or None
    elif "#" in text and not os.path.exists(text):
        head, _, idx = text.rpartition("#")
        if idx.isdigit():
            text, index = head, int(idx)
    return Path(text), dataset, index


def _suffix(name: str) -> str:
    i = name.rfind(".")  # as Path(name).suffix
    return name[i:] if 0 < i < len(name) - 1 else ""


def file_stem(filename: str) -> str:
    """NAME of an image file name (no frame address): its tag file is NAME.tag or NAME.xml."""
    name = filename
    suffix = _suffix(name)
    if suffix.lower() in _COMPRESSED:
        name = name[: -len(suffix)]
        suffix = _suffix(name)
    if _EXTENSION.match(suffix) and len(name) > len(suffix):
        return name[: -len(suffix)]
    return filename  # "frame.gz" without an image extension: the name as it is


def image_stem(image: str | os.PathLike) -> tuple[Path, str]:
    """(folder, NAME) for an image ref: the tag file is folder/NAME.tag or folder/NAME.xml."""
    path, dataset, index = split_ref(image)
    name = file_stem(path.name)
    if dataset is not None:
        last = dataset.rstrip("/").rsplit("/", 1)[-1]
        if last and last != "data":
            name += "_" + re.sub(r"[^A-Za-z0-9._-]+", "_", last)
    if index is not None:
        name += f"_{index}"
    return path.parent, name


def image_label(image: str | os.PathLike) -> str:
    """The image as a tag file's ``filename`` names it: the file name, plus any frame address."""
    text = os.fspath(image)
    path = split_ref(image)[0]
    return path.name + text[len(os.fspath(path)):] if text.startswith(os.fspath(path)) else path.name


def is_tag_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in TAG_SUFFIXES


def _is_tag_list(path: Path) -> bool:
    """Cheap sniff: is the file's root element <tag_list>? False for a results <DataFile> or another program's
    XML (their tags go to NAME.tag); True also when it cannot tell (unreadable, not UTF-8): the file stays the
    target, and a save re-checks it and never writes over what is not a tag_list."""
    try:
        with open_regular(path) as fh:
            head = fh.read(4096)
    except OSError:  # a FIFO or device too: never waited on
        return True
    head = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head.removeprefix(b"\xef\xbb\xbf"), flags=re.S)
    m = re.match(rb"\s*<([A-Za-z_][\w.:-]*)", head)
    return m is None or m.group(1).rsplit(b":", 1)[-1] == b"tag_list"


def _present(path: Path) -> bool:
    """Whether ``path`` is there as a tag file: anything but a folder or a dangling link. A FIFO or device
    named NAME.tag counts (the catalog finds it too): reading it fails with "not a regular file (a FIFO)",
    so its tags are unknown and nothing is written beside it, rather than it being silently passed over."""
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def mirror_folder(tags_dir: Path | str, folder: Path | str, root: Path | str | None = None) -> Path:
    """The folder under ``tags_dir`` that mirrors ``folder``: ``tags_dir`` + the folder's absolute real path.

    With ``root`` (a folder being scanned) a folder lexically under it is placed by the root's real path plus
    the relative part, exactly as the catalog walks it (a symlinked sub-folder stays where the walk sees it).
    """
    real = None
    if root is not None:
        rel = os.path.relpath(os.path.abspath(folder), os.path.abspath(root))
        if rel != ".." and not rel.startswith(".." + os.sep):
            real = Path(os.path.realpath(root)) / rel if rel != "." else Path(os.path.realpath(root))
    if real is None:
        real = Path(os.path.realpath(folder))
    return Path(tags_dir) / real.relative_to(real.anchor)


class TagStore:
    def __init__(self, tags_dir: Path | str | None = None, root: Path | str | None = None):
        self.tags_dir = Path(tags_dir) if tags_dir is not None else None
        self.root = Path(root) if root is not None else None

    def _folder(self, folder: Path) -> Path:
        if self.tags_dir is None:
            return folder
        return mirror_folder(self.tags_dir, folder, self.root)

    @staticmethod
    def _existing(folder: Path, name: str) -> Path | None:
        for suffix in TAG_SUFFIXES:
            p = folder / (name + suffix)
            if _present(p):
                return p
        return None

    def beside(self, image: str | os.PathLike) -> Path | None:
        """The tag file that exists beside the image (None when there is none)."""
        folder, name = image_stem(image)
        return self._existing(folder, name)

    def path_for(self, image: str | os.PathLike) -> Path:
        """Where the image's tags are written (an existing NAME.tag wins, else NAME.xml)."""
        folder, name = image_stem(image)
        target = self._folder(folder)
        found = self._existing(target, name)
        if found is None and self.tags_dir is not None:
            beside = self._existing(folder, name)
            if beside is not None:  # keep the field's suffix in the mirror
                found = target / (name + beside.suffix)
        if found is None:
            return target / (name + ".xml")
        if found.suffix == ".xml" and found.exists() and not _is_tag_list(found):  # results or foreign XML
            return found.with_suffix(".tag")
        return found

    def read_candidates(self, image: str | os.PathLike) -> list[Path]:
        """The files the image's tags may be read from, in order; the first that exists wins: ``NAME.tag``
        before ``NAME.xml``, in the tags_dir mirror first, then beside the image (read until the first save
        writes the mirror copy). The catalog matches these against its folder listings."""
        folder, name = image_stem(image)
        folders = (self._folder(folder), folder) if self.tags_dir is not None else (folder,)
        return [where / (name + suffix) for where in folders for suffix in TAG_SUFFIXES]

    def source_for(self, image: str | os.PathLike) -> Path | None:
        """The file the image's tags are read from (None when it has none)."""
        return next((p for p in self.read_candidates(image) if _present(p)), None)

    def load(self, image: str | os.PathLike) -> TagFile | None:
        """The image's TagFile (None when it has none); its ``path`` is where ``save`` will write."""
        source = self.source_for(image)
        if source is None:
            return None
        try:
            tf = TagFile.read(source)
        except ForeignXml:
            if source.suffix.lower() != ".xml":
                raise
            return None  # another program's NAME.xml (the frame's metadata): not a tag file; NAME.tag will be
        tf.path = self.path_for(image)
        return tf

    def open(self, file: str | os.PathLike, create: bool = False) -> TagFile | None:
        """For a command-line FILE: a tag file itself (``.tag``/``.xml``) or an image ref.

        An image (or its container) that does not exist is an error: no tag file is made for a typo.
        """
        if is_tag_file(file) and "::" not in os.fspath(file):
            return TagFile.read(file)  # must exist: a tag file is never created from a typed name
        image = split_ref(file)[0]
        try:
            check_regular(image)
        except FileNotFoundError:
            raise ImageReadError(image, "no such file") from None
        except NotRegularFile as err:  # a FIFO or device named like an image: not an image, no tag file
            raise ImageReadError(image, err.strerror) from None
        except IsADirectoryError:  # `tag DIR --add X` made DIR.xml beside the folder and tagged no image
            raise ImageReadError(image, f"is a folder, not an image (give its images: {image}{os.sep}*)") from None
        except OSError:
            pass  # an unreadable one...: as before, the tag file is looked up all the same
        return self.load_or_new(file) if create else self.load(file)

    def load_or_new(self, image: str | os.PathLike) -> TagFile:
        tf = self.load(image)
        if tf is None:
            tf = TagFile.new(self.path_for(image), image_label(image))
        return tf

    def save(self, tagfile: TagFile, fsync: bool = True, merge: bool = True) -> list[str]:
        """Write the tag file (creating mirror folders); returns merge conflicts (usually none).

        With ``merge`` (the default) a file that someone else changed or created since it was read is
        merged tag by tag first (``TagFile.merge_from_disk``), so neither side's edits are lost; without
        it the file is replaced. A read-only folder raises a TagFileError naming --tags-dir.
        """
        folder = tagfile.path.parent
        if self.tags_dir is not None and not folder.is_dir():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise TagFileError(folder, f"cannot create the tag folder: {err.strerror or err}") from None
        conflicts = tagfile.merge_from_disk() if merge and tagfile.changed_on_disk() else []
        tagfile.save(fsync=fsync)
        return conflicts

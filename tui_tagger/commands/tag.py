"""``tui-tagger tag FILE... --add NAME --remove NAME``: edit the tag files of images (source="human")."""

from __future__ import annotations

from tui_tagger.commands.common import warn
from tui_tagger.commands.tags import store_from
from tui_tagger.core.errors import TaggerError
from tui_tagger.core.text import printable


def add_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="image (or frame ref file.h5::/entry/data/data#12) or its tag file")
    parser.add_argument("--add", action="append", default=[], metavar="NAME",
                        help="tag to add (repeatable); quote names with spaces: --add 'Ring: Isotropic'")
    parser.add_argument("--remove", action="append", default=[], metavar="NAME", help="tag to remove (repeatable)")
    parser.add_argument("--tags-dir", metavar="DIR",
                        help="tag files live under DIR, mirroring the images' folders relative to the current one")


def canonical_names(names: list[str], vocabulary) -> list[str]:
    """Vocabulary spelling for case-insensitive matches; unknown names are kept (open vocabulary),
    with a warning naming the nearest known ones when the name looks like a typo."""
    out = []
    for raw in names:
        name = " ".join(raw.split())
        if not name:
            raise TaggerError("empty tag name")
        if name in vocabulary:
            name = vocabulary.canonical(name)
        else:
            near = vocabulary.nearest(name)
            if near:
                warn(f"'{name}' is not a known tag (did you mean {', '.join(repr(n) for n in near)}?); using it as a new tag")
        out.append(name)
    return out


def run(args) -> int:
    from tui_tagger.config import Settings
    from tui_tagger.core.vocabulary import default_vocabulary

    if not args.add and not args.remove:
        raise TaggerError("nothing to do: give --add NAME and/or --remove NAME")
    vocabulary = default_vocabulary()
    adds = canonical_names(args.add, vocabulary)
    removes = canonical_names(args.remove, vocabulary)
    both = {n.lower() for n in adds} & {n.lower() for n in removes}
    if both:
        raise TaggerError(f"both added and removed: {', '.join(sorted(both))}")
    store = store_from(args)
    fsync = Settings.from_env().fsync
    failed = False
    for file in args.files:
        try:
            tf = store.open(file, create=True)
            added = []
            for name in adds:
                old = tf.get(name)
                if old is None:
                    added.append(name)
                if old is None or old.source not in (None, "human"):  # a hand-tagged file says no source
                    tf.add(name, source="human")
            removed = [n for n in removes if tf.remove(n)]
            if tf.dirty:
                store.save(tf, fsync=fsync)
        except TaggerError as err:
            warn(str(err))
            failed = True
            continue
        change = [f"+{printable(n)}" for n in added] + [f"-{printable(n)}" for n in removed]
        print(f"{printable(str(file))}: {' '.join(change) if change else 'unchanged'} -> {printable(str(tf.path))}")
    return 1 if failed else 0

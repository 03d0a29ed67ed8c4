"""The tag query language used by ``search`` and the TUI filter.

Grammar (precedence ``not`` > ``and`` > ``or``; keywords are case-insensitive)::

    expr   := and ("or" | "|" | "||") and ...
    and    := unary ("and" | "&" | "&&") unary ...
    unary  := ("not" | "!") unary | "(" expr ")" | term
    term   := NAME | SOURCE ":" NAME | "p(" NAME ")" CMP NUMBER
    NAME   := "double" or 'single' quoted text | a known tag name typed bare | bare words

Bare words: a known tag name typed as is wins, even where it holds a keyword or brackets
(``Higher orders: 20 or more``, ``Asymmetric (left/right)``); otherwise consecutive words up to the
next keyword or bracket form one name (``Thin film and GISAXS``). A ``*`` in a name is a wildcard
(``Ring: *``; ``not *`` = untagged). ``human:Name`` / ``model:Name`` / ``synthetic:Name`` match a
tag only where that source set it; ``p(Name) > 0.5`` tests a model prediction. Names are matched
case-insensitively and canonicalised through the vocabulary; an unknown name is a QueryError that
suggests the nearest known ones. An empty query matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from tui_tagger.core.errors import QueryError
from tui_tagger.core.vocabulary import Vocabulary

SOURCES = ("human", "model", "synthetic")
_KEYWORDS = {"and": "and", "or": "or", "not": "not", "&": "and", "&&": "and", "|": "or", "||": "or", "!": "not"}
_SPACE = re.compile(r"\s*")
_WORD = re.compile(r"[^\s()\"'&|!<>]+")
_SYMBOL = re.compile(r"&&|\|\||[&|!()]")
_CMP = re.compile(r"\s*(>=|<=|>|<)\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)")
_SOURCE = re.compile(r"(human|model|synthetic):", re.IGNORECASE)
_PRED = re.compile(r"p\(", re.IGNORECASE)
# A keyword ends where a word would: at a space, bracket, quote or symbol.
_KEYWORD = re.compile(r"(and|or|not)(?=[\s()\"'&|!]|$)", re.IGNORECASE)


# ---------------------------------------------------------------------------------------- the tree
# Each node's ``test(tags, predictions)`` gets ``tags`` as {lowercase name: source or None}.

@dataclass(frozen=True)
class _Name:
    name: str  # canonical spelling
    source: str | None = None

    def test(self, tags: dict, predictions: dict) -> bool:
        key = self.name.lower()
        if key not in tags:
            return False
        return self.source is None or tags[key] == self.source

    def __str__(self) -> str:
        prefix = f"{self.source}:" if self.source else ""
        return f'{prefix}"{self.name}"'


@dataclass(frozen=True)
class _Glob:
    pattern: str
    source: str | None = None

    def test(self, tags: dict, predictions: dict) -> bool:
        rx = _glob_regex(self.pattern)
        return any(rx.match(k) and (self.source is None or s == self.source) for k, s in tags.items())

    def __str__(self) -> str:
        prefix = f"{self.source}:" if self.source else ""
        return f'{prefix}"{self.pattern}"'


@dataclass(frozen=True)
class _Prob:
    name: str
    op: str
    value: float

    def test(self, tags: dict, predictions: dict) -> bool:
        p = predictions.get(self.name.lower())
        if p is None:
            return False
        return {">": p > self.value, ">=": p >= self.value, "<": p < self.value, "<=": p <= self.value}[self.op]

    def __str__(self) -> str:
        return f'p("{self.name}") {self.op} {self.value:g}'


@dataclass(frozen=True)
class _Not:
    arg: object

    def test(self, tags: dict, predictions: dict) -> bool:
        return not self.arg.test(tags, predictions)

    def __str__(self) -> str:
        return f"not {_wrap(self.arg, (_And, _Or))}"


@dataclass(frozen=True)
class _And:
    args: tuple

    def test(self, tags: dict, predictions: dict) -> bool:
        return all(a.test(tags, predictions) for a in self.args)

    def __str__(self) -> str:
        return " and ".join(_wrap(a, (_Or,)) for a in self.args)


@dataclass(frozen=True)
class _Or:
    args: tuple

    def test(self, tags: dict, predictions: dict) -> bool:
        return any(a.test(tags, predictions) for a in self.args)

    def __str__(self) -> str:
        return " or ".join(str(a) for a in self.args)


@dataclass(frozen=True)
class _All:
    def test(self, tags: dict, predictions: dict) -> bool:
        return True

    def __str__(self) -> str:
        return ""


def _wrap(node: object, looser: tuple) -> str:
    return f"({node})" if isinstance(node, looser) else str(node)


_GLOB_CACHE: dict[str, re.Pattern] = {}


def _glob_regex(pattern: str) -> re.Pattern:
    rx = _GLOB_CACHE.get(pattern)
    if rx is None:
        # only '*' is a wildcard: '?' and '[' appear in no tag name but are plain text to users
        rx = re.compile(".*".join(re.escape(p) for p in pattern.lower().split("*")) + r"\Z", re.DOTALL)
        _GLOB_CACHE[pattern] = rx
    return rx


# ---------------------------------------------------------------------------------------- the query

class Query:
    """A parsed query. ``str(query)`` is its canonical form (quoted names, minimal brackets)."""

    def __init__(self, text: str, root: object, names: frozenset[str]):
        self.text = text
        self._root = root
        self.names = names  # canonical tag names the query mentions (for highlighting)

    def matches(self, names: Collection[str] | Mapping[str, str | None],
                predictions: Mapping[str, float] | None = None) -> bool:
        """Whether tags ``names`` match. Pass a mapping name -> source for ``human:``/``model:`` terms
        (a plain set has no sources, so those terms never match it) and ``predictions`` for ``p()``."""
        if isinstance(names, Mapping):
            tags = {str(k).lower(): v for k, v in names.items()}
        else:
            tags = {str(k).lower(): None for k in names}
        preds = {str(k).lower(): float(v) for k, v in (predictions or {}).items()}
        return self._root.test(tags, preds)

    @property
    def uses_predictions(self) -> bool:
        """Whether a ``p(NAME) > x`` term is in it: without one, tags alone decide (an index can decide
        each distinct set of tags once)."""
        stack = [self._root]
        while stack:
            node = stack.pop()
            if isinstance(node, _Prob):
                return True
            stack.extend(getattr(node, "args", ()))
            if isinstance(node, _Not):
                stack.append(node.arg)
        return False

    def __str__(self) -> str:
        return str(self._root)

    def __repr__(self) -> str:
        return f"Query({str(self)!r})"


def parse_query(text: str, vocabulary: Vocabulary) -> Query:
    """Parse ``text``; raise QueryError naming the column of a syntax error or the unknown tag."""
    return _Parser(text, vocabulary).parse()


def alert_hits(queries: Sequence[Query], probs: Mapping[str, float],
               thresholds: Mapping[str, float]) -> list[tuple[int, str, list[str]]]:
    """The alerts a predicted frame raises (``watch --alert``, ``open --follow --alert``): for each of ``queries``
    its tags match, in order, (the query's index, "tag p, ..." to show, the frame's tags, most likely first). A
    tag is on at p >= its threshold (0.5 where none is given); shown are the query's own tags that are on, else
    the ones it names, else the 5 most likely tags that are on."""
    on = {t: p for t, p in probs.items() if p >= thresholds.get(t, 0.5)}
    tags = sorted(on, key=lambda t: -on[t])
    lower = {t.lower(): t for t in probs}
    hits = []
    for i, query in enumerate(queries):
        if not query.matches(set(on), probs):
            continue
        named = [lower[n.lower()] for n in sorted(query.names) if n.lower() in lower]
        shown = [t for t in named if t in on] or named or tags[:5]
        hits.append((i, ", ".join(f"{t} {probs[t]:.2f}" for t in shown) or "-", tags))
    return hits


class _Parser:
    def __init__(self, text: str, vocabulary: Vocabulary):
        self.text = text
        self.vocab = vocabulary
        self.pos = 0
        self.mentioned: set[str] = set()
        # Known names typed bare, longest first (so "Ring: Isotropic" beats "Ring"); any run of spaces
        # inside a name matches, and a name must end where a word ends.
        names = sorted(vocabulary.names, key=len, reverse=True)
        alts = "|".join(r"\s+".join(re.escape(w) for w in n.split()) for n in names if n.strip())
        self.known = re.compile(rf"(?:{alts})(?=[\s)&|]|$)", re.IGNORECASE) if alts else None

    # -- helpers
    def error(self, message: str, pos: int | None = None) -> QueryError:
        col = (self.pos if pos is None else pos) + 1
        return QueryError(f"query {self.text!r}, column {col}: {message}")

    def skip(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()

    def at_end(self) -> bool:
        self.skip()
        return self.pos >= len(self.text)

    def keyword(self) -> str | None:
        """The operator at the cursor ('and' | 'or' | 'not') without consuming it."""
        self.skip()
        m = _SYMBOL.match(self.text, self.pos)
        if m and m.group() in _KEYWORDS:
            return _KEYWORDS[m.group()]
        m = _KEYWORD.match(self.text, self.pos)
        return m.group(1).lower() if m else None

    def take_keyword(self) -> None:
        m = _SYMBOL.match(self.text, self.pos) or _KEYWORD.match(self.text, self.pos)
        self.pos = m.end()

    def describe_here(self) -> str:
        if self.pos >= len(self.text):
            return "end of query"
        return repr(self.text[self.pos:self.pos + 12].split()[0] if self.text[self.pos:].split() else "")

    # -- grammar
    def parse(self) -> Query:
        if self.at_end():
            return Query(self.text, _All(), frozenset())
        root = self.parse_or()
        if not self.at_end():
            if self.text[self.pos] == ")":
                raise self.error("unmatched ')'")
            raise self.error(f"expected 'and', 'or' or the end, found {self.describe_here()}")
        return Query(self.text, root, frozenset(self.mentioned))

    def parse_or(self):
        args = [self.parse_and()]
        while self.keyword() == "or":
            self.take_keyword()
            args.append(self.parse_and())
        return args[0] if len(args) == 1 else _Or(tuple(args))

    def parse_and(self):
        args = [self.parse_unary()]
        while self.keyword() == "and":
            self.take_keyword()
            args.append(self.parse_unary())
        return args[0] if len(args) == 1 else _And(tuple(args))

    def parse_unary(self):
        kw = self.keyword()
        if kw == "not":
            self.take_keyword()
            return _Not(self.parse_unary())
        if kw is not None:
            raise self.error(f"expected a tag name before '{kw}'")
        if self.at_end():
            raise self.error("expected a tag name")
        if self.text[self.pos] == "(":
            start = self.pos
            self.pos += 1
            inner = self.parse_or()
            self.skip()
            if self.pos >= len(self.text) or self.text[self.pos] != ")":
                raise self.error("'(' is never closed", start)
            self.pos += 1
            return inner
        if self.text[self.pos] == ")":
            raise self.error("expected a tag name, found ')'")
        return self.parse_term()

    def parse_term(self):
        m = _PRED.match(self.text, self.pos)
        if m:
            return self.parse_prediction(m.end())
        source = None
        m = _SOURCE.match(self.text, self.pos)
        if m:
            source = m.group(1).lower()
            self.pos = m.end()
        start = self.pos
        name = self.read_name()
        return self.resolve(name, start, source)

    def parse_prediction(self, after_paren: int):
        start = self.pos
        self.pos = after_paren
        self.skip()
        name_at = self.pos
        name = self.read_name(stop_at_paren=True)
        self.skip()
        if self.pos >= len(self.text) or self.text[self.pos] != ")":
            raise self.error("'p(' is never closed", start)
        self.pos += 1
        m = _CMP.match(self.text, self.pos)
        if not m:
            raise self.error("expected a comparison such as '> 0.5' after p(...)")
        self.pos = m.end()
        node = self.resolve(name, name_at, None)
        if not isinstance(node, _Name):
            raise self.error("p(...) takes one tag name, not a wildcard", name_at)
        return _Prob(node.name, m.group(1), float(m.group(2)))

    def read_name(self, stop_at_paren: bool = False) -> str:
        self.skip()
        if self.pos >= len(self.text):
            raise self.error("expected a tag name")
        quote = self.text[self.pos]
        if quote in "\"'":
            end = self.text.find(quote, self.pos + 1)
            if end < 0:
                raise self.error(f"unclosed {quote} quote")
            name = self.text[self.pos + 1:end]
            self.pos = end + 1
            if not name.strip():
                raise self.error("empty tag name", end - 1)
            return " ".join(name.split())
        if not stop_at_paren and self.known is not None:
            m = self.known.match(self.text, self.pos)
            if m:
                # taken only where the name ends the term: "Sample holder" is one (unknown) name
                at, self.pos = self.pos, m.end()
                if self.at_end() or self.text[self.pos] == ")" or self.keyword() is not None:
                    return " ".join(m.group().split())
                self.pos = at
        words = []
        while True:
            self.skip()
            if self.keyword() is not None:
                break
            m = _WORD.match(self.text, self.pos)
            if not m:
                break
            words.append(m.group())
            self.pos = m.end()
        if not words:
            raise self.error(f"expected a tag name, found {self.describe_here()}")
        return " ".join(words)

    def resolve(self, name: str, pos: int, source: str | None):
        if "*" in name:
            rx = _glob_regex(name)
            hits = [n for n in self.vocab.names if rx.match(n.lower())]
            if not hits:
                raise self.error(f"{name!r} matches no known tag", pos)
            self.mentioned.update(hits)
            return _Glob(name, source)
        attr = self.vocab.get(name) or self.vocab.get(re.sub(r"\s*:\s*", ": ", name))
        if attr is None:
            near = self.vocab.nearest(name)
            hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
            raise self.error(f"unknown tag {name!r}{hint}", pos)
        self.mentioned.add(attr.name)
        return _Name(attr.name, source)


__all__ = ["Query", "parse_query", "QueryError", "SOURCES"]

"""The tag query language: what users type in `search` and the TUI filter."""

from __future__ import annotations

import pytest

from tui_tagger.core.errors import QueryError
from tui_tagger.core.query import parse_query
from tui_tagger.core.vocabulary import default_vocabulary


@pytest.fixture
def vocab():
    return default_vocabulary()


def match(text, vocab, tags, predictions=None):
    return parse_query(text, vocab).matches(tags, predictions)


def test_quoted_name_and_not(vocab):
    q = '"Ring: Isotropic" and not Saturation'
    assert match(q, vocab, {"Ring: Isotropic", "Powder"})
    assert not match(q, vocab, {"Ring: Isotropic", "Saturation"})
    assert not match(q, vocab, {"Powder"})


def test_single_quotes_and_case_insensitive_names(vocab):
    q = parse_query("'ring: isotropic' AND NOT saturation", vocab)
    assert q.names == {"Ring: Isotropic", "Saturation"}
    assert q.matches({"Ring: Isotropic"})
    # tags written in another case still match
    assert q.matches({"ring: isotropic"})


def test_precedence_not_over_and_over_or(vocab):
    q = parse_query("TSAXS or Thin film and not GISAXS", vocab)
    assert str(q) == '"TSAXS" or "Thin film" and not "GISAXS"'
    assert q.matches({"TSAXS", "GISAXS"})  # or binds loosest
    assert q.matches({"Thin film"})
    assert not q.matches({"Thin film", "GISAXS"})


def test_parentheses_override_precedence(vocab):
    q = parse_query("Thin film and (GISAXS or TSAXS)", vocab)
    assert q.matches({"Thin film", "TSAXS"})
    assert not q.matches({"TSAXS"})
    assert not match("not (Powder or Ordered)", vocab, {"Ordered"})


def test_bare_multi_word_and_colon_names(vocab):
    assert match("Thin film and GISAXS", vocab, {"Thin film", "GISAXS"})
    assert match("Ring: Isotropic", vocab, {"Ring: Isotropic"})
    assert match("Ring:Isotropic", vocab, {"Ring: Isotropic"})
    assert match("Diffuse low-q:  Isotropic and PS-PMMA", vocab, {"Diffuse low-q: Isotropic", "PS-PMMA"})


def test_known_names_holding_keywords_or_brackets_typed_bare(vocab):
    q = parse_query("Higher orders: 20 or more or Powder", vocab)
    assert q.names == {"Higher orders: 20 or more", "Powder"}
    assert match("Asymmetric (left/right) and not Saturation", vocab, {"Asymmetric (left/right)"})


def test_symbol_operators(vocab):
    q = "saturation & !misaligned || powder"
    assert match(q, vocab, {"Saturation"})
    assert not match(q, vocab, {"Saturation", "Misaligned"})
    assert match(q, vocab, {"Powder", "Misaligned"})


def test_wildcards_and_untagged(vocab):
    assert match("Ring: *", vocab, {"Ring: Textured"})
    assert not match("Ring: *", vocab, {"Ring doubling"})
    assert match("not *", vocab, set())
    assert not match("not *", vocab, {"Powder"})


def test_source_qualifiers_need_sources(vocab):
    q = parse_query("human:Powder and not model:*", vocab)
    assert q.matches({"Powder": "human"})
    assert not q.matches({"Powder": "model"})
    assert not q.matches({"Powder": "human", "Ordered": "model"})


def test_prediction_comparison(vocab):
    q = parse_query("p(Powder) > 0.5 and not Powder", vocab)
    assert q.matches(set(), {"Powder": 0.8})
    assert not q.matches(set(), {"Powder": 0.2})
    assert not q.matches(set())  # no prediction at all


def test_folder_tags_are_known_when_added(vocab):
    with pytest.raises(QueryError):
        parse_query("Beamline 11-BM", vocab)
    vocab.add("Beamline 11-BM")
    assert match("beamline 11-bm and not Powder", vocab, {"Beamline 11-BM"})


def test_empty_query_matches_everything(vocab):
    assert match("   ", vocab, set())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ring: Isotrpic", ["unknown tag 'Ring: Isotrpic'", "did you mean", "'Ring: Isotropic'"]),
        ("Thin film GISAXS", ["unknown tag 'Thin film GISAXS'", "'Thin film'", "'GISAXS'"]),
        ("Powder and Sampel", ["column 12", "unknown tag 'Sampel'", "'Sample'"]),
        ("(Powder or Ordered", ["column 1", "never closed"]),
        ("Powder)", ["column 7", "unmatched ')'"]),
        ("Powder and", ["column 11", "expected a tag name"]),
        ("or Powder", ["column 1", "before 'or'"]),
        ('"Powder', ["unclosed"]),
        ("p(Powder)", ["comparison"]),
        ("Rng: *", ["matches no known tag"]),
    ],
)
def test_errors_name_position_and_suggest(vocab, text, expected):
    with pytest.raises(QueryError) as info:
        parse_query(text, vocab)
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_alert_hits_name_the_matching_queries_and_the_tags_to_show(vocab):
    from tui_tagger.core.query import alert_hits

    queries = [parse_query("TSAXS", vocab), parse_query("not TSAXS", vocab), parse_query("p(Saturation) > 0.2", vocab)]
    probs = {"TSAXS": 0.9, "Saturation": 0.3, "GISAXS": 0.6}
    # thresholds: Saturation is on at 0.25, GISAXS (no threshold given) at 0.5
    hits = alert_hits(queries, probs, {"TSAXS": 0.5, "Saturation": 0.25})
    assert [i for i, _, _ in hits] == [0, 2]
    assert hits[0][1] == "TSAXS 0.90" and hits[1][1] == "Saturation 0.30"
    assert hits[0][2] == ["TSAXS", "GISAXS", "Saturation"]  # the frame's tags that are on, most likely first
    assert alert_hits(queries, {"TSAXS": 0.4}, {}) == [(1, "TSAXS 0.40", [])]  # named though off

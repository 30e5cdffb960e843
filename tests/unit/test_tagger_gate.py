"""services.tagger.gate.sentences_to_parse on Docs built as Tagger.tag builds them (fold, split_sentences,
Matcher.scan, mentions.Doc), without a Tagger or a spaCy pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pytest

from services.tagger.gate import FOLLOW, sentences_to_parse, watched_sentences
from services.tagger.kb import load_kb
from services.tagger.lexicon import Lexicon, load_lexicon
from services.tagger.matcher import Matcher
from services.tagger.mentions import Doc
from services.tagger.text import MAX_CHARS, Span, fold, split_sentences
from services.watchlist import load_watchlist

REPO = Path(__file__).resolve().parents[2]
WATCHLIST = REPO / "services" / "demo_data" / "watchlist.yaml"

WATCHED = "Akram al-Kaabi arrived in Moscow on Tuesday."
WATCHED_AGAIN = "Al-Kaabi told reporters he was satisfied."
FOLLOWER = "He later met Russian Deputy Foreign Minister Mikhail Bogdanov."
FILLER = "The weather was cold."


class DocMaker(Protocol):
    """The doc_of fixture: a Doc of the given sentences, joined by one space."""

    def __call__(self, *sentences: str) -> Doc: ...


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon()


@pytest.fixture(scope="module")
def matcher(lexicon: Lexicon) -> Matcher:
    return Matcher(lexicon, load_watchlist(WATCHLIST), load_kb().aliases())


def make_doc(text: str, matcher: Matcher, lexicon: Lexicon, sentences: list[Span] | None = None) -> Doc:
    """The Doc Tagger.tag builds for `text` (sentences as split_sentences gives them unless given)."""
    limit = min(len(text), MAX_CHARS)
    folded = fold(text[:limit])
    spans = split_sentences(text, limit) if sentences is None else sentences
    hits, heads = matcher.scan(text, folded, limit)
    return Doc(text, folded, spans, hits, heads, {head.word: head for head in lexicon.org_heads})


@pytest.fixture
def doc_of(matcher: Matcher, lexicon: Lexicon) -> DocMaker:
    def build(*sentences: str) -> Doc:
        doc = make_doc(" ".join(sentences), matcher, lexicon)
        # The test texts are written one sentence per string: the splitter must agree, or indexes mean nothing.
        assert [doc.text[s.start : s.end] for s in doc.sentences] == list(sentences)
        return doc

    return build


def test_no_watched_actor_nothing_is_parsed(doc_of: DocMaker) -> None:
    doc = doc_of(FILLER, FOLLOWER, "Russian Deputy Foreign Minister Mikhail Bogdanov met Iraqi officials.")
    assert watched_sentences(doc) == set()
    assert sentences_to_parse(doc) == []
    assert sentences_to_parse(doc, parse_all=True) == [0, 1, 2]


def test_empty_text(matcher: Matcher, lexicon: Lexicon) -> None:
    doc = make_doc("", matcher, lexicon)
    assert sentences_to_parse(doc) == [] and sentences_to_parse(doc, parse_all=True) == []


def test_watched_sentence_is_chosen(doc_of: DocMaker) -> None:
    doc = doc_of(FILLER, WATCHED, FILLER)
    assert watched_sentences(doc) == {1}
    assert sentences_to_parse(doc) == [1]


def test_every_watched_sentence_is_chosen(doc_of: DocMaker) -> None:
    doc = doc_of(WATCHED, *[FILLER] * (FOLLOW + 2), WATCHED_AGAIN)
    assert sentences_to_parse(doc) == [0, FOLLOW + 3]


@pytest.mark.parametrize("gap", range(FOLLOW))
def test_reference_within_follow_sentences_is_chosen(doc_of: DocMaker, gap: int) -> None:
    doc = doc_of(WATCHED, *[FILLER] * gap, FOLLOWER)
    assert sentences_to_parse(doc) == [0, gap + 1]


def test_reference_beyond_follow_sentences_is_not_chosen(doc_of: DocMaker) -> None:
    doc = doc_of(WATCHED, *[FILLER] * FOLLOW, FOLLOWER)
    assert sentences_to_parse(doc) == [0]
    # A second watched mention brings it back within reach.
    doc = doc_of(WATCHED, *[FILLER] * FOLLOW, WATCHED_AGAIN, FOLLOWER)
    assert sentences_to_parse(doc) == [0, FOLLOW + 1, FOLLOW + 2]


def test_reference_before_the_watched_sentence_is_not_chosen(doc_of: DocMaker) -> None:
    assert sentences_to_parse(doc_of(FOLLOWER, WATCHED)) == [1]


@pytest.mark.parametrize(
    "later",
    [
        "He later met them over dinner.",  # contact and pronoun, but no actor to be the counterpart
        "He is older than Russian Deputy Foreign Minister Mikhail Bogdanov.",  # actor and pronoun, no contact
        "Russian Deputy Foreign Minister Mikhail Bogdanov met Iraqi officials.",  # no pronoun or description
        FILLER,
    ],
    ids=["no-actor-word", "no-contact-word", "no-reference", "nothing"],
)
def test_later_sentence_without_what_a_reference_needs_is_not_chosen(doc_of: DocMaker, later: str) -> None:
    assert sentences_to_parse(doc_of(WATCHED, later)) == [0]


@pytest.mark.parametrize(
    "later",
    [
        FOLLOWER,
        "She phoned the Russian ambassador.",
        "The militia leader later met Russian Deputy Foreign Minister Mikhail Bogdanov.",
        "His delegation was received in Tehran.",
    ],
    ids=["he-met", "she-phoned", "definite-description", "his-delegation"],
)
def test_later_sentence_with_reference_contact_and_actor_is_chosen(doc_of: DocMaker, later: str) -> None:
    assert sentences_to_parse(doc_of(WATCHED, later)) == [0, 1]


def test_parse_all_chooses_every_non_empty_sentence(matcher: Matcher, lexicon: Lexicon) -> None:
    text = f"{FILLER} {WATCHED} {FILLER}"
    one, two, three = split_sentences(text, len(text))
    # An empty span (as a gap could give) is never worth a parse.
    doc = make_doc(text, matcher, lexicon, [one, Span(one.end, one.end), two, three])
    assert sentences_to_parse(doc, parse_all=True) == [0, 2, 3]
    assert sentences_to_parse(doc) == [2]

"""Which sentences are worth parsing: parsing costs ~100x the alias pass (about 5 ms a sentence), so it is
paid only where a watched actor's contact can be read.

None in an article without a watched-actor mention. Otherwise every sentence with a watched mention, and
each of the FOLLOW sentences after one that can carry its contact through a reference: it has a pronoun or
a definite description ("he", "the militia leader"), a contact word or predicate, and another actor word (a
person, title, body or place) to be the counterpart."""

from __future__ import annotations

import re

from services.tagger.matcher import Cat, Hit
from services.tagger.mentions import Doc

# How many sentences after a watched mention may still refer to it ("He later met ...").
FOLLOW = 3
_PRONOUN = re.compile(r"(?<![\w'’-])(?:he|she|his|her|him)(?![\w'’-])", re.I)
_CONTACT_WORDS = re.compile(
    r"(?<![\w-])(?:talks?|met|meet|meeting|call|called|phoned|spoke|received|hosted|visit(?:ed)?|"
    r"conferred|discussed|negotiat\w+|delegation|agreed|signed)(?![\w-])",
    re.I,
)
_ACTOR_CATS = frozenset([Cat.PERSON, Cat.TITLE, Cat.BODY, Cat.COUNTRY, Cat.CAPITAL, Cat.DEMONYM])


def _description(doc: Doc, hits: list[Hit]) -> bool:
    """A title or organisation description right after "the" ("the militia leader", "the movement")."""
    for hit in hits:
        if hit.cat is Cat.TITLE or hit.cat is Cat.DESCRIPTOR:
            start = hit.start
            if doc.folded[max(0, start - 4) : start] == "the ":
                return True
    return False


def watched_sentences(doc: Doc) -> set[int]:
    return {i for i, hits in enumerate(doc.sentence_hits) if any(h.cat is Cat.WATCH for h in hits)}


def sentences_to_parse(doc: Doc, *, parse_all: bool = False) -> list[int]:
    if parse_all:
        return [i for i, span in enumerate(doc.sentences) if span.end > span.start]
    chosen = watched_sentences(doc)
    for first in sorted(chosen):
        for index in range(first + 1, min(first + 1 + FOLLOW, len(doc.sentences))):
            if index in chosen:
                continue
            span = doc.sentences[index]
            hits = doc.sentence_hits[index]
            if not any(h.cat in _ACTOR_CATS for h in hits):
                continue  # no actor to be its counterpart
            contact = bool(doc.sentence_predicates[index]) or bool(
                _CONTACT_WORDS.search(doc.text, span.start, span.end)
            )
            if contact and (_PRONOUN.search(doc.text, span.start, span.end) or _description(doc, hits)):
                chosen.add(index)
    return sorted(chosen)

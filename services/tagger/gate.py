"""Which sentences are worth parsing: parsing costs ~100x the alias pass, so it is paid only where a watched
actor's contact can be read.

None in an article without a watched-actor mention. Otherwise: every sentence with a watched mention, and,
from the first one on, every sentence that can carry its contact through a reference (a pronoun, a
description, a surname): one with an actor word (a person, title, body or place) and a predicate or contact
word."""

from __future__ import annotations

import re

from services.tagger.matcher import Cat
from services.tagger.mentions import Doc

_CONTACT_WORDS = re.compile(
    r"(?<![\w-])(?:talks?|met|meet|meeting|call|called|phoned|spoke|received|hosted|visit(?:ed)?|"
    r"conferred|discussed|negotiat\w+|delegation|agreed|signed)(?![\w-])",
    re.I,
)


def sentences_to_parse(doc: Doc, *, parse_all: bool = False) -> list[int]:
    if parse_all:
        return [i for i, span in enumerate(doc.sentences) if span.end > span.start]
    watched = [i for i, hits in enumerate(doc.sentence_hits) if any(h.cat is Cat.WATCH for h in hits)]
    if not watched:
        return []
    chosen = set(watched)
    for index in range(watched[0] + 1, len(doc.sentences)):
        if index in chosen:
            continue
        span = doc.sentences[index]
        hits = doc.sentence_hits[index]
        if not any(h.cat in (Cat.PERSON, Cat.TITLE, Cat.BODY, Cat.COUNTRY, Cat.CAPITAL, Cat.DEMONYM) for h in hits):
            continue  # no actor to be its counterpart
        if doc.sentence_predicates[index] or _CONTACT_WORDS.search(doc.text, span.start, span.end):
            chosen.add(index)
    return sorted(chosen)

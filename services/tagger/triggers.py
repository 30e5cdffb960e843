"""Trigger words: the words that state an interaction (lexicon/triggers.tsv), their inflections, and the
part-of-speech tests the parse readers use (fine-grained tags: the pipeline runs without spaCy's lemmatizer
and attribute ruler, which cost a third of the parse)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from schemas.tagged_article import InteractionType
from services.tagger.lexicon import DEFAULT_FOLDER, LexiconError

Token = Any  # spacy.tokens.Token (spaCy ships no type stubs for its Cython classes)


@dataclass(frozen=True, slots=True)
class Trigger:
    lemma: str
    pos: str
    type: InteractionType
    light: bool
    host: bool
    takes_object: bool
    needs: tuple[str, ...]


@lru_cache(maxsize=4)
def load_triggers(folder: Path = DEFAULT_FOLDER) -> dict[tuple[str, str], Trigger]:
    path = folder / "triggers.tsv"
    triggers: dict[tuple[str, str], Trigger] = {}
    header = True
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if header:
            header = False
            continue
        cells = line.split("\t")
        if len(cells) != 4 or cells[1] not in ("VERB", "NOUN"):
            raise LexiconError(f"{path}:{number}: expected lemma, VERB|NOUN, type, flags")
        flags = {f.strip() for f in cells[3].split(",") if f.strip() and f.strip() != "-"}
        needs = next((f.removeprefix("needs=") for f in flags if f.startswith("needs=")), "")
        try:
            kind = InteractionType(cells[2])
        except ValueError:
            raise LexiconError(f"{path}:{number}: unknown interaction type {cells[2]!r}") from None
        trigger = Trigger(
            cells[0],
            cells[1],
            kind,
            "light" in flags,
            "host" in flags,
            "object" in flags,
            tuple(w for w in needs.split("/") if w),
        )
        irregular = [f for f in flags if f.startswith("forms=")]
        extra = irregular[0].removeprefix("forms=").split("/") if irregular else []
        forms = verb_forms(cells[0], extra) if cells[1] == "VERB" else {cells[0], cells[0] + "s", *extra}
        for form in forms:
            triggers.setdefault((form, cells[1]), trigger)
    return triggers


def verb_forms(lemma: str, irregular: Iterable[str] = ()) -> set[str]:
    """A verb's inflections (the pipeline runs without spaCy's lemmatizer, which cost a third of the parse):
    regular -s/-ed/-ing with e-dropping, y to i and a doubled last consonant, plus the irregular ones given."""
    forms = {lemma, *irregular}
    if lemma.endswith("e"):
        forms |= {lemma + "s", lemma + "d", lemma[:-1] + "ing"}
    elif lemma.endswith("y") and lemma[-2:-1] not in "aeiou":
        forms |= {lemma[:-1] + "ies", lemma[:-1] + "ied", lemma + "ing"}
    else:
        plural = lemma + ("es" if lemma.endswith(("s", "sh", "ch", "x")) else "s")
        forms |= {plural, lemma + "ed", lemma + "ing", lemma + lemma[-1] + "ed", lemma + lemma[-1] + "ing"}
    return forms


def forms(*lemmas: str) -> frozenset[str]:
    return frozenset(f for lemma in lemmas for f in verb_forms(lemma, IRREGULAR.get(lemma, ())))


IRREGULAR = {"lead": ("led",), "set": ("set",), "seek": ("sought",), "hold": ("held",)}


def is_verb(token: Token) -> bool:
    return bool(token.tag_.startswith("VB") or token.tag_ == "MD")


def is_noun(token: Token) -> bool:
    return bool(token.tag_.startswith("NN"))


def is_preposition(token: Token) -> bool:
    return bool(token.tag_ in ("IN", "TO"))


def children(token: Token, *deps: str) -> list[Token]:
    return [c for c in token.children if c.dep_ in deps]


def noun_trigger(token: Token, triggers: dict[tuple[str, str], Trigger]) -> Trigger | None:
    if not is_noun(token):
        return None
    return triggers.get((token.lower_, "NOUN"))

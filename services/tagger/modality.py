"""Modality from the parse: what governs a trigger word (a negation, "denied that", "will", "could", "if",
"plans to", "is believed to", "according to") says whether the interaction happened, is planned, denied,
hypothetical or reported."""

from __future__ import annotations

from schemas.tagged_article import Modality
from services.tagger.sides import SentenceGraph
from services.tagger.triggers import Token, forms

_MODALS = frozenset(["may", "might", "could", "would", "should"])

_FUTURE = frozenset(["will", "shall", "'ll"])

_PLANNED_ADJ = frozenset(["planned", "upcoming", "proposed", "expected", "scheduled", "future", "possible"])

_DENIED_ADJ = frozenset(["cancelled", "canceled", "postponed", "aborted"])

_REPORTED_ADV = frozenset(["reportedly", "allegedly", "purportedly", "supposedly"])

PLAN = forms("plan", "expect", "schedule", "intend", "prepare", "hope", "seek", "want", "aim", "set") | {"due"}

DENY = forms("deny", "cancel", "refuse", "reject", "postpone", "scrap", "suspend", "dismiss")

REPORT = forms("allege", "claim", "rumour", "rumor", "suspect")


def read_modality(token: Token, sentence: SentenceGraph) -> Modality:
    found: set[Modality] = set()
    chain = [token, *list(token.ancestors)[:4]]
    for position, node in enumerate(chain):
        lemma = node.lower_
        for child in node.children:
            word = child.lower_
            if child.dep_ == "neg" and position <= 1:
                found.add(Modality.DENIED)
            elif child.dep_ == "aux" and word in _FUTURE and position <= 1:
                found.add(Modality.PLANNED)
            elif child.dep_ == "aux" and word == "would" and node.dep_ == "ccomp" and position <= 1:
                found.add(Modality.PLANNED)  # "X said it would cooperate": a stated intention
            elif (child.dep_ == "aux" and word in _MODALS and position <= 1) or (
                child.dep_ == "mark" and word in ("if", "unless")
            ):
                found.add(Modality.HYPOTHETICAL)
            elif child.dep_ == "amod" and word in _PLANNED_ADJ and position == 0:
                found.add(Modality.PLANNED)
            elif child.dep_ == "amod" and word in _DENIED_ADJ and position == 0:
                found.add(Modality.DENIED)
            elif child.dep_ == "advmod" and word in _REPORTED_ADV:
                found.add(Modality.REPORTED)
        if position == 0 and node.dep_ == "xcomp" and node.head.lower_ in PLAN:
            found.add(Modality.PLANNED)
        if position >= 1:
            if lemma in DENY:
                found.add(Modality.DENIED)
            elif lemma in PLAN and chain[position - 1].dep_ in ("xcomp", "dobj", "nsubjpass"):
                found.add(Modality.PLANNED)
            elif lemma in REPORT:
                found.add(Modality.REPORTED)
        if node.dep_ == "ccomp" and position >= 1:
            break  # "X said that ...": modality of what X said stops at the speech verb
    if sentence.hedged:
        found.add(Modality.REPORTED)
    for modality in (Modality.DENIED, Modality.HYPOTHETICAL, Modality.PLANNED, Modality.REPORTED):
        if modality in found:
            return modality
    return Modality.HAPPENED

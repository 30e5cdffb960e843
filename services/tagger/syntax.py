"""Interactions read from the dependency parse: a trigger word (triggers.tsv) and its sides found by their
grammatical relation to it, not by adjacency.

Verbs: subject (nsubj; the noun a relative clause hangs on; the subject of the verb an infinitive or
participle depends on), object (dobj), agent of a passive ("was received by"), and the "with"/"to"/"between"
phrases anywhere among its dependents ("held two hours of talks on Monday in Ankara with ..."). Light verbs
("held talks", "had a call") take their type from the object noun. Nouns: possessor ("Fidan's meeting with
..."), "with" and "between" phrases, else the subject of the verb governing the noun ("in a call with X, Y
said"). A group noun ("a delegation led by X", "a Hamas delegation") stands for its leader and its
organisation. Conjuncts ("X and Y") are sides too. Only mentions found by the earlier steps are sides, plus
countries and capitals in a side position, which become governments (GPE)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from schemas.tagged_article import InteractionType, Modality
from services.tagger.doc import Doc, Mention
from services.tagger.modality import read_modality
from services.tagger.nlp import ParsedSentence
from services.tagger.relations import Link
from services.tagger.sides import SentenceGraph, phrase_sides, subjects_of
from services.tagger.triggers import (
    Token,
    Trigger,
    children,
    is_preposition,
    is_verb,
    load_triggers,
    noun_trigger,
    verb_forms,
)

__all__ = ["link_parsed", "load_triggers", "verb_forms"]

# Subjects that meet each other when nothing follows the verb ("X and Y met", "X and Y agreed").
_JOINT_LEMMAS = frozenset(
    ["meet", "agree", "negotiate", "confer", "talk", "cooperate", "discuss", "sign", "shake", "embrace"]
)

# Verbs whose object is a topic or a document, not a side ("the two discussed the war", "signed a deal").
_TOPIC_LEMMAS = frozenset(["discuss", "sign", "shake"])

_HOSTILE_TYPES = frozenset(
    [InteractionType.SANCTION, InteractionType.ATTACK, InteractionType.DESIGNATE, InteractionType.CONDEMN]
)

_JOINT_TYPES = frozenset(
    [InteractionType.COOPERATE, InteractionType.AGREE, InteractionType.TALKS, InteractionType.MEET]
)

_PHONE_WORDS = frozenset(["phone", "telephone", "video", "videoconference", "videolink"])

# The place a visit's object names is where it happened, not whom it was with ("visited Moscow").
_PLACE_OBJECT_TYPES = frozenset([InteractionType.VISIT])

MAX_TRIGGERS = 40


def _reread_modality(sentence: SentenceGraph, links: list[Link]) -> list[Link]:
    """The pattern step reads modality from words near its predicate; where the sentence is parsed, a
    denial, condition, plan or hedge that governs the predicate from further away ("denied on Thursday that
    the minister had met ...") is read from the tree instead."""
    out: list[Link] = []
    for link in links:
        tokens = sentence.parsed.char_span_tokens(link.at, link.at + 1) if link.at >= 0 else []
        if tokens and link.modality is Modality.HAPPENED:
            modality = read_modality(tokens[0], sentence)
            if modality is not Modality.HAPPENED:
                link = replace(link, modality=modality, why=link.why + f" ({modality.value}, from the parse)")
        out.append(link)
    return out


def link_parsed(
    doc: Doc,
    index: int,
    parsed: ParsedSentence,
    triggers: dict[tuple[str, str], Trigger],
    existing: list[Link],
    register: Callable[[Mention], None],
) -> list[Link]:
    """The pattern step's links of one parsed sentence (`existing`, their modality re-read from the tree),
    then the interactions it did not find."""
    sentence = SentenceGraph(doc, index, parsed, register)
    existing = _reread_modality(sentence, existing)
    if not sentence.by_token and not doc.sentence_places[index]:
        return existing
    taken = {(frozenset((id(link.source.root()), id(link.target.root()))), link.type) for link in existing}
    if existing:
        doc.last_pair = (existing[-1].source.root(), existing[-1].target.root())
    links: list[Link] = []
    handled: set[int] = set()  # noun triggers already read as a light verb's object
    seen = 0
    for token in parsed.doc:
        if seen >= MAX_TRIGGERS:
            break
        trigger = None
        if is_verb(token):
            trigger = triggers.get((token.lower_, "VERB"))
        if trigger is not None:
            seen += 1
            found = _verb_links(sentence, token, trigger, triggers, handled)
            if _purpose(token):
                # "met in Damascus to discuss ...": the purpose restates the meeting, it is no second contact.
                met = {frozenset((id(k.source.root()), id(k.target.root()))) for k in [*existing, *links]}
                found = [k for k in found if frozenset((id(k.source.root()), id(k.target.root()))) not in met]
            links.extend(found)
            continue
        noun = noun_trigger(token, triggers)
        if noun is not None and token.i not in handled:
            seen += 1
            links.extend(_noun_links(sentence, token, noun))
    kept: list[Link] = []
    for link in links:
        pair = (frozenset((id(link.source.root()), id(link.target.root()))), link.type)
        if link.source.root() is link.target.root() or pair in taken:
            continue
        taken.add(pair)
        link.source.used = link.target.used = True
        kept.append(link)
    return existing + kept


def _purpose(verb: Token) -> bool:
    """An infinitive of purpose or result hanging on another verb ("met ... to discuss")."""
    return verb.dep_ in ("advcl", "xcomp") and any(c.dep_ == "aux" and c.lower_ == "to" for c in verb.children)


def _needs(trigger: Trigger, sentence: SentenceGraph) -> bool:
    return not trigger.needs or any(word in sentence.words for word in trigger.needs)


def _verb_links(
    sentence: SentenceGraph,
    verb: Token,
    trigger: Trigger,
    triggers: dict[tuple[str, str], Trigger],
    handled: set[int],
) -> list[Link]:
    if trigger.lemma == "call" and any(p.lower_ == "on" for p in children(verb, "prep")):
        # "called on Acting Interior Minister X": a courtesy visit.
        subjects = subjects_of(sentence, verb)
        hosts = phrase_sides(sentence, verb, ("on",))
        modality = read_modality(verb, sentence)
        why = f"parse: '{verb.text} on'"
        return [
            Link(a, b, InteractionType.VISIT, modality, why)
            for a in subjects
            for b in hosts
            if a.root() is not b.root()
        ]
    if not _needs(trigger, sentence):
        return []
    if trigger.host and verb.dep_ == "acl" and noun_trigger(verb.head, triggers) is not None:
        return _hosted_meeting(sentence, verb)
    if trigger.lemma == "call" and (
        children(verb, "oprd", "ccomp") or any(p.lower_ == "for" for p in children(verb, "prep"))
    ):
        return []  # "called for talks", "called X a terrorist": no phone call
    kind = trigger.type
    noun: Token | None = None
    if trigger.light:
        # "held talks", "held two hours of talks", "had a phone call": the object noun says what happened.
        for obj in children(verb, "dobj", "nsubjpass"):
            for candidate in (obj, *[p for prep in children(obj, "prep") for p in children(prep, "pobj")]):
                found = noun_trigger(candidate, triggers)
                if found is not None:
                    noun, kind = candidate, found.type
                    break
            if noun is not None:
                break
        if noun is None:
            return []
        handled.add(noun.i)
    if kind is InteractionType.TALKS and any(
        p.lower_ in _PHONE_WORDS for prep in children(verb, "prep") for p in children(prep, "pobj")
    ):
        kind = InteractionType.PHONE_CALL  # "spoke by phone with"
    passive = bool(children(verb, "nsubjpass", "auxpass"))
    why = f"parse: '{verb.text}'" + (f" + '{noun.text}'" if noun is not None else "")
    subjects = subjects_of(sentence, verb)
    others: list[Mention] = []
    if not trigger.light and kind in _JOINT_TYPES | {InteractionType.SUPPORT}:
        # "agreed local truces with X", "signed a deal with X", "discussed the war with X"
        for obj in children(verb, "dobj"):
            others.extend(m for m in phrase_sides(sentence, obj, ("with",)) if m not in others)
    if trigger.takes_object and not passive:
        for obj in children(verb, "dobj"):
            others.extend(sentence.sides(obj, place_ok=kind not in _PLACE_OBJECT_TYPES))
            if trigger.host and noun_trigger(obj, triggers) is not None:
                # "hosted talks in Kabul between A and B": the host received both sides.
                others.extend(m for m in phrase_sides(sentence, obj, ("between",)) if m not in others)
    prepositions = (
        ("with", "between", "alongside") if kind is not InteractionType.TALKS else ("with", "to", "alongside")
    )
    others.extend(m for m in phrase_sides(sentence, verb, prepositions) if m not in others)
    if noun is not None:
        others.extend(m for m in phrase_sides(sentence, noun, ("with", "between", "alongside")) if m not in others)
        if kind in _HOSTILE_TYPES:
            # "imposed sanctions on X", "launched strikes against X"
            for holder in (noun, verb):
                others.extend(m for m in phrase_sides(sentence, holder, ("on", "against")) if m not in others)
    modality = read_modality(verb, sentence)
    if noun is not None:
        noun_modality = read_modality(noun, sentence)
        modality = noun_modality if noun_modality is not Modality.HAPPENED else modality
    pairs: list[tuple[Mention, Mention]] = []
    if passive:
        agents = [m for agent in children(verb, "agent") for p in children(agent, "pobj") for m in sentence.sides(p)]
        patients = subjects
        if agents and patients:
            pairs = [(a, p) for a in agents for p in patients]
            why += " (passive, agent after 'by')"
        elif patients and others:
            pairs = [(p, o) for p in patients for o in others]
    elif subjects and others:
        pairs = [(s, o) for s in subjects for o in others]
    elif len(subjects) >= 2 and (
        (trigger.lemma in _JOINT_LEMMAS and (not children(verb, "dobj") or trigger.lemma in _TOPIC_LEMMAS))
        or (noun is not None and kind in _JOINT_TYPES)
    ):
        pairs = [(a, b) for i, a in enumerate(subjects) for b in subjects[i + 1 :]]
        pairs = [(a, b) for a, b in pairs if frozenset((id(a), id(b))) not in sentence.grouped]
        why += " (joint subjects)"
    return [Link(a, b, kind, modality, why) for a, b in pairs if a.root() is not b.root()]


def _hosted_meeting(sentence: SentenceGraph, verb: Token) -> list[Link]:
    """ "A and B met at talks in Putrajaya hosted by C", "talks between A and B hosted by C": C hosted both."""
    meeting = verb.head
    hosts = [m for agent in children(verb, "agent") for p in children(agent, "pobj") for m in sentence.sides(p)]
    guests = phrase_sides(sentence, meeting, ("between",))
    if not guests:
        governor = meeting.head.head if is_preposition(meeting.head) else meeting.head
        if is_verb(governor):
            guests = subjects_of(sentence, governor)
    modality = read_modality(verb, sentence)
    why = f"parse: '{meeting.text} {verb.text} by'"
    return [Link(h, g, InteractionType.HOST, modality, why) for h in hosts for g in guests if h.root() is not g.root()]


def _noun_links(sentence: SentenceGraph, noun: Token, trigger: Trigger) -> list[Link]:
    if not _needs(trigger, sentence):
        return []
    owners = [m for p in children(noun, "poss", "compound") for m in sentence.sides(p, place_ok=False)]
    partners = phrase_sides(sentence, noun, ("with", "alongside"))
    between = [
        m
        for prep in children(noun, "prep")
        if prep.lower_ == "between"
        for p in children(prep, "pobj")
        for m in sentence.sides(p)
    ]
    why = f"parse: noun '{noun.text}'"
    modality = read_modality(noun, sentence)
    if modality is Modality.HAPPENED and noun.dep_ in ("nsubj", "nsubjpass"):
        modality = read_modality(noun.head, sentence)
    pairs: list[tuple[Mention, Mention]] = []
    if trigger.type is InteractionType.SUPPORT and noun.dep_ == "dobj" and is_verb(noun.head):
        # "received backing from Tehran": the giver is after "from", the receiver is the verb's subject.
        donors = phrase_sides(sentence, noun, ("from",)) or phrase_sides(sentence, noun.head, ("from",))
        receivers = subjects_of(sentence, noun.head)
        if donors and receivers:
            modality = read_modality(noun.head, sentence) if modality is Modality.HAPPENED else modality
            pairs = [(d, r) for d in donors for r in receivers]
            return [Link(a, b, trigger.type, modality, why + " (from)") for a, b in pairs if a.root() is not b.root()]
    if trigger.type in _HOSTILE_TYPES and owners:
        # "Britain's proscription of the Wagner Group", "the US sanctions on X"
        targets = phrase_sides(sentence, noun, ("of", "on", "against"))
        pairs = [(o, t) for o in owners for t in targets]
        return [Link(a, b, trigger.type, modality, why) for a, b in pairs if a.root() is not b.root()]
    if len(between) >= 2:
        pairs = [(a, b) for i, a in enumerate(between) for b in between[i + 1 :]]
        why += " (between)"
    elif partners:
        if not owners:
            governor = noun.head
            if is_preposition(governor):
                governor = governor.head
            if is_verb(governor) and noun.dep_ in ("pobj", "dobj"):
                owners = subjects_of(sentence, governor)
                if modality is Modality.HAPPENED:
                    modality = read_modality(governor, sentence)
        pairs = [(o, p) for o in owners for p in partners]
    elif not owners and trigger.type in _JOINT_TYPES and noun.dep_ in ("dobj", "pobj"):
        # "Brazil and the United States seek to deepen a partnership": joint subjects of the governing verb.
        governor = noun.head.head if is_preposition(noun.head) else noun.head
        if is_verb(governor):
            subjects = subjects_of(sentence, governor)
            if len(subjects) >= 2:
                pairs = [(a, b) for i, a in enumerate(subjects) for b in subjects[i + 1 :]]
                pairs = [(a, b) for a, b in pairs if frozenset((id(a), id(b))) not in sentence.grouped]
                why += " (joint subjects)"
                if modality is Modality.HAPPENED:
                    modality = read_modality(governor, sentence)
    return [Link(a, b, trigger.type, modality, why) for a, b in pairs if a.root() is not b.root()]

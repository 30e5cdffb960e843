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

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from schemas.tagged_article import EntityKind, InteractionType, Modality, Sector
from services.tagger.lexicon import DEFAULT_FOLDER, Country, LexiconError
from services.tagger.matcher import Cat, Hit
from services.tagger.mentions import Doc, Mention
from services.tagger.nlp import ParsedSentence
from services.tagger.relations import Link

Token = Any  # spacy.tokens.Token (spaCy ships no type stubs for its Cython classes)

_SUBJECT = frozenset(["nsubj", "nsubjpass", "csubj"])
_INHERIT = frozenset(["xcomp", "advcl", "conj", "pcomp", "acl"])
_SIDE_PREPOSITIONS = {"with": "with", "to": "to", "between": "between", "alongside": "with"}
# Nouns that stand for a group led by someone and sent by someone.
_RELATIVE_PRONOUNS = frozenset(["who", "which", "that", "whom"])
# Pronouns of a group or a state that the mention steps do not resolve ("they", "it", "we").
_PLURAL_PRONOUNS = frozenset(["they", "it", "we"])
# Subjects that meet each other when nothing follows the verb ("X and Y met", "X and Y agreed").
_JOINT_LEMMAS = frozenset(["meet", "agree", "negotiate", "confer", "talk", "cooperate", "discuss", "sign"])
# Verbs whose object is a topic or a document, not a side ("the two discussed the war", "signed a deal").
_TOPIC_LEMMAS = frozenset(["discuss", "sign"])
_HOSTILE_TYPES = frozenset(
    [InteractionType.SANCTION, InteractionType.ATTACK, InteractionType.DESIGNATE, InteractionType.CONDEMN]
)
_JOINT_TYPES = frozenset(
    [InteractionType.COOPERATE, InteractionType.AGREE, InteractionType.TALKS, InteractionType.MEET]
)
_GROUP_NOUNS = frozenset(
    ["delegation", "delegations", "team", "mission", "entourage", "convoy", "commanders", "representatives", "envoys"]
)
_MODALS = frozenset(["may", "might", "could", "would", "should"])
_FUTURE = frozenset(["will", "shall", "'ll"])
_PLANNED_ADJ = frozenset(["planned", "upcoming", "proposed", "expected", "scheduled", "future", "possible"])
_DENIED_ADJ = frozenset(["cancelled", "canceled", "postponed", "aborted"])
_PHONE_WORDS = frozenset(["phone", "telephone", "video", "videoconference", "videolink"])
_HEDGES = re.compile(
    r"(?<![\w-])(?:according to|(?:analysts?|experts?|monitors?|observers?|sources?|diplomats?|officials?) "
    r"(?:say|said|says|believe|believed|told)|(?:is|are|was|were) (?:widely |also )?(?:believed|thought|said|"
    r"understood|alleged|reported|suspected) to|appears? to have|appeared to have|reportedly|allegedly|purportedly)"
    r"(?![\w-])",
    re.I,
)
_REPORTED_ADV = frozenset(["reportedly", "allegedly", "purportedly", "supposedly"])
# Hostile triggers link sides whatever the object's nature; contact ones need an actor on both sides.
_PLACE_OBJECT_TYPES = frozenset([InteractionType.VISIT])
MAX_TRIGGERS = 40


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


class _Sentence:
    """One parsed sentence with its mentions placed on tokens."""

    def __init__(self, doc: Doc, index: int, parsed: ParsedSentence, register: Callable[[Mention], None]) -> None:
        self.doc = doc
        self.index = index
        self.parsed = parsed
        self.register = register
        self.by_token: dict[int, Mention] = {}
        # Pairs of sides that one group noun stands for ("a Hamas delegation led by X"): never each other's.
        self.grouped: set[frozenset[int]] = set()
        self.words = {t.lower_ for t in parsed.doc}
        # "according to", "analysts say", "is believed to have": the sentence reports a claim, not a fact.
        self.hedged = bool(_HEDGES.search(parsed.doc.text))
        offset = parsed.offset
        candidates = [m for m in doc.mentions[index] if not m.pronoun or m.antecedent is not None]
        for token in parsed.doc:
            start = offset + token.idx
            end = start + len(token.text)
            owner = next((m for m in candidates if m.start < end and start < m.end), None)
            if owner is not None:
                self.by_token[token.i] = owner
        # The pattern step reads ", US envoy Tom Barrack and ..." after a name as an apposition; the parse
        # says whether a mention inside such a zone is one (a modifier) or a coordinated side (a conjunct).
        for mention in {id(m): m for m in self.by_token.values()}.values():
            if mention.head is None:
                continue
            roots = [
                t
                for t in parsed.doc
                if self.by_token.get(t.i) is mention and self.by_token.get(t.head.i) is not mention
            ]
            if not any(t.dep_ == "conj" and self.by_token.get(t.head.i) is not None for t in roots):
                for key in [k for k, m in self.by_token.items() if m is mention]:
                    del self.by_token[key]

    def sides(self, token: Token, *, place_ok: bool = True) -> list[Mention]:
        """The actors a token stands for, with its conjuncts ("X and Y")."""
        found: list[Mention] = []
        tokens = [token, *token.conjuncts]
        # "The US, Russia, and Switzerland met": the parser often hangs a list of places on its first one as an
        # apposition; places (never descriptions) in such a list are sides too.
        head = self.by_token.get(token.i)
        for appos in _children(token, "appos"):
            named = self.by_token.get(appos.i)
            listed = bool(appos.conjuncts) or bool(token.conjuncts)
            if self._place_hit(appos) is not None or (
                # "Ethiopia's Abiy Ahmed, Kenya's William Ruto and ... agreed": names in a list, not a description
                listed and named is not None and head is not None and named is not head and named.kind is head.kind
            ):
                tokens += [appos, *appos.conjuncts]
        for each in tokens:
            for mention in self._side(each, place_ok):
                if mention not in found:
                    found.append(mention)
        return found

    def _side(self, token: Token, place_ok: bool) -> list[Mention]:
        mention = self.by_token.get(token.i)
        if mention is not None:
            return [mention]
        if token.lower_ in _GROUP_NOUNS:
            group = self._group(token)
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    self.grouped.add(frozenset((id(a), id(b))))
            return group
        # "his Iraqi counterpart Fuad Hussein", "the Secretary-General of the Polisario Front, Mr. Brahim Ghali":
        # the noun stands for the named person in apposition to it.
        for appos in _children(token, "appos"):
            named = self.by_token.get(appos.i)
            if named is not None and named.kind is not EntityKind.GPE:
                return [named]
        if place_ok:
            gpe = self._place(token)
            if gpe is not None:
                return [gpe]
        return []

    def _group(self, token: Token) -> list[Mention]:
        """ "a delegation led by X": X; "a Hamas delegation", "a delegation of Hamas": Hamas."""
        found: list[Mention] = []
        for child in token.children:
            if child.dep_ == "acl" and child.lower_ in _LEAD_VERBS:
                for agent in child.children:
                    if agent.dep_ in ("agent", "prep"):
                        for pobj in agent.children:
                            if pobj.dep_ == "pobj":
                                found.extend(self.sides(pobj, place_ok=False))
                    elif agent.dep_ == "dobj":
                        found.extend(self.sides(agent, place_ok=False))
            elif child.dep_ in ("compound", "amod", "nmod"):
                found.extend(self._side(child, False))
            elif child.dep_ == "poss":
                # "Hamas's delegation" is Hamas's; "al-Kaabi's delegation" is his envoys, not him.
                found.extend(m for m in self._side(child, False) if m.kind is not EntityKind.PERSON)
            elif child.dep_ == "prep" and child.lower_ in ("of", "from"):
                for pobj in child.children:
                    if pobj.dep_ == "pobj":
                        found.extend(self.sides(pobj, place_ok=True))
        return found

    def _place_hit(self, token: Token) -> Hit | None:
        start = self.parsed.offset + token.idx
        return next(
            (
                h
                for h in self.doc.sentence_places[self.index]
                if h.start <= start < h.end and h.start not in self.doc.consumed
            ),
            None,
        )

    def _place(self, token: Token) -> Mention | None:
        """A country or capital standing as a side acts as its government."""
        hit = self._place_hit(token)
        if hit is None:
            return None
        existing = next((m for m in self.doc.mentions[self.index] if m.start == hit.start), None)
        if existing is not None:
            return existing if existing.head is None else None
        key = hit.first(Cat.COUNTRY, Cat.CAPITAL)
        if key is None or not isinstance(key.ref, Country):
            return None
        country = key.ref
        kind = "capital" if key.cat is Cat.CAPITAL else "country"
        why = f"{kind} '{key.form}' ({country.iso3}) as a side in the parse"
        gpe = Mention(EntityKind.GPE, hit.start, hit.end, country.name, why, self.index, country.iso3, Sector.GOV)
        self.doc.mentions[self.index].append(gpe)
        self.doc.mentions[self.index].sort(key=lambda m: (m.start, -m.end))
        for token_index in self.parsed.char_span_tokens(hit.start, hit.end):
            self.by_token[token_index.i] = gpe
        self.register(gpe)
        return gpe


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


def _forms(*lemmas: str) -> frozenset[str]:
    return frozenset(f for lemma in lemmas for f in verb_forms(lemma, _IRREGULAR.get(lemma, ())))


_IRREGULAR = {"lead": ("led",), "set": ("set",), "seek": ("sought",), "hold": ("held",)}
_LEAD_VERBS = _forms("lead", "head", "include", "chair")
_PLAN = _forms("plan", "expect", "schedule", "intend", "prepare", "hope", "seek", "want", "aim", "set") | {"due"}
_DENY = _forms("deny", "cancel", "refuse", "reject", "postpone", "scrap", "suspend", "dismiss")
_REPORT = _forms("allege", "claim", "rumour", "rumor", "suspect")


def _is_verb(token: Token) -> bool:
    return bool(token.tag_.startswith("VB") or token.tag_ == "MD")


def _is_noun(token: Token) -> bool:
    return bool(token.tag_.startswith("NN"))


def _is_preposition(token: Token) -> bool:
    return bool(token.tag_ in ("IN", "TO"))


_PAIR_NOUNS = frozenset(["two", "both", "sides", "leaders", "men", "ministers", "officials", "delegations"])


def _is_the_two(token: Token) -> bool:
    """ "the two", "both", "the two sides", "both leaders"."""
    words = {t.lower_ for t in token.subtree}
    return token.lower_ in _PAIR_NOUNS and ("two" in words or "both" in words) and len(words) <= 4


def _children(token: Token, *deps: str) -> list[Token]:
    return [c for c in token.children if c.dep_ in deps]


def _phrase_sides(sentence: _Sentence, token: Token, prepositions: Iterable[str]) -> list[Mention]:
    wanted = set(prepositions)
    found: list[Mention] = []
    for prep in _children(token, "prep"):
        if prep.lower_ in wanted:
            for pobj in _children(prep, "pobj"):
                found.extend(m for m in sentence.sides(pobj) if m not in found)
    return found


def _subjects(sentence: _Sentence, verb: Token) -> list[Mention]:
    """The verb's subject; else the noun its relative clause modifies; else the subject it inherits."""
    current = verb
    for _ in range(4):
        explicit = _children(current, *_SUBJECT)
        subjects = [m for s in explicit for m in sentence.sides(s)]
        if subjects:
            return subjects
        if sentence.doc.last_pair is not None and any(_is_the_two(s) for s in explicit):
            return list(sentence.doc.last_pair)  # "the two discussed ...": the sides named just before
        if explicit and all(s.lower_ in _PLURAL_PRONOUNS for s in explicit) and current.dep_ == "ccomp":
            # "Iran said they would ...", "Obama and Putin said they will ...": the speakers.
            speakers = [m for s in _children(current.head, "nsubj") for m in sentence.sides(s)]
            if speakers:
                return speakers
        if any(s.lower_ not in _RELATIVE_PRONOUNS for s in explicit):
            return []  # a subject the earlier steps do not know ("it met", "the two men met"): not inherited
        if current.dep_ == "relcl":
            if any(c.lower_ in ("where", "when") for c in current.children):
                return []  # "visited Tehran, where ... met": the place is no side
            return sentence.sides(current.head)
        if current.dep_ not in _INHERIT or current.head is current:
            return []
        current = current.head
        if _is_preposition(current):  # "after meeting X, Y said": the preposition's head is the verb
            current = current.head
    return []


def _modality(token: Token, sentence: _Sentence) -> Modality:
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
        if position == 0 and node.dep_ == "xcomp" and node.head.lower_ in _PLAN:
            found.add(Modality.PLANNED)
        if position >= 1:
            if lemma in _DENY:
                found.add(Modality.DENIED)
            elif lemma in _PLAN and chain[position - 1].dep_ in ("xcomp", "dobj", "nsubjpass"):
                found.add(Modality.PLANNED)
            elif lemma in _REPORT:
                found.add(Modality.REPORTED)
        if node.dep_ == "ccomp" and position >= 1:
            break  # "X said that ...": modality of what X said stops at the speech verb
    if sentence.hedged:
        found.add(Modality.REPORTED)
    for modality in (Modality.DENIED, Modality.HYPOTHETICAL, Modality.PLANNED, Modality.REPORTED):
        if modality in found:
            return modality
    return Modality.HAPPENED


def _noun_trigger(token: Token, triggers: dict[tuple[str, str], Trigger]) -> Trigger | None:
    if not _is_noun(token):
        return None
    return triggers.get((token.lower_, "NOUN"))


def reread_modality(doc: Doc, index: int, parsed: ParsedSentence, links: list[Link]) -> list[Link]:
    """The pattern step reads modality from words near its predicate; where the sentence is parsed, a
    denial, condition, plan or hedge that governs the predicate from further away ("denied on Thursday that
    the minister had met ...") is read from the tree instead."""
    if not links:
        return links
    sentence = _Sentence(doc, index, parsed, lambda _: None)
    out: list[Link] = []
    for link in links:
        tokens = parsed.char_span_tokens(link.at, link.at + 1) if link.at >= 0 else []
        if tokens and link.modality is Modality.HAPPENED:
            modality = _modality(tokens[0], sentence)
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
    """Interactions of one parsed sentence that the earlier pattern step did not already find."""
    sentence = _Sentence(doc, index, parsed, register)
    if not sentence.by_token and not doc.sentence_places[index]:
        return []
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
        if _is_verb(token):
            trigger = triggers.get((token.lower_, "VERB"))
        if trigger is not None:
            seen += 1
            links.extend(_verb_links(sentence, token, trigger, triggers, handled))
            continue
        noun = _noun_trigger(token, triggers)
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
    return kept


def _needs(trigger: Trigger, sentence: _Sentence) -> bool:
    return not trigger.needs or any(word in sentence.words for word in trigger.needs)


def _verb_links(
    sentence: _Sentence,
    verb: Token,
    trigger: Trigger,
    triggers: dict[tuple[str, str], Trigger],
    handled: set[int],
) -> list[Link]:
    if not _needs(trigger, sentence):
        return []
    if trigger.lemma == "call" and any(p.lower_ == "on" for p in _children(verb, "prep")):
        # "called on Acting Interior Minister X": a courtesy visit.
        subjects = _subjects(sentence, verb)
        hosts = _phrase_sides(sentence, verb, ("on",))
        modality = _modality(verb, sentence)
        why = f"parse: '{verb.text} on'"
        return [
            Link(a, b, InteractionType.VISIT, modality, why)
            for a in subjects
            for b in hosts
            if a.root() is not b.root()
        ]
    if trigger.lemma == "call" and (
        _children(verb, "oprd", "ccomp") or any(p.lower_ == "for" for p in _children(verb, "prep"))
    ):
        return []  # "called for talks", "called X a terrorist": no phone call
    kind = trigger.type
    noun: Token | None = None
    if trigger.light:
        # "held talks", "held two hours of talks", "had a phone call": the object noun says what happened.
        for obj in _children(verb, "dobj", "nsubjpass"):
            for candidate in (obj, *[p for prep in _children(obj, "prep") for p in _children(prep, "pobj")]):
                found = _noun_trigger(candidate, triggers)
                if found is not None:
                    noun, kind = candidate, found.type
                    break
            if noun is not None:
                break
        if noun is None:
            return []
        handled.add(noun.i)
    if kind is InteractionType.TALKS and any(
        p.lower_ in _PHONE_WORDS for prep in _children(verb, "prep") for p in _children(prep, "pobj")
    ):
        kind = InteractionType.PHONE_CALL  # "spoke by phone with"
    passive = bool(_children(verb, "nsubjpass", "auxpass"))
    why = f"parse: '{verb.text}'" + (f" + '{noun.text}'" if noun is not None else "")
    subjects = _subjects(sentence, verb)
    others: list[Mention] = []
    if trigger.takes_object and not passive:
        for obj in _children(verb, "dobj"):
            others.extend(sentence.sides(obj, place_ok=kind not in _PLACE_OBJECT_TYPES))
            if trigger.host and _noun_trigger(obj, triggers) is not None:
                # "hosted talks in Kabul between A and B": the host received both sides.
                others.extend(m for m in _phrase_sides(sentence, obj, ("between",)) if m not in others)
    prepositions = (
        ("with", "between", "alongside") if kind is not InteractionType.TALKS else ("with", "to", "alongside")
    )
    others.extend(m for m in _phrase_sides(sentence, verb, prepositions) if m not in others)
    if noun is not None:
        others.extend(m for m in _phrase_sides(sentence, noun, ("with", "between", "alongside")) if m not in others)
        if kind in _HOSTILE_TYPES:
            # "imposed sanctions on X", "launched strikes against X"
            for holder in (noun, verb):
                others.extend(m for m in _phrase_sides(sentence, holder, ("on", "against")) if m not in others)
    modality = _modality(verb, sentence)
    if noun is not None:
        noun_modality = _modality(noun, sentence)
        modality = noun_modality if noun_modality is not Modality.HAPPENED else modality
    pairs: list[tuple[Mention, Mention]] = []
    if passive:
        agents = [m for agent in _children(verb, "agent") for p in _children(agent, "pobj") for m in sentence.sides(p)]
        patients = subjects
        if agents and patients:
            pairs = [(a, p) for a in agents for p in patients]
            why += " (passive, agent after 'by')"
        elif patients and others:
            pairs = [(p, o) for p in patients for o in others]
    elif subjects and others:
        pairs = [(s, o) for s in subjects for o in others]
    elif len(subjects) >= 2 and (
        (trigger.lemma in _JOINT_LEMMAS and (not _children(verb, "dobj") or trigger.lemma in _TOPIC_LEMMAS))
        or (noun is not None and kind in _JOINT_TYPES)
    ):
        pairs = [(a, b) for i, a in enumerate(subjects) for b in subjects[i + 1 :]]
        pairs = [(a, b) for a, b in pairs if frozenset((id(a), id(b))) not in sentence.grouped]
        why += " (joint subjects)"
    return [Link(a, b, kind, modality, why) for a, b in pairs if a.root() is not b.root()]


def _noun_links(sentence: _Sentence, noun: Token, trigger: Trigger) -> list[Link]:
    if not _needs(trigger, sentence):
        return []
    owners = [m for p in _children(noun, "poss", "compound") for m in sentence.sides(p, place_ok=False)]
    partners = _phrase_sides(sentence, noun, ("with", "alongside"))
    between = [
        m
        for prep in _children(noun, "prep")
        if prep.lower_ == "between"
        for p in _children(prep, "pobj")
        for m in sentence.sides(p)
    ]
    why = f"parse: noun '{noun.text}'"
    modality = _modality(noun, sentence)
    if modality is Modality.HAPPENED and noun.dep_ in ("nsubj", "nsubjpass"):
        modality = _modality(noun.head, sentence)
    pairs: list[tuple[Mention, Mention]] = []
    if trigger.type is InteractionType.SUPPORT and noun.dep_ == "dobj" and _is_verb(noun.head):
        # "received backing from Tehran": the giver is after "from", the receiver is the verb's subject.
        donors = _phrase_sides(sentence, noun, ("from",)) or _phrase_sides(sentence, noun.head, ("from",))
        receivers = _subjects(sentence, noun.head)
        if donors and receivers:
            modality = _modality(noun.head, sentence) if modality is Modality.HAPPENED else modality
            pairs = [(d, r) for d in donors for r in receivers]
            return [Link(a, b, trigger.type, modality, why + " (from)") for a, b in pairs if a.root() is not b.root()]
    if len(between) >= 2:
        pairs = [(a, b) for i, a in enumerate(between) for b in between[i + 1 :]]
        why += " (between)"
    elif partners:
        if not owners:
            governor = noun.head
            if _is_preposition(governor):
                governor = governor.head
            if _is_verb(governor) and noun.dep_ in ("pobj", "dobj"):
                owners = _subjects(sentence, governor)
                if modality is Modality.HAPPENED:
                    modality = _modality(governor, sentence)
        pairs = [(o, p) for o in owners for p in partners]
    elif not owners and trigger.type in _JOINT_TYPES and noun.dep_ in ("dobj", "pobj"):
        # "Brazil and the United States seek to deepen a partnership": joint subjects of the governing verb.
        governor = noun.head.head if _is_preposition(noun.head) else noun.head
        if _is_verb(governor):
            subjects = _subjects(sentence, governor)
            if len(subjects) >= 2:
                pairs = [(a, b) for i, a in enumerate(subjects) for b in subjects[i + 1 :]]
                pairs = [(a, b) for a, b in pairs if frozenset((id(a), id(b))) not in sentence.grouped]
                why += " (joint subjects)"
                if modality is Modality.HAPPENED:
                    modality = _modality(governor, sentence)
    return [Link(a, b, trigger.type, modality, why) for a, b in pairs if a.root() is not b.root()]

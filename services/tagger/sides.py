"""The sides of an interaction in a parsed sentence: mentions placed on tokens, conjuncts and lists, group
nouns ("a Hamas delegation led by X"), appositions ("his Iraqi counterpart Fuad Hussein"), countries and
capitals in a side position (which become governments), and the subject a clause has or inherits."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from schemas.tagged_article import EntityKind, Sector
from services.tagger.doc import Doc, Mention
from services.tagger.lexicon import Country
from services.tagger.matcher import Cat, Hit
from services.tagger.nlp import ParsedSentence
from services.tagger.triggers import Token, children, forms, is_preposition

_SUBJECT = frozenset(["nsubj", "nsubjpass", "csubj"])

_INHERIT = frozenset(["xcomp", "advcl", "conj", "pcomp", "acl"])

# Nouns that stand for a group led by someone and sent by someone.
_RELATIVE_PRONOUNS = frozenset(["who", "which", "that", "whom"])

# Pronouns of a group or a state that the mention steps do not resolve ("they", "it", "we").
_PLURAL_PRONOUNS = frozenset(["they", "it", "we"])

_QUANTITIES = frozenset(["hundreds", "thousands", "dozens", "scores", "some", "several", "many"])
GROUP_NOUNS = frozenset(
    [
        "delegation",
        "delegations",
        "team",
        "mission",
        "entourage",
        "convoy",
        "commanders",
        "representatives",
        "envoys",
        "fighters",
        "militants",
        "members",
        "officers",
        "operatives",
        "leaders",
    ]
)

# Officials' and diplomats' attributions ("X met Y, officials said") are how wires report facts, not hedges.
HEDGES = re.compile(
    r"(?<![\w-])(?:according to|(?:analysts?|experts?|monitors?|observers?|sources?) "
    r"(?:say|said|says|believe|believed|told)|(?:is|are|was|were) (?:widely |also )?(?:believed|thought|said|"
    r"understood|alleged|reported|suspected) to|appears? to have|appeared to have|reportedly|allegedly|purportedly)"
    r"(?![\w-])",
    re.I,
)


class SentenceGraph:
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
        self.hedged = bool(HEDGES.search(parsed.doc.text))
        offset = parsed.offset
        candidates = [m for m in doc.mentions[index] if not m.pronoun or m.antecedent is not None]
        for token in parsed.doc:
            start = offset + token.idx
            end = start + len(token.text)
            owner = next((m for m in candidates if m.start < end and start < m.end), None)
            if owner is not None:
                self.by_token[token.i] = owner
        # A person's title words before the name ("Foreign Minister ...", "X's secretary-general, ...") are his.
        for mention in candidates:
            if mention.kind is EntityKind.PERSON and mention.head is None and mention.lead < mention.start:
                for token in parsed.char_span_tokens(mention.lead, mention.start):
                    self.by_token.setdefault(token.i, mention)
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
            # A name in apposition to a plain noun ("met Harakat al-Nujaba's secretary-general, Akram
            # al-Kaabi,") is what that noun stands for: a side too.
            if not any(
                (t.dep_ == "conj" and self.by_token.get(t.head.i) is not None)
                or (t.dep_ == "appos" and self.by_token.get(t.head.i) is None and t.head.tag_.startswith("NN"))
                for t in roots
            ):
                for key in [k for k, m in self.by_token.items() if m is mention]:
                    del self.by_token[key]

    def sides(self, token: Token, *, place_ok: bool = True) -> list[Mention]:
        """The actors a token stands for, with its conjuncts ("X and Y")."""
        found: list[Mention] = []
        tokens = [token, *token.conjuncts]
        # "The US, Russia, and Switzerland met": the parser often hangs a list of places on its first one as an
        # apposition; places (never descriptions) in such a list are sides too.
        head = self.by_token.get(token.i)
        for appos in children(token, "appos"):
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
        if token.lower_ in _QUANTITIES:
            # "trained hundreds of Hamas fighters": the people counted.
            return [
                m
                for prep in children(token, "prep")
                if prep.lower_ == "of"
                for p in children(prep, "pobj")
                for m in self._side(p, place_ok)
            ]
        if token.lower_ in GROUP_NOUNS:
            group = self._group(token)
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    self.grouped.add(frozenset((id(a), id(b))))
            return group
        # "his Iraqi counterpart Fuad Hussein", "the Secretary-General of the Polisario Front, Mr. Brahim Ghali":
        # the noun stands for the named person in apposition to it.
        for appos in children(token, "appos"):
            named = self.by_token.get(appos.i)
            if named is not None and named.kind is not EntityKind.GPE:
                return [named]
        if place_ok:
            gpe = self._place(token)
            if gpe is not None:
                return [gpe]
        return []

    def _group(self, token: Token) -> list[Mention]:
        """ "a delegation led by X": X; "a Hamas delegation", "a delegation of Hamas": Hamas; "a delegation from
        the Hamas movement headed by X": Hamas and X."""
        found: list[Mention] = []
        owners = [
            p for prep in children(token, "prep") if prep.lower_ in ("of", "from") for p in children(prep, "pobj")
        ]
        for child in [*token.children, *(c for owner in owners for c in owner.children if c.dep_ == "acl")]:
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


_LEAD_VERBS = forms("lead", "head", "include", "chair")

_PAIR_NOUNS = frozenset(["two", "both", "sides", "leaders", "men", "ministers", "officials", "delegations"])


def is_the_two(token: Token) -> bool:
    """ "the two", "both", "the two sides", "both leaders"."""
    words = {t.lower_ for t in token.subtree}
    return token.lower_ in _PAIR_NOUNS and ("two" in words or "both" in words) and len(words) <= 4


def phrase_sides(sentence: SentenceGraph, token: Token, prepositions: Iterable[str]) -> list[Mention]:
    wanted = set(prepositions)
    found: list[Mention] = []
    for prep in children(token, "prep"):
        if prep.lower_ in wanted:
            for pobj in children(prep, "pobj"):
                found.extend(m for m in sentence.sides(pobj) if m not in found)
    return found


def subjects_of(sentence: SentenceGraph, verb: Token) -> list[Mention]:
    """The verb's subject; else the noun its relative clause modifies; else the subject it inherits."""
    current = verb
    for _ in range(4):
        explicit = children(current, *_SUBJECT)
        subjects = [m for s in explicit for m in sentence.sides(s)]
        if subjects:
            return subjects
        if sentence.doc.last_pair is not None and any(is_the_two(s) for s in explicit):
            return list(sentence.doc.last_pair)  # "the two discussed ...": the sides named just before
        if explicit and all(s.lower_ in _PLURAL_PRONOUNS for s in explicit) and current.dep_ == "ccomp":
            # "Iran said they would ...", "Obama and Putin said they will ...": the speakers.
            speakers = [m for s in children(current.head, "nsubj") for m in sentence.sides(s)]
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
        if is_preposition(current):  # "after meeting X, Y said": the preposition's head is the verb
            if current.lower_ in ("for", "of") and children(current.head, "dobj"):
                # "condemned Moscow for hosting ...", "accused Iran of arming ...": the object does it.
                return [m for obj in children(current.head, "dobj") for m in sentence.sides(obj)]
            current = current.head
    return []

"""Interactions within one sentence: a predicate between a subject mention and the mention(s) after it.

Subject: the nearest actor before the predicate that is not a modifier (the organisation in "Harakat
al-Nujaba leader Akram al-Kaabi" only describes the person) and not already an object of an earlier predicate
in the sentence. Objects: the first actor after the predicate in the same clause, plus any joined to it by
"and" / "as well as"; mentions inside its apposition are skipped. Passive predicates ("was designated by")
swap the sides and need a "by" agent. Countries and capitals become actors (GPE) only in these two positions."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from schemas.tagged_article import CONTACT_TYPES, EntityKind, InteractionType, Modality, Sector
from services.tagger.lexicon import Country, Predicate
from services.tagger.matcher import Cat, Hit
from services.tagger.mentions import Doc, Mention
from services.tagger.text import Span

# How far apart a subject or object may be from its predicate (characters).
MAX_SUBJECT_GAP = 200
MAX_OBJECT_GAP = 120
MAX_OBJECT_WORDS = 3
MAX_PREDICATES = 40


@dataclass(frozen=True, slots=True)
class Link:
    source: Mention
    target: Mention
    type: InteractionType
    modality: Modality
    why: str
    at: int = -1  # offset of the predicate in the text (-1: not from one word)


_FILLERS = re.compile(
    r"(?:\s+(?:has|have|had|will|would|is|was|were|are|also|previously|officially|formally|reportedly|recently|"
    r"already|then|now|not|never|publicly|repeatedly|itself|later|again|once|swiftly|quickly|on\s+\w+day))*\s+$"
)
_LOCATIVE = re.compile(
    r"(?<![\w-])(?:in|to|from|at|into|inside|across|near|throughout|via|toward|towards|through|within|around|"
    r"outside|for|of|with|between|against|over|on|by|about|than|like|visit|visited|visiting)\s+(?:the\s+)?$"
)
_PREPOSITION = re.compile(
    r"(?<![\w-])(?:against|in|of|from|at|on|for|with|by|to|into|about|over|under|between|among|than|like|"
    r"toward|towards|inside|within|without|via|through|across|near)\s+(?:the\s+)?$"
)
# A predicate after a determiner is a noun or adjective ("an attack on", "the designated team").
_DETERMINER = re.compile(r"(?<![\w-])(?:a|an|the|no|its|his|her|their|this|that|any|cabinet)\s+$")
# Words that end the stretch in which an object may follow its predicate.
_OBJECT_GAP_WORDS = re.compile(
    r"(?<![\w-])(?:to|that|which|who|when|where|while|after|before|because|but|following|amid)(?![\w-])"
)
_CLAUSE_BREAK = re.compile(r"[,;]|(?<![\w-])(?:but|and|while|although|though)(?![\w-])")
_FUNCTION_WORDS = frozenset(
    [
        "and",
        "or",
        "as",
        "in",
        "on",
        "of",
        "to",
        "for",
        "over",
        "after",
        "before",
        "with",
        "from",
        "at",
        "by",
        "that",
        "which",
        "who",
        "into",
        "during",
        "since",
        "because",
        "but",
        "while",
        "when",
        "last",
        "this",
        "earlier",
        "amid",
        "about",
        "against",
        "under",
        "of",
    ]
)
_SUBORDINATOR = re.compile(
    r"(?<![\w-])(?:that|as|when|where|while|after|before|because|if|unless|although|though|since|whether|which|who|whom|whose)(?![\w-])"
)
_OF_GERUND = re.compile(r"\s+of\s+$")
_GAP_PREPOSITIONS = frozenset(
    [
        "a",
        "an",
        "at",
        "in",
        "on",
        "for",
        "from",
        "of",
        "to",
        "into",
        "about",
        "over",
        "under",
        "between",
        "among",
        "during",
        "against",
        "with",
        "without",
    ]
)
_AND_NOT_ADVERB = re.compile(r"(?<![\w-])and\s+(?![a-z]+ly\b)")
_PASSIVE_BEFORE = re.compile(r"(?<![\w-])(?:is|are|was|were|been|being|be|gets?|got)\s+(?:\w+ly\s+)?$")
_BY = re.compile(r"\s+by\s+(?:the\s+)?$")
_OBJECT_GAP_BREAK = re.compile(r"[,;:()]|\s[-–—]\s")
_COORDINATION = re.compile(
    r"^\s*(?:,\s*)?(?:(?:and|as well as|along with|together with|&)\s+(?:with\s+)?)?(?:the\s+)?$"
)
_CONJUNCTION = re.compile(r"(?<![\w-])(?:and|as well as|along with|together with)(?![\w-])|&")
_SUBJECT_COORDINATION = re.compile(r"^\s*(?:,\s*)?(?:and|&)\s+(?:the\s+)?$")
_LIST_COMMA = re.compile(r"^\s*,\s*(?:the\s+)?$")
# "discussed the war with Bogdanov": the side after a topic predicate; nothing may end the clause before it.
_WITH_BEFORE = re.compile(r"(?<![\w-])with\s+(?:the\s+)?$")
_TOPIC_GAP_BREAK = re.compile(r"[;:()]|\s[-–—]\s|,\s*and(?![\w-])|(?<![\w-])(?:but|while|which|who|that)(?![\w-])")
_OBJECT_LEAD = re.compile(r"\s+(?:by\s+)?(?:the\s+)?")

_DENIED = re.compile(
    r"(?<![\w-])(?:denied|denies|deny|denying|cancel+ed|called off|refused to|did not|didn't|does not|doesn't|"
    r"has not|have not|had not|never|not)(?![\w-])"
)
_DENIED_AFTER = re.compile(r"(?<![\w-])(?:was|were|has been|had been|is) (?:cancel+ed|called off|postponed)")
_HYPOTHETICAL = re.compile(r"(?<![\w-])(?:may|might|could|would|should|if)(?![\w-])")
_PLANNED = re.compile(
    r"(?<![\w-])(?:will|shall|(?:is|are|was|were) (?:expected|set|scheduled|due|going|to)|plans? to|planned to|"
    r"intends? to|upcoming|next week|next month)(?![\w-])|(?<![\w-])to\s+$"
)
_REPORTED = re.compile(
    r"(?<![\w-])(?:reportedly|allegedly|according to|(?:is|are|was|were) said to|reports? (?:said|say)|"
    r"claimed|alleged)(?![\w-])"
)


def link_sentence(doc: Doc, index: int, span: Span, register: Callable[[Mention], None]) -> list[Link]:
    """Interactions of sentence `index`. New GPE mentions are added to doc.mentions and passed to register."""
    if not doc.sentence_predicates[index]:
        return []
    mentions = doc.mentions[index]
    predicates = [
        h
        for h in doc.sentence_predicates[index]
        if h.start not in doc.consumed and not any(m.start < h.end and h.start < m.end for m in mentions)
    ]
    if not predicates:
        return []
    # Bounded work: real sentences have a handful of predicates; run-on junk may have thousands.
    predicates = predicates[:MAX_PREDICATES]
    _add_gpes(doc, index, span, predicates, register)
    # Speech verbs ("said") only place GPEs and bound subjects; most sentences have no other predicate.
    typed = [h for h in predicates if isinstance(h.key.ref, Predicate) and h.key.ref.type is not None]
    if not typed:
        return []
    top = [m for m in doc.mentions[index] if m.head is None]
    # Meeting "Naim Qassem's envoy" is not meeting Qassem; condemning "Trump's rhetoric" still targets Trump.
    top_contact = [m for m in top if not _possessor(doc, m, span)]
    links: list[Link] = []
    objects_so_far: set[int] = set()
    reported: bool | None = None
    for hit in typed:
        predicate = hit.key.ref
        assert isinstance(predicate, Predicate) and predicate.type is not None
        if predicate.needs and predicate.needs not in doc.folded[hit.end : span.end]:
            continue
        if _DETERMINER.search(doc.folded, max(span.start, hit.start - 10), hit.start):
            continue
        sides = top_contact if predicate.type in CONTACT_TYPES else top
        objects = _topic_objects(doc, sides, hit) if predicate.topic else _objects(doc, sides, hit)
        if not objects and not predicate.symmetric:
            continue  # every pairing below needs an object or joint subjects: skip the costly subject search
        subjects = _subjects(doc, sides, hit, objects_so_far)
        passive = bool(_PASSIVE_BEFORE.search(doc.folded, max(span.start, hit.start - 30), hit.start))
        if not passive and objects and _BY.search(doc.folded, hit.end, objects[0].lead):
            # "X backed by Y" without "is/was": X must be right before ("rebels backed by Ankara" is not
            # about "the army and Syrian rebels").
            passive = True
            subjects = [s for s in subjects if not _AND_NOT_ADVERB.search(doc.folded, s.tail, hit.start)]
        why = f"predicate '{doc.text[hit.start : hit.end]}'"
        pairs: list[tuple[Mention, Mention]] = []
        if passive:
            # "X was designated by Y": Y acts on X. Without a "by" agent the actor is unknown.
            agents = [o for o in objects if _BY.search(doc.folded, hit.end, o.lead)]
            pairs = [(a, s) for a in agents[:1] for s in subjects[:1]]
            why += " (passive, agent after 'by')"
        elif subjects and objects:
            pairs = [(s, o) for s in subjects for o in objects]
        elif predicate.symmetric and len(subjects) >= 2:
            # "Al-Kaabi, Qassem and Bogdanov met": every two of them met.
            pairs = _each_pair(subjects)
            why += " (joint subjects)"
        elif predicate.symmetric and not subjects and len(objects) >= 2 and predicate.phrase.endswith("between"):
            # Only "between" joins two objects: in "[unknown] met al-Kaabi and Qassem" they did not meet.
            pairs = _each_pair(objects)
            why += " (between)"
        pairs = [(a, b) for a, b in pairs if a.root() is not b.root()]
        if not pairs:
            objects_so_far.update(id(o) for o in objects)
            continue
        subject_end = max((s.end for s in subjects), default=span.start)
        if reported is None:  # searched only once a pair is found: most sentences have none
            reported = bool(_REPORTED.search(doc.folded, span.start, span.end))
        modality = _modality(doc, span, subject_end, hit, reported)
        if modality is Modality.HAPPENED and subjects and _OF_GERUND.match(doc.folded, subjects[0].tail, hit.start):
            modality = Modality.REPORTED  # an accusation, not an established fact
        for source, target in pairs:
            if source.root() is target.root():
                continue
            source.used = target.used = True
            links.append(Link(source, target, predicate.type, modality, why, hit.start))
        objects_so_far.update(id(o) for o in objects)
    return links


def _each_pair(sides: list[Mention]) -> list[tuple[Mention, Mention]]:
    return [(a, b) for i, a in enumerate(sides) for b in sides[i + 1 :]]


def _possessor(doc: Doc, mention: Mention, span: Span) -> bool:
    """ "hosted Naim Qassem's envoy", "al-Kaabi's delegation was received": the envoy or delegation acts, not the
    possessor. "Al-Kaabi's meeting with ..." (a predicate noun follows) still makes him a side."""
    if doc.folded[mention.end : mention.end + 2] != "'s":
        return False
    after = doc.by_start.get(doc.forward(mention.end + 2, span.end))
    return after is None or after.cat is not Cat.PREDICATE


def _subjects(doc: Doc, top: list[Mention], hit: Hit, taken: set[int]) -> list[Mention]:
    # A predicate inside "X, who met Y, ..." belongs to X.
    holder = next((m for m in top if m.relative and m.end <= hit.start < m.tail), None)
    if holder is not None:
        return [holder]
    # "Saudi Arabia accuses Iran of backing the Houthis": Iran is the one said to back them.
    accused = next((m for m in top if _OF_GERUND.match(doc.folded, m.tail, hit.start)), None)
    if accused is not None and doc.folded[hit.end - 3 : hit.end] == "ing":
        return [accused]
    before = [
        m
        for m in top
        if m.tail <= hit.start
        and hit.start - m.end <= MAX_SUBJECT_GAP
        and id(m) not in taken
        # "the war against Islamic State ... has condemned": a mention after a preposition is no subject.
        and not _PREPOSITION.search(doc.folded, max(0, m.lead - 20), m.lead)
    ]
    if not before:
        return []  # before the barrier search below, which only narrows `before`
    # Nothing before a subordinate clause or a speech verb is the subject: in "Tehran has said that ... an
    # adviser met X" Tehran did not meet X. ("after meeting X" right after the subject still counts.)
    barrier = -1
    for word in _SUBORDINATOR.finditer(doc.folded, max(0, hit.start - MAX_SUBJECT_GAP), hit.start):
        if doc.folded[word.end() : hit.start].strip():
            barrier = max(barrier, word.start())
    for other in doc.hits_in(Span(max(0, hit.start - MAX_SUBJECT_GAP), hit.start)):
        speech = other.cat is Cat.PREDICATE and isinstance(other.key.ref, Predicate) and other.key.ref.type is None
        # ... but "denied meeting X" is the speaker's own (denied) meeting.
        if speech and doc.folded[other.end : hit.start].strip():
            barrier = max(barrier, other.start)
    before = [m for m in before if m.start > barrier]
    if not before:
        return []
    subjects = [before[-1]]
    joined = False
    for earlier in reversed(before[:-1]):
        joint = doc.folded[earlier.tail : subjects[-1].lead]
        if _SUBJECT_COORDINATION.match(joint):
            joined = True
        # A bare comma joins only a list that ends with "and" ("Al-Kaabi, Qassem and Bogdanov met").
        elif not (joined and _LIST_COMMA.match(joint)):
            break
        subjects.append(earlier)
    subjects.reverse()
    return subjects


def _objects(doc: Doc, top: list[Mention], hit: Hit) -> list[Mention]:
    after = [m for m in top if m.lead >= hit.end]
    if not after:
        return []
    first = after[0]
    gap = doc.folded[hit.end : first.lead]
    words = [w for w in gap.split() if w != "the"]
    if len(gap) > MAX_OBJECT_GAP or len(words) > MAX_OBJECT_WORDS or _OBJECT_GAP_BREAK.search(gap):
        return []
    # The object follows its predicate ("met with X", "listed X", "financed by X"), not a later phrase
    # ("host a meeting at the UN").
    if any(w in _GAP_PREPOSITIONS for w in words):
        return []
    if _OBJECT_GAP_WORDS.search(gap):
        return []
    return _joined(doc, after)


def _topic_objects(doc: Doc, top: list[Mention], hit: Hit) -> list[Mention]:
    """The side of a topic predicate: "discussed the war in Syria with Bogdanov" (mentions before "with" are
    the topic); not past the end of the clause or another predicate."""
    after = [m for m in top if m.lead >= hit.end and m.lead - hit.end <= MAX_OBJECT_GAP]
    for index, mention in enumerate(after):
        if not _WITH_BEFORE.search(doc.folded, hit.end, mention.lead):
            continue
        gap = Span(hit.end, mention.lead)
        if _TOPIC_GAP_BREAK.search(doc.folded, gap.start, gap.end) or any(
            h.cat is Cat.PREDICATE for h in doc.hits_in(gap)
        ):
            return []
        return _joined(doc, after[index:])
    return []


def _joined(doc: Doc, after: list[Mention]) -> list[Mention]:
    """The first of `after` and the ones coordinated with it ("X and Y", "X, Y and Z", "X as well as Y")."""
    objects = [after[0]]
    bare_comma_at: int | None = None
    for nxt in after[1:]:
        joint = doc.folded[objects[-1].tail : nxt.lead]
        if nxt.pronoun or objects[-1].tail == nxt.lead or not _COORDINATION.match(joint):
            break
        conjunction = _CONJUNCTION.search(joint)
        if conjunction and "," in joint and len(objects) == 1 and objects[0].tail == objects[0].end:
            break  # "met X, and Y said ...": a new clause (two joined names take no comma)
        if not conjunction and bare_comma_at is None:
            bare_comma_at = len(objects)
        elif conjunction:
            bare_comma_at = None  # "X, Y and Z": the commas were a list after all
        objects.append(nxt)
    # A comma alone does not join ("met Bogdanov, the Kremlin's envoy") unless a list ends with "and".
    return objects if bare_comma_at is None else objects[:bare_comma_at]


def _add_gpes(doc: Doc, index: int, span: Span, predicates: list[Hit], register: Callable[[Mention], None]) -> None:
    """A country or capital acts as its government when it is the subject or object of a predicate."""
    mentions = doc.mentions[index]
    places = [
        h
        for h in doc.sentence_places[index]
        if h.start not in doc.consumed and not any(m.lead <= h.start < m.tail for m in mentions)
    ]
    if not places:
        return
    created: dict[int, Mention] = {}
    starts = [p.start for p in places]
    for hit in predicates:
        predicate = hit.key.ref
        assert isinstance(predicate, Predicate)
        # Only the nearest place on each side can be the predicate's subject or object.
        after = bisect_left(starts, hit.end)
        nearest = places[max(0, after - 1) : after + 1]
        for place in nearest:
            if place.start in created:
                continue
            role = ""
            if place.end <= hit.start and _FILLERS.match(doc.folded, place.end, hit.start):
                if _LOCATIVE.search(doc.folded, max(span.start, place.start - 20), place.start):
                    continue
                role = "subject"
            elif place.start >= hit.end and predicate.type is not None and not (predicate.place or predicate.topic):
                lead = _OBJECT_LEAD.match(doc.folded, hit.end, place.start)
                if lead is None or lead.end() != place.start:
                    continue
                # "welcomed the US move": the country only qualifies a noun.
                following = re.match(r" ([a-z]+)", doc.text[place.end : place.end + 20])
                if following is not None and following.group(1) not in _FUNCTION_WORDS:
                    continue
                role = "object"
            else:
                continue
            key = place.first(Cat.COUNTRY, Cat.CAPITAL)
            assert key is not None and isinstance(key.ref, Country)
            country = key.ref
            kind = "capital" if key.cat is Cat.CAPITAL else "country"
            why = f"{kind} '{key.form}' ({country.iso3}) as {role} of '{doc.text[hit.start : hit.end]}'"
            gpe = Mention(EntityKind.GPE, place.start, place.end, country.name, why, index, country.iso3, Sector.GOV)
            created[place.start] = gpe
            register(gpe)
    if created:
        mentions.extend(created.values())
        mentions.sort(key=lambda m: (m.start, -m.end))


def _modality(doc: Doc, span: Span, subject_end: int, hit: Hit, reported: bool) -> Modality:
    begin = max(span.start, hit.start - MAX_SUBJECT_GAP, min(subject_end, hit.start))
    # Only the clause of the predicate: "did not comment, but has condemned" is not a denial.
    for brk in _CLAUSE_BREAK.finditer(doc.folded, begin, hit.start):
        begin = brk.end()
    window = doc.folded[begin : hit.end]
    # The predicate's own words count too ("denied meeting" is matched as "meeting" after "denied").
    if _DENIED.search(window) or _DENIED_AFTER.search(doc.folded, hit.end, min(span.end, hit.end + 150)):
        return Modality.DENIED
    if _HYPOTHETICAL.search(window):
        return Modality.HYPOTHETICAL
    if _PLANNED.search(doc.folded, begin, hit.start):
        return Modality.PLANNED
    if reported:
        return Modality.REPORTED
    return Modality.HAPPENED

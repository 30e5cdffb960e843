"""The tagger stage: CleanArticle -> TaggedArticle (who appears, and who interacts with whom).

Plain logic, no Kafka: services.tagger.service wires it in. A Tagger is built once (lexicons and the alias
automaton) and reused; tag() is pure and its work is bounded (services.tagger.text caps characters and
sentences), so one bad article cannot stall the stream.

Steps per article (each its own module):
1. fold the text (same length, so offsets carry over) and split it into sentences (text);
2. alias pass: one Aho-Corasick pass finds every watched alias, knowledge-base name and lexicon phrase
   (matcher);
3. parse: the sentences that can carry a watched actor's contact (gate) go through spaCy (nlp); none in an
   article that mentions no watched actor;
4. mentions: per sentence, from the hits (mentions) and the parser's PERSON entities (people);
5. KB linking: persons get country, sector, office and former/current as of the article's date (people, kb);
6. coreference: surnames and acronyms to their first full mention; descriptions and pronouns resolved
   sentence by sentence (below);
7. interactions: lexical predicates (relations), then the dependency parse (syntax)."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from datetime import date

from schemas.clean_article import CleanArticle
from schemas.tagged_article import Entity, EntityKind, Evidence, Interaction, Sector, TaggedArticle
from schemas.watchlist import WatchlistEntry
from services.tagger.gate import sentences_to_parse, watched_sentences
from services.tagger.kb import KnowledgeBase, load_kb
from services.tagger.lexicon import Lexicon, load_lexicon
from services.tagger.matcher import Matcher
from services.tagger.mentions import Doc, Mention, find_mentions, mark_zones
from services.tagger.nlp import DEFAULT_MODEL, LoadedPipeline, ParsedSentence, load_pipeline, parse_sentences
from services.tagger.people import add_recognised_persons, link_to_kb, resolve_office
from services.tagger.relations import Link, link_sentence
from services.tagger.syntax import link_parsed, reread_modality
from services.tagger.text import MAX_CHARS, after_dateline, fold, split_sentences
from services.tagger.triggers import Trigger, load_triggers

__all__ = ["Lexicon", "Tagger", "load_lexicon"]

_PARTICLE = re.compile(r"^(?:al|el|ad|as|ash|ar|an|at|az)-", re.I)
_MemoryKey = tuple[str, ...]


class Tagger:
    """Built once per watchlist (the model and knowledge base are loaded once per process and shared)."""

    def __init__(
        self,
        watchlist: Sequence[WatchlistEntry],
        lexicon: Lexicon | None = None,
        *,
        kb: KnowledgeBase | None = None,
        pipeline: LoadedPipeline | None = None,
        model: str = DEFAULT_MODEL,
        parse: bool = True,
        parse_all: bool = False,
    ) -> None:
        self._lexicon = lexicon if lexicon is not None else load_lexicon()
        self._watch = {entry.actor_id: entry for entry in watchlist}
        self._kb = kb if kb is not None else load_kb()
        self._matcher = Matcher(self._lexicon, list(watchlist), self._kb.aliases())
        self._org_heads = {head.word: head for head in self._lexicon.org_heads}
        self._pipeline = pipeline if pipeline is not None or not parse else load_pipeline(model)
        self._triggers: dict[tuple[str, str], Trigger] = load_triggers()
        self.parse_all = parse_all

    @property
    def pipeline(self) -> LoadedPipeline | None:
        return self._pipeline

    def tag(self, article: CleanArticle, *, parse_all: bool | None = None) -> TaggedArticle:
        text = article.text
        limit = min(len(text), MAX_CHARS)
        folded = fold(text[:limit])
        sentences = split_sentences(text, limit)
        hits, heads = self._matcher.scan(text, folded, limit)
        doc = Doc(text, folded, sentences, hits, heads, self._org_heads)
        parsed: dict[int, ParsedSentence] = {}
        if self._pipeline is not None:
            everything = self.parse_all if parse_all is None else parse_all
            chosen = sentences_to_parse(doc, parse_all=everything)
            if chosen:
                # Names are recognised where a watched actor is (its counterparts there may be unknown to the
                # lexicons); sentences parsed for references only are read for structure.
                recognise = None if everything else watched_sentences(doc)
                parsed = parse_sentences(self._pipeline, text, sentences, chosen, recognise=recognise)
        for index, span in enumerate(sentences):
            find_mentions(doc, index, span, self._watch)
            proper = after_dateline(text, span)
            if proper > span.start:  # "(Reuters)" in a dateline is a credit, not an actor
                doc.mentions[index] = [m for m in doc.mentions[index] if m.start >= proper]
            if index in parsed:
                add_recognised_persons(doc, index, parsed[index])
        at = _article_date(article)
        link_to_kb(doc, self._kb, at)
        _link_names(doc, self._watch)
        links = self._resolve_and_link(doc, parsed, at)
        return _build(article, doc, links)

    def _resolve_and_link(self, doc: Doc, parsed: dict[int, ParsedSentence], at: date) -> list[Link]:
        roots: dict[_MemoryKey, Mention] = {}
        recent: list[Mention] = []  # roots, most recently mentioned last
        last_subject: Mention | None = None
        links: list[Link] = []

        def register(mention: Mention) -> None:
            if mention.antecedent is None:
                key = _memory_key(mention)
                first = roots.setdefault(key, mention)
                if first is not mention:
                    mention.antecedent = first
                    _enrich(first, mention)
            else:
                mention.antecedent = mention.antecedent.root()
            root = mention.root()
            if root in recent:
                recent.remove(root)
            recent.append(root)

        for index, span in enumerate(doc.sentences):
            if not doc.mentions[index] and not doc.sentence_hits[index]:
                continue  # nothing to resolve, link or remember
            kept: list[Mention] = []
            for mention in doc.mentions[index]:
                if mention.pronoun:
                    earlier = [m for m in kept if m.kind is EntityKind.PERSON and not m.pronoun and m.head is None]
                    antecedent = earlier[0].root() if earlier else last_subject
                    if antecedent is None:
                        continue
                    mention.antecedent = antecedent
                    mention.why = f"pronoun '{doc.text[mention.start : mention.end]}' -> '{antecedent.canonical}'" + (
                        " earlier in the sentence" if earlier else " (subject of an earlier sentence)"
                    )
                elif mention.descriptor:
                    antecedent = _describe(mention, recent)
                    if antecedent is None:
                        # "The Turkish foreign minister" with nobody named before: the KB's holder then.
                        if not resolve_office(mention, self._kb, at):
                            continue
                    else:
                        mention.antecedent = antecedent
                        mention.why += f" -> '{antecedent.canonical}'"
                register(mention)
                kept.append(mention)
            doc.mentions[index] = kept
            if kept:
                mark_zones(doc, index, span)
            found = link_sentence(doc, index, span, register)
            if index in parsed:
                found = reread_modality(doc, index, parsed[index], found)
                found = found + link_parsed(doc, index, parsed[index], self._triggers, found, register)
            links.extend(found)
            if found:
                doc.last_pair = (found[-1].source.root(), found[-1].target.root())
            if not doc.mentions[index]:
                continue  # then no link either: no subject to remember
            subjects = [link.source.root() for link in found if link.source.root().kind is EntityKind.PERSON]
            if subjects:
                last_subject = subjects[0]
                continue
            person = next(
                (
                    m.root()
                    for m in doc.mentions[index]
                    if m.kind is EntityKind.PERSON and m.head is None and (m.used or not m.pronoun)
                ),
                None,
            )
            if person is not None:
                last_subject = person
        return links


def _article_date(article: CleanArticle) -> date:
    """The date office-holders are resolved at: publication, else fetch time."""
    when = article.published_at or article.fetched_at
    return when.date()


def _memory_key(mention: Mention) -> _MemoryKey:
    if mention.actor_id is not None:
        return ("actor", mention.actor_id)
    if mention.kb_id is not None:
        return ("kb", mention.kb_id)
    if mention.kind is EntityKind.GPE:
        return ("gpe", mention.country or mention.canonical)
    if mention.kind is EntityKind.PERSON:
        # Within one article a full personal name is one person, titled or not.
        return ("person", mention.canonical.casefold())
    return (mention.kind.value, mention.canonical.casefold(), mention.country or "")


def _enrich(root: Mention, later: Mention) -> None:
    """A bare first mention ("Bashar al-Assad") learns country, sector and role from a titled later one."""
    if root.actor_id is not None:
        return
    if root.country is None:
        root.country = later.country
    if root.sector is Sector.UNKNOWN:
        root.sector = later.sector
    if root.role is None:
        root.role = later.role
    if root.kb_id is None:
        root.kb_id = later.kb_id


def _describe(mention: Mention, recent: list[Mention]) -> Mention | None:
    """The actor a definite description ("the Iraqi militia leader") refers to: an earlier one of the same
    kind, sector and (when given) country; a watched actor first, then the most recent."""
    same = [m for m in recent if m.kind is mention.kind and m.sector is mention.sector]
    fits = [m for m in same if mention.country is None or m.country == mention.country]
    watched = [m for m in fits if m.actor_id is not None]
    pool = watched or fits
    role = (mention.role or "").casefold()
    if pool:
        # "The foreign minister" is the foreign minister named before, not a president named after him.
        same_role = [m for m in pool if role and (m.role or "").casefold() == role]
        return (same_role or pool)[-1]
    # "Ambassador Kazem Al-e Sadegh ... The Iranian ambassador": the country is given later. Only a root
    # without a country and with the same role qualifies, and it learns the country from the description.
    countryless = [m for m in same if m.country is None and role and (m.role or "").casefold() == role]
    if not countryless or mention.country is None:
        return None
    root = countryless[-1]
    root.country = mention.country
    root.why += f"; country {mention.country} from later '{mention.canonical}'"
    return root


def _link_names(doc: Doc, watch: dict[str, WatchlistEntry]) -> None:
    """Later surname-only and acronym mentions ("Bogdanov", "Khamenei", "ACSR") refer to the first full one."""
    targets: dict[str, Mention] = {}
    ambiguous: set[str] = set()

    def offer(key: str, mention: Mention) -> None:
        if len(key) < 3:
            return
        known = targets.get(key)
        if known is not None and known.canonical != mention.canonical:
            ambiguous.add(key)
        targets.setdefault(key, mention)

    all_mentions = sorted((m for ms in doc.mentions for m in ms), key=lambda m: m.start)
    for mention in all_mentions:
        if mention.kind is not EntityKind.PERSON or mention.pronoun or mention.descriptor:
            continue
        names = [mention.canonical]
        if mention.actor_id is not None:
            entry = watch.get(mention.actor_id)
            names = [entry.name, *entry.aliases] if entry else names
        for name in names:
            words = name.split()
            if len(words) < 2 and mention.actor_id is None:
                continue
            offer(name, mention)
            offer(words[-1], mention)
            offer(_PARTICLE.sub("", words[-1]), mention)
    for acronym, mention in doc.acronyms.items():
        offer(acronym, mention)
    keys = sorted((k for k in targets if k not in ambiguous), key=len, reverse=True)
    if not keys:
        return
    sentence_starts = [s.start for s in doc.sentences]
    for start, end, key in _find_names(doc.text, len(doc.folded), keys):
        target = targets[key]
        index = bisect_right(sentence_starts, start) - 1
        if target.start >= start or start in doc.consumed or index < 0 or end > doc.sentences[index].end:
            continue
        if any(m.start < end and start < m.end for m in doc.mentions[index]):
            continue
        what = "acronym" if key in doc.acronyms else "name"
        mention = Mention(
            target.kind,
            start,
            end,
            target.canonical,
            f"{what} '{key}' of earlier '{target.canonical}'",
            index,
            target.country,
            target.sector,
            target.role,
            target.actor_id,
        )
        mention.antecedent = target
        doc.mentions[index].append(mention)
        doc.mentions[index].sort(key=lambda m: (m.start, -m.end))


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _find_names(text: str, limit: int, keys: list[str]) -> list[tuple[int, int, str]]:
    """Non-overlapping whole-word occurrences of `keys` (longest first at a position) in text[:limit].

    Plain str.find per key: compiling one alternation regex per article cost more than the search itself."""
    found: list[tuple[int, int, str]] = []
    for key in keys:
        pos = text.find(key, 0, limit)
        while pos >= 0:
            end = pos + len(key)
            before = text[pos - 1] if pos > 0 else " "
            after = text[end] if end < len(text) else " "
            if not (_is_word(before) or before in "'’-") and not (_is_word(after) or after == "-"):
                found.append((pos, end, key))
            pos = text.find(key, pos + 1, limit)
    found.sort(key=lambda f: (f[0], f[0] - f[1]))
    chosen: list[tuple[int, int, str]] = []
    reach = -1
    for start, end, key in found:
        if start >= reach:
            chosen.append((start, end, key))
            reach = end
    return chosen


def _build(article: CleanArticle, doc: Doc, links: list[Link]) -> TaggedArticle:
    kept = [m for ms in doc.mentions for m in ms if not m.pronoun or m.used]
    kept.sort(key=lambda m: (m.start, -m.end))
    ids: dict[int, str] = {}
    by_span: dict[tuple[int, int], str] = {}
    entities: list[Entity] = []
    for mention in kept:
        span = (mention.start, mention.end)
        if span in by_span:  # never expected; keeps ids unique if two steps ever produce the same span
            ids[id(mention)] = by_span[span]
            continue
        mention_id = f"m{len(entities) + 1}"
        ids[id(mention)] = by_span[span] = mention_id
        root = mention.root()
        refers_to = ids.get(id(root)) if root is not mention else None
        entities.append(
            Entity(
                id=mention_id,
                kind=root.kind,
                text=doc.text[mention.start : mention.end],
                start=mention.start,
                end=mention.end,
                canonical_name=root.canonical,
                country=root.country,
                sector=root.sector,
                role=root.role,
                actor_id=root.actor_id,
                refers_to=refers_to,
                kb_id=root.kb_id,
                former=root.former or mention.former,
                inferred=root.inferred,
                why=mention.why,
            )
        )
    interactions: list[Interaction] = []
    seen: set[tuple[int, int, str, int]] = set()
    for link in links:
        sentence = doc.sentences[link.source.sentence]
        key = (id(link.source.root()), id(link.target.root()), link.type.value, sentence.start)
        if key in seen or id(link.source) not in ids or id(link.target) not in ids:
            continue
        seen.add(key)
        interactions.append(
            Interaction(
                source=ids[id(link.source)],
                target=ids[id(link.target)],
                type=link.type,
                modality=link.modality,
                evidence=Evidence(text=doc.text[sentence.start : sentence.end], start=sentence.start, end=sentence.end),
                why=link.why,
            )
        )
    return TaggedArticle(article=article, entities=entities, interactions=interactions)

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

from collections.abc import Sequence
from datetime import date

from schemas.clean_article import CleanArticle
from schemas.tagged_article import Entity, EntityKind, Evidence, Interaction, TaggedArticle
from schemas.watchlist import WatchlistEntry
from services.tagger.coref import MemoryKey, describe, enrich, link_names, memory_key
from services.tagger.gate import sentences_to_parse, watched_sentences
from services.tagger.kb import KnowledgeBase, load_kb
from services.tagger.lexicon import Lexicon, load_lexicon
from services.tagger.matcher import Matcher
from services.tagger.mentions import Doc, Mention, find_mentions, mark_zones
from services.tagger.nlp import DEFAULT_MODEL, LoadedPipeline, ParsedSentence, load_pipeline, parse_sentences
from services.tagger.people import add_recognised_persons, infer_countries, link_to_kb, resolve_office
from services.tagger.relations import Link, link_sentence
from services.tagger.syntax import link_parsed
from services.tagger.text import MAX_CHARS, after_dateline, fold, split_sentences
from services.tagger.triggers import Trigger, load_triggers
from services.tagger.watched import look_alikes, representative_entries, represented

__all__ = ["Lexicon", "Tagger", "load_lexicon"]


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
        # Representatives are matched as watched people; their entities say whom they represent (_build).
        names = [*watchlist, *representative_entries(watchlist)]
        self._watch = {entry.actor_id: entry for entry in names}
        self._kb = kb if kb is not None else load_kb()
        self._matcher = Matcher(self._lexicon, names, self._kb.aliases(), look_alikes(watchlist))
        self._org_heads = {head.word: head for head in self._lexicon.org_heads}
        self._pipeline = pipeline if pipeline is not None or not parse else load_pipeline(model)
        self._triggers: dict[tuple[str, str], Trigger] = load_triggers()
        # Capitals that name exactly one country (for a dateline), and titles by their words.
        owners: dict[str, set[str]] = {}
        for country in self._lexicon.countries:
            for capital in country.capitals:
                owners.setdefault(capital.casefold(), set()).add(country.iso3)
        self._capitals = {c: next(iter(isos)) for c, isos in owners.items() if len(isos) == 1}
        self._titles = {t.title.casefold(): t for t in self._lexicon.titles}
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
        infer_countries(doc, article.dateline, self._capitals, self._titles)
        link_names(doc, self._watch)
        links = self._resolve_and_link(doc, parsed, at)
        return _build(article, doc, links)

    def _resolve_and_link(self, doc: Doc, parsed: dict[int, ParsedSentence], at: date) -> list[Link]:
        roots: dict[MemoryKey, Mention] = {}
        recent: list[Mention] = []  # roots, most recently mentioned last
        last_subject: Mention | None = None
        links: list[Link] = []

        def register(mention: Mention) -> None:
            if mention.antecedent is None:
                key = memory_key(mention)
                first = roots.setdefault(key, mention)
                if first is not mention:
                    mention.antecedent = first
                    enrich(first, mention)
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
                    antecedent = describe(mention, recent)
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
                found = link_parsed(doc, index, parsed[index], self._triggers, found, register)
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
        actor_id, represents = represented(root.actor_id)
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
                actor_id=actor_id,
                represents=represents,
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

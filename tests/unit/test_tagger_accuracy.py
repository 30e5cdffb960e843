"""Accuracy of the tagger on passages written by us and on the seed article.

Suites: tests/data/tagger/passages.yaml (the first 92 passages, written beside the rules) and
real-styles-*.yaml (310 passages in the styles real news uses, written apart from the rules, each with a
date, a style and its error classes, a third of them counter-examples). Prints precision and recall for
entities (name, country, sector, former) and interactions (sides, type, modality), overall, per error class
and per style, and fails below floors set from measurement (see FLOORS). Run with -s to see every miss."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.clean_article import CleanArticle
from schemas.tagged_article import CONTACT_TYPES, Entity, EntityKind, Interaction, InteractionType, TaggedArticle
from schemas.watchlist import WatchlistEntry
from services.tagger.tag import Tagger
from services.watchlist import load_watchlist

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "tagger"
PASSAGES = DATA / "passages.yaml"
REAL_STYLES = sorted(DATA.glob("real-styles-*.yaml"))
WATCHLIST = REPO / "services" / "demo_data" / "watchlist.yaml"

# Floors set a little below the measured figures (issue 9, 92 passages: entities 0.97 / 0.98, interactions
# 0.97 / 0.95; before it, round 4: entities 0.98 / 0.98, interactions
# 0.97 / 0.91), so a regression fails.
FLOORS = {"entity_precision": 0.95, "entity_recall": 0.95, "interaction_precision": 0.94, "interaction_recall": 0.92}
SEED_FLOORS = {"precision": 0.92, "recall": 0.9}
# Types where source and target may be given either way round.
_SYMMETRIC = {InteractionType.MEET, InteractionType.TALKS, InteractionType.PHONE_CALL, InteractionType.AGREE}

ExpectedEntity = tuple[str, str | None, str, bool]
ExpectedLink = tuple[str, str, str, str]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[str] = field(default_factory=list)

    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def expected_entity(row: list[Any]) -> ExpectedEntity:
    return (row[0], row[1], row[2], len(row) > 3 and row[3] == "former")


def load_passages() -> tuple[list[WatchlistEntry], list[dict[str, Any]], list[ExpectedEntity]]:
    data = yaml.safe_load(PASSAGES.read_text(encoding="utf-8"))
    extra = [WatchlistEntry.model_validate(e) for e in data["watchlist"]]
    return extra, list(data["passages"]), [expected_entity(e) for e in data["seed"]]


def load_real_styles() -> tuple[list[WatchlistEntry], list[dict[str, Any]]]:
    extra: list[WatchlistEntry] = []
    passages: list[dict[str, Any]] = []
    for path in REAL_STYLES:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        extra += [WatchlistEntry.model_validate(e) for e in data.get("watchlist") or []]
        passages += list(data["passages"])
    return extra, passages


# The date office-holders are resolved at for passages that give none (the first 92 were written in 2025).
DEFAULT_DATE = datetime(2025, 6, 1, tzinfo=UTC)


def article(paragraphs: list[str], published: datetime = DEFAULT_DATE) -> CleanArticle:
    paragraphs = paragraphs or [""]
    return CleanArticle(
        id="accuracy",
        url="https://example.org/accuracy",
        source="test",
        title="accuracy",
        text="\n\n".join(paragraphs),
        paragraphs=paragraphs,
        fetched_at=published,
        published_at=published,
    )


def root_of(tagged: TaggedArticle, entity_id: str) -> Entity:
    """The first mention the entity `entity_id` refers to (itself when it refers to none)."""
    by_id = {e.id: e for e in tagged.entities}
    entity = by_id[entity_id]
    while entity.refers_to is not None:
        entity = by_id[entity.refers_to]
    return entity


def roots(tagged: TaggedArticle) -> dict[str, tuple[Entity, set[str]]]:
    """Each first mention by id, with every name it goes by (canonical and each mention as written)."""
    by_id = {e.id: e for e in tagged.entities}
    groups: dict[str, tuple[Entity, set[str]]] = {}
    for entity in tagged.entities:
        root = entity
        while root.refers_to is not None:
            root = by_id[root.refers_to]
        _, names = groups.setdefault(root.id, (root, {root.canonical_name.casefold()}))
        names.add(entity.text.casefold())
    return groups


def same_name(expected: str, names: set[str]) -> bool:
    """The expected name is one of the names, or (two words or more) a run of words inside one: "Faisal bin
    Farhan" is "Faisal bin Farhan Al Saud", the knowledge base's fuller form of the same name."""
    wanted = expected.casefold()
    if wanted in names:
        return True
    words = wanted.split()
    if len(words) < 2:
        return False
    return any(f" {wanted} " in f" {name} " for name in names)


def score_entities(
    tagged: TaggedArticle,
    expected: list[ExpectedEntity],
    label: str,
    score: Score,
    kinds: set[EntityKind] | None = None,
) -> None:
    found = {rid: group for rid, group in roots(tagged).items() if kinds is None or group[0].kind in kinds}
    matched: set[str] = set()
    for name, country, sector, former in expected:
        hit = next(
            (
                rid
                for rid, (root, names) in found.items()
                if same_name(name, names)
                and root.country == country
                and root.sector.value == sector
                and root.former == former
                and rid not in matched
            ),
            None,
        )
        if hit is None:
            score.fn += 1
            state = ", former" if former else ""
            score.misses.append(f"{label}: missed entity {name} [{country}, {sector}{state}]")
        else:
            score.tp += 1
            matched.add(hit)
    for rid, (root, _) in found.items():
        if rid not in matched:
            score.fp += 1
            state = ", former" if root.former else ""
            score.misses.append(
                f"{label}: extra entity {root.canonical_name} [{root.country}, {root.sector.value}{state}] ({root.why})"
            )


def _kind(value: str, collapse: bool) -> str:
    """The interaction type, or with `collapse` only whether it is a contact (what an alert needs) or not."""
    if not collapse:
        return value
    return "contact" if InteractionType(value) in CONTACT_TYPES else "hostile"


def score_links(
    tagged: TaggedArticle, expected: list[ExpectedLink], label: str, score: Score, *, collapse: bool = False
) -> None:
    found = roots(tagged)
    by_id = {e.id: e for e in tagged.entities}

    def root_id(entity_id: str) -> str:
        entity = by_id[entity_id]
        while entity.refers_to is not None:
            entity = by_id[entity.refers_to]
        return entity.id

    def names_of(entity_id: str) -> set[str]:
        entity = by_id[entity_id]
        while entity.refers_to is not None:
            entity = by_id[entity.refers_to]
        return found[entity.id][1]

    # One fact, however many sentences state it: a headline and its body both saying "X hosts Y" is one
    # host interaction (the same sides, type and modality count once).
    predicted: list[tuple[set[str], set[str], Interaction]] = []
    facts: set[tuple[str, str, str, str]] = set()
    for interaction in tagged.interactions:
        sides = (root_id(interaction.source), root_id(interaction.target))
        fact = (*sides, interaction.type.value, interaction.modality.value)
        if fact in facts:
            continue
        facts.add(fact)
        predicted.append((names_of(interaction.source), names_of(interaction.target), interaction))
    used: set[int] = set()
    for source, target, kind, modality in expected:
        s, t = source.casefold(), target.casefold()
        hit = None
        for index, (sources, targets, interaction) in enumerate(predicted):
            if (
                index in used
                or _kind(interaction.type.value, collapse) != _kind(kind, collapse)
                or interaction.modality.value != modality
            ):
                continue
            forward = same_name(s, sources) and same_name(t, targets)
            backward = interaction.type in _SYMMETRIC and same_name(t, sources) and same_name(s, targets)
            if forward or backward:
                hit = index
                break
        if hit is None:
            score.fn += 1
            score.misses.append(f"{label}: missed {source} -{kind}/{modality}-> {target}")
        else:
            score.tp += 1
            used.add(hit)
    for index, (_, _, interaction) in enumerate(predicted):
        if index not in used:
            score.fp += 1
            side, other = by_id[interaction.source], by_id[interaction.target]
            score.misses.append(
                f"{label}: extra {side.canonical_name} -{interaction.type.value}/{interaction.modality.value}-> "
                f"{other.canonical_name} ({interaction.why})"
            )


Suite = tuple[Tagger, list[dict[str, Any]], list[ExpectedEntity]]


@pytest.fixture(scope="module")
def suite() -> Suite:
    extra, passages, seed = load_passages()
    return Tagger([*load_watchlist(WATCHLIST), *extra]), passages, seed


def test_passages_cover_the_brief(suite: Suite) -> None:
    _, passages, _ = suite
    countries = {e[1] for p in passages for e in p["entities"] if e[1]}
    assert len(passages) >= 90
    assert len(countries) >= 25, sorted(countries)
    assert len({p["id"] for p in passages}) == len(passages)
    types = {i[2] for p in passages for i in p["interactions"]}
    assert types >= {"meet", "visit", "host", "talks", "phone_call", "agree", "support", "designate", "sanction"}


def test_accuracy_on_passages(suite: Suite, capsys: pytest.CaptureFixture[str]) -> None:
    tagger, passages, _ = suite
    entities, links = Score(), Score()
    for passage in passages:
        tagged = tagger.tag(article([p for p in passage["text"].split("\n\n") if p]))
        expected_entities = [expected_entity(e) for e in passage["entities"]]
        expected_links = [(i[0], i[1], i[2], i[3]) for i in passage["interactions"]]
        score_entities(tagged, expected_entities, passage["id"], entities)
        score_links(tagged, expected_links, passage["id"], links)
    figures = {
        "entity_precision": entities.precision(),
        "entity_recall": entities.recall(),
        "interaction_precision": links.precision(),
        "interaction_recall": links.recall(),
    }
    with capsys.disabled():
        print(f"\ntagger accuracy on {len(passages)} passages:")
        print(f"  entities:     precision {figures['entity_precision']:.2f}  recall {figures['entity_recall']:.2f}")
        print(
            f"  interactions: precision {figures['interaction_precision']:.2f}  "
            f"recall {figures['interaction_recall']:.2f}"
        )
        for line in entities.misses + links.misses:
            print(f"    {line}")
    for name, floor in FLOORS.items():
        assert figures[name] >= floor, f"{name} {figures[name]:.2f} below floor {floor}"


def test_accuracy_on_seed_article(
    suite: Suite, seed_paragraphs: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    tagger, _, expected = suite
    _, paragraphs = seed_paragraphs
    score = Score()
    score_entities(tagger.tag(article(paragraphs)), expected, "seed", score, {EntityKind.PERSON, EntityKind.ORG})
    with capsys.disabled():
        print(
            f"\ntagger on the seed article: persons and organisations precision {score.precision():.2f} "
            f"recall {score.recall():.2f}"
        )
        for line in score.misses:
            print(f"    {line}")
    assert score.precision() >= SEED_FLOORS["precision"]
    assert score.recall() >= SEED_FLOORS["recall"]


# --- the real-styles suite: passages written apart from the rules ------------------------------------

# Floors a little below the figures measured when the suite was added (see README), so a regression fails.
REAL_FLOORS = {
    "entity_precision": 0.8,
    "entity_recall": 0.79,
    "interaction_precision": 0.76,
    "interaction_recall": 0.48,
}
CLASSES = {
    "titled-no-nationality",
    "bare-name",
    "contact-gap",
    "coreference",
    "names",
    "collective",
    "former",
    "wrong-reading",
    "counter-example",
}
STYLES = {"wire", "readout", "analysis", "headline", "caption", "long", "list", "delegation"}

RealSuite = tuple[Tagger, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def real_suite() -> RealSuite:
    extra, passages = load_real_styles()
    ours, _, _ = load_passages()
    return Tagger([*load_watchlist(WATCHLIST), *ours, *extra]), passages


def passage_date(passage: dict[str, Any]) -> datetime:
    value = passage.get("date")
    if value is None:
        return DEFAULT_DATE
    day = value if not isinstance(value, str) else datetime.strptime(value, "%Y-%m-%d").date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_real_styles_cover_the_brief(real_suite: RealSuite) -> None:
    _, passages = real_suite
    assert len(passages) >= 300
    assert len({p["id"] for p in passages}) == len(passages)
    countries = {e[1] for p in passages for e in p["entities"] if e[1]}
    assert len(countries) >= 80, len(countries)
    counter = [p for p in passages if "counter-example" in p["classes"]]
    assert len(counter) * 3 >= len(passages)
    assert {c for p in passages for c in p["classes"]} == CLASSES
    assert {p["style"] for p in passages} == STYLES


def _row(name: str, entities: Score, links: Score) -> str:
    return (
        f"  {name:<24} entities P {entities.precision():.2f} R {entities.recall():.2f}   "
        f"interactions P {links.precision():.2f} R {links.recall():.2f}   "
        f"({entities.tp + entities.fn} entities, {links.tp + links.fn} interactions)"
    )


def test_accuracy_on_real_styles(real_suite: RealSuite, capsys: pytest.CaptureFixture[str]) -> None:
    tagger, passages = real_suite
    total_entities, total_links = Score(), Score()
    contact = Score()  # interactions with the type read only as contact or hostile (what alerts depend on)
    by_group: dict[str, tuple[Score, Score]] = {}
    for passage in passages:
        paragraphs = [p for p in passage["text"].split("\n\n") if p]
        # Evaluation mode: every sentence parsed (`actorwatch tag --all-sentences`); the gated mode is checked
        # against it on watched actors' interactions in test_gated_parse_keeps_watched_interactions.
        tagged = tagger.tag(article(paragraphs, passage_date(passage)), parse_all=True)
        entities, links = Score(), Score()
        score_entities(tagged, [expected_entity(e) for e in passage["entities"]], passage["id"], entities)
        score_links(tagged, [(i[0], i[1], i[2], i[3]) for i in passage["interactions"]], passage["id"], links)
        score_links(tagged, [(i[0], i[1], i[2], i[3]) for i in passage["interactions"]], "", contact, collapse=True)
        groups = [f"class {c}" for c in passage["classes"]] + [f"style {passage['style']}"]
        for target_entities, target_links in [(total_entities, total_links)] + [
            by_group.setdefault(g, (Score(), Score())) for g in groups
        ]:
            for into, part in ((target_entities, entities), (target_links, links)):
                into.tp += part.tp
                into.fp += part.fp
                into.fn += part.fn
        total_entities.misses += entities.misses
        total_links.misses += links.misses
    figures = {
        "entity_precision": total_entities.precision(),
        "entity_recall": total_entities.recall(),
        "interaction_precision": total_links.precision(),
        "interaction_recall": total_links.recall(),
    }
    with capsys.disabled():
        print(f"\ntagger accuracy on {len(passages)} real-style passages:")
        print(_row("all", total_entities, total_links))
        print(
            f"  {'all, contact or hostile':<24} interactions P {contact.precision():.2f} R {contact.recall():.2f} "
            "(sides, modality, and contact vs hostile instead of the exact type)"
        )
        for name in sorted(by_group):
            print(_row(name, *by_group[name]))
        for line in total_entities.misses + total_links.misses:
            print(f"    {line}")
    for name, floor in REAL_FLOORS.items():
        assert figures[name] >= floor, f"{name} {figures[name]:.2f} below floor {floor}"


def test_gated_parse_keeps_watched_interactions(real_suite: RealSuite) -> None:
    """Parsing only the sentences that can carry a watched actor's contact loses none of its interactions."""
    tagger, passages = real_suite
    differences: list[str] = []
    checked = 0
    for passage in passages:
        paragraphs = [p for p in passage["text"].split("\n\n") if p]
        source = article(paragraphs, passage_date(passage))

        def watched(tagged: TaggedArticle) -> set[tuple[str, str, str, str]]:
            found = set()
            for i in tagged.interactions:
                a, b = root_of(tagged, i.source), root_of(tagged, i.target)
                if a.actor_id or b.actor_id:
                    found.add((a.canonical_name, b.canonical_name, i.type.value, i.modality.value))
            return found

        full = watched(tagger.tag(source, parse_all=True))
        gated = watched(tagger.tag(source, parse_all=False))
        checked += len(full)
        if full - gated:
            differences.append(f"{passage['id']}: {sorted(full - gated)}")
    assert checked > 100
    # A reference more than FOLLOW sentences away, or one without a pronoun or description, is not parsed.
    assert len(differences) <= len(passages) // 50, "\n".join(differences)

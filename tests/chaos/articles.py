"""What the chaos scenarios publish: a watchlist of invented actors, and articles in the seed article's style
(a wire lead naming a watched actor meeting a titled foreign official, then background) where each alerting
article carries one finding no other article shares, so every webhook POST is attributable to one article.

Names are built from syllables whose consonants differ, so no two counterparts are one person to the
alerter's identity matching (which merges vowel-only transliteration variants and shortened names)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from schemas.actor_observation import ActorObservation, CounterpartContact
from schemas.raw_article import RawArticle
from schemas.tagged_article import EntityKind, Evidence, InteractionType, Modality, Sector
from schemas.watchlist import WatchlistEntry


@dataclass(frozen=True)
class Actor:
    actor_id: str
    name: str
    surname: str
    group: str


# Invented actors (no knowledge-base or lexicon entry shares their names), all Iraqi, none with a known country
# among the counterparts the articles use.
ACTORS = (
    Actor("qais-al-dulaimawi", "Qais al-Dulaimawi", "al-Dulaimawi", "Kataib Sayf al-Haqq"),
    Actor("hadi-al-zarqawani", "Hadi al-Zarqawani", "al-Zarqawani", "Saraya Nur al-Huda"),
    Actor("basim-al-khafrawi", "Basim al-Khafrawi", "al-Khafrawi", "Liwa Dhul-Fiqar al-Jadid"),
    Actor("munir-al-tamimawi", "Munir al-Tamimawi", "al-Tamimawi", "Harakat Ansar al-Wilaya"),
    Actor("salim-al-jubawi", "Salim al-Jubawi", "al-Jubawi", "Asaib al-Nasr"),
)

# (demonym, ISO alpha-3, capital): governments an Iraqi militia leader meeting one of is news.
COUNTRIES = (
    ("Russian", "RUS", "Moscow"),
    ("French", "FRA", "Paris"),
    ("Turkish", "TUR", "Ankara"),
    ("Chinese", "CHN", "Beijing"),
    ("German", "DEU", "Berlin"),
    ("Qatari", "QAT", "Doha"),
    ("Egyptian", "EGY", "Cairo"),
    ("Indian", "IND", "New Delhi"),
)

TITLES = ("Deputy Foreign Minister", "Deputy Defence Minister", "Deputy Interior Minister")

_FIRST = ("Viktor", "Pavel", "Anton", "Oleg", "Denis", "Boris", "Gleb", "Stepan", "Rustam", "Fyodor")
# Ten syllables with pairwise different consonants: two indices always differ in a consonant.
_SYLLABLES = ("bar", "dol", "fen", "gor", "kel", "mus", "nat", "pir", "ruv", "tesh")

_BACKGROUND = (
    "The visit raised concerns in Baghdad that foreign capitals are seeking influence through armed groups.",
    "Observers said the talks showed a willingness to engage informally with non-state actors.",
    "Statements issued by the group quoted its leader calling for stronger relations at all levels.",
    "Local media reported on the trip, while satellite channels described the relationship as strategic.",
    "Analysts noted that the group has long been accused of acting outside the state chain of command.",
    "Residents in several provinces accuse the group of imposing tributes and arresting critics.",
    "The foreign ministry in Baghdad did not respond to a request for comment on the meeting.",
    "A political analyst said the contacts aim to strengthen a foreign presence in Iraq.",
)


def counterpart_name(index: int) -> str:
    digits = f"{index:04d}"
    surname = "".join(_SYLLABLES[int(d)] for d in digits[1:]).capitalize() + "ov"
    return f"{_FIRST[int(digits[0]) % len(_FIRST)]} {surname}"


@dataclass(frozen=True)
class Article:
    raw: RawArticle
    actor_id: str | None  # the watched actor it must alert for, None for an article that must not alert
    counterpart: str | None
    country: str | None = None
    role: str | None = None
    lead: str = ""

    @property
    def url(self) -> str:
        return self.raw.url

    @property
    def alerts(self) -> bool:
        return self.actor_id is not None


def alert_article(index: int, *, run: str, rng: random.Random, actor: Actor | None = None) -> Article:
    """An article in which one watched actor (by default one of ACTORS in turn) meets one foreign official no
    other article names."""
    actor = actor or ACTORS[index % len(ACTORS)]
    demonym, country, capital = COUNTRIES[(index // len(ACTORS)) % len(COUNTRIES)]
    title = TITLES[index % len(TITLES)]
    name = counterpart_name(index)
    lead = (
        f"{actor.group} leader {actor.name} met with {demonym} {title} {name} in {capital} on Monday, "
        f"the group said in a statement."
    )
    later = f"In {capital}, {actor.surname} also held talks with {name} on regional security."
    body = [f"{actor.group} leader visits {capital}", lead, *rng.sample(_BACKGROUND, 3), later]
    return Article(_raw(run, f"alert-{index}", body), actor.actor_id, name, country, title, lead)


def quiet_article(index: int, *, run: str, rng: random.Random) -> Article:
    """An article naming no watched actor: it flows through every stage and raises nothing."""
    demonym, _country, capital = COUNTRIES[index % len(COUNTRIES)]
    body = [
        f"Markets in {capital} close higher, report {index}",
        f"Shares in {capital} rose on Tuesday as {demonym} exporters reported stronger orders, item {index}.",
        *rng.sample(_BACKGROUND[4:], 2),
        f"Trading volumes were {100 + index % 900} million shares, dealers said.",
    ]
    return Article(_raw(run, f"quiet-{index}", body), None, None)


def _raw(run: str, slug: str, paragraphs: list[str]) -> RawArticle:
    return RawArticle(
        url=f"https://chaos.example/{run}/{slug}",
        source_id="chaos",
        fetched_at=datetime.now(UTC),
        content_type="text/plain",
        body="\n\n".join(paragraphs),
    )


def articles(total: int, alerting: int, *, run: str, seed: int = 10) -> list[Article]:
    """`total` articles, `alerting` of which must alert, interleaved in a seeded random order."""
    rng = random.Random(seed)
    made = [alert_article(i, run=run, rng=rng) for i in range(alerting)]
    made += [quiet_article(i, run=run, rng=rng) for i in range(total - alerting)]
    rng.shuffle(made)
    return made


def entry(actor: Actor) -> WatchlistEntry:
    return WatchlistEntry(
        actor_id=actor.actor_id,
        name=actor.name,
        kind=EntityKind.PERSON,
        aliases=[actor.surname],
        home_country="IRQ",
        sector=Sector.ARMED_GROUP,
        known_counterpart_countries=["IRN", "SYR"],
    )


def watchlist_yaml(path: Path) -> Path:
    """A watchlist file of the invented actors, with the bundled defaults."""
    document = {"actors": [entry(a).model_dump(mode="json", exclude_defaults=True) for a in ACTORS]}
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def observation(article: Article) -> ActorObservation:
    """What the tagger makes of an alerting article, for scenarios that feed the alerter directly."""
    assert article.actor_id is not None and article.counterpart is not None
    actor = next(a for a in ACTORS if a.actor_id == article.actor_id)
    return ActorObservation(
        actor_id=actor.actor_id,
        actor_name=actor.name,
        article_id=article.url.rsplit("/", 1)[1],
        article_url=article.url,
        article_title=article.raw.body.split("\n", 1)[0],
        source="chaos",
        observed_at=datetime.now(UTC),
        contacts=[
            CounterpartContact(
                counterpart_id=f"{article.country}:{article.counterpart.casefold()}",
                name=article.counterpart,
                role=article.role,
                country=article.country,
                sector=Sector.GOV,
                interaction_type=InteractionType.MEET,
                modality=Modality.HAPPENED,
                evidence=Evidence(text=article.lead, start=0, end=len(article.lead)),
            )
        ],
    )

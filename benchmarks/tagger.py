"""Tagger speed: articles per second per core, model load time and peak RSS, with watchlists of 10 and of
5,000 aliases, with the parser gated on watched-actor mentions and with every sentence parsed.

    python -m benchmarks.tagger [--rounds N]

Runs Tagger.tag (no Kafka, no cleaner) over the 249 real Guardian articles in ../shared/data/corpus/. In
`--share` (default 10%) of the articles a sentence naming a watched actor is inserted into a paragraph, so
the parser has the work a real watchlist gives it. Speed is articles per second of this process's CPU time,
so it is per core. Each configuration runs in a fresh child process so that its peak RSS (ru_maxrss, with
the spaCy model and the knowledge base loaded) is its own. The 5,000 aliases are synthetic, generated here."""

from __future__ import annotations

import argparse
import csv
import io
import random
import resource
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from schemas.clean_article import CleanArticle
from schemas.tagged_article import EntityKind, Sector
from schemas.watchlist import WatchlistEntry
from services.tagger.tag import Tagger

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "data" / "corpus" / "guardian-sdf-sample.csv.zip"

_SYLLABLES = ["ka", "bi", "mu", "ra", "sa", "di", "ha", "mi", "zu", "lo", "ne", "ta", "qa", "fa", "ri", "yo"]
_COUNTRIES = ["IRQ", "IRN", "SYR", "LBN", "YEM", "RUS", "CHN", "TUR"]


def load_corpus() -> list[str]:
    with zipfile.ZipFile(CORPUS) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        text = archive.read(name).decode("utf-8")
    csv.field_size_limit(sys.maxsize)
    return [row["text"] for row in csv.DictReader(io.StringIO(text)) if row.get("text")]


def as_clean(text: str, index: int) -> CleanArticle:
    paragraphs = [p.strip() for p in text.splitlines() if p.strip()] or [""]
    return CleanArticle(
        id=f"bench{index}",
        url=f"https://bench.example/guardian/{index}",
        source="bench",
        title=f"Guardian article {index}",
        text="\n\n".join(paragraphs),
        paragraphs=paragraphs,
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


def synthetic_watchlist(aliases: int, seed: int = 7) -> list[WatchlistEntry]:
    """`aliases` aliases over aliases/5 actors: a name plus four variants each (surname, al- forms, short)."""
    rng = random.Random(seed)
    entries: list[WatchlistEntry] = []
    for index in range(max(1, aliases // 5)):
        first = "".join(rng.choice(_SYLLABLES) for _ in range(3)).capitalize()
        last = "".join(rng.choice(_SYLLABLES) for _ in range(3)) + f"{index:x}"
        name = f"{first} al-{last.capitalize()}"
        entries.append(
            WatchlistEntry(
                actor_id=f"actor-{index}",
                name=name,
                kind=EntityKind.PERSON,
                aliases=[f"al-{last.capitalize()}", f"{first} {last.capitalize()}", f"{first} al-{last}", last.upper()],
                home_country=_COUNTRIES[index % len(_COUNTRIES)],
                sector=Sector.ARMED_GROUP,
            )
        )
    return entries


def with_mentions(texts: list[str], watchlist: list[WatchlistEntry], share: float, seed: int = 11) -> list[str]:
    """`share` of the texts get a sentence naming a watched actor, put at the start of one paragraph."""
    rng = random.Random(seed)
    out: list[str] = []
    for text in texts:
        if rng.random() < share:
            paragraphs = [p for p in text.splitlines() if p.strip()]
            at = rng.randrange(len(paragraphs)) if paragraphs else 0
            actor = rng.choice(watchlist)
            paragraphs.insert(at, f"{actor.name} met officials in the city on Monday, his aides said.")
            text = "\n".join(paragraphs)
        out.append(text)
    return out


def run_one(aliases: int, rounds: int, share: float, parse_all: bool) -> None:
    """Child process: build a Tagger for `aliases` aliases, tag the corpus `rounds` times, print one line."""
    from services.tagger.kb import load_kb
    from services.tagger.nlp import load_pipeline

    watchlist = synthetic_watchlist(aliases)
    articles = [as_clean(t, i) for i, t in enumerate(with_mentions(load_corpus(), watchlist, share))]
    count = sum(1 + len(e.aliases) for e in watchlist)
    pipeline = load_pipeline()
    loaded = time.perf_counter()
    kb = load_kb()
    kb_s = time.perf_counter() - loaded
    started = time.perf_counter()
    tagger = Tagger(watchlist, kb=kb, pipeline=pipeline, parse_all=parse_all)
    build_s = time.perf_counter() - started
    tagger.tag(articles[0])  # warm caches (fold table, regexes) outside the timed part
    cpu_started = time.process_time()
    entities = interactions = 0
    for _ in range(rounds):
        for art in articles:
            tagged = tagger.tag(art)
            entities += len(tagged.entities)
            interactions += len(tagged.interactions)
    cpu = time.process_time() - cpu_started
    done = rounds * len(articles)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mode = "all sentences" if parse_all else f"gated, {share:.0%} mention"
    print(
        f"  {count:>5} aliases, {mode:<17}: {done / cpu:7.1f} articles/s per core  peak RSS {rss:4.0f} MiB  "
        f"model load {pipeline.load_seconds:4.2f} s  KB load {kb_s:4.2f} s ({len(kb)} terms)  "
        f"Tagger() {build_s * 1000:5.0f} ms  ({len(articles)} articles x {rounds}, "
        f"{entities // rounds} entities, {interactions // rounds} interactions per round)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tagger", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="passes over the corpus per watchlist size")
    parser.add_argument("--share", type=float, default=0.1, help="share of articles naming a watched actor")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--all-sentences", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        run_one(args.child, args.rounds, args.share, args.all_sentences)
        return 0
    if not CORPUS.is_file():
        print(f"corpus not found: {CORPUS}", file=sys.stderr)
        return 1
    print("Tagger.tag on the Guardian corpus, one core (CPU time), no Kafka:")
    for aliases, every in ((10, False), (5000, False), (5000, True)):
        # A fresh process per configuration: ru_maxrss is a high-water mark and would carry over.
        command = [sys.executable, "-m", "benchmarks.tagger", "--child", str(aliases), "--share", str(args.share)]
        command += ["--rounds", str(1 if every else args.rounds)] + (["--all-sentences"] if every else [])
        subprocess.run(command, cwd=REPO, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

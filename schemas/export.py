"""Writes the JSON Schema of every topic's contract into schemas/json/, for consumers in other languages.

python -m schemas.export          rewrite the files
python -m schemas.export --check  exit 1 if any file is stale (the tests run this check too)"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from schemas.actor_observation import ActorObservation
from schemas.alert import Alert
from schemas.base import Contract
from schemas.clean_article import CleanArticle
from schemas.dead_letter import DeadLetter, DeadLetterReplay
from schemas.delivery import QueuedAlert
from schemas.feedback import AlertFeedback
from schemas.raw_article import RawArticle
from schemas.source import SourceUpdate
from schemas.story_candidate import StoryCandidate
from schemas.tagged_article import TaggedArticle
from schemas.watchlist import WatchlistEntry
from schemas.watchlist_update import WatchlistUpdate

JSON_DIR = Path(__file__).resolve().parent / "json"

# File stem -> contract. One file per topic's message (and the watchlist entry).
CONTRACTS: dict[str, type[Contract]] = {
    "raw_article": RawArticle,
    "clean_article": CleanArticle,
    "story_candidate": StoryCandidate,
    "tagged_article": TaggedArticle,
    "actor_observation": ActorObservation,
    "alert": Alert,
    "dead_letter": DeadLetter,
    "dead_letter_replay": DeadLetterReplay,
    "queued_alert": QueuedAlert,
    "alert_feedback": AlertFeedback,
    "watchlist_entry": WatchlistEntry,
    "watchlist_update": WatchlistUpdate,
    "source_update": SourceUpdate,
}


def render(model: type[Contract]) -> bytes:
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def stale_files() -> list[Path]:
    stale = []
    for stem, model in CONTRACTS.items():
        path = JSON_DIR / f"{stem}.schema.json"
        if not path.exists() or path.read_bytes() != render(model):
            stale.append(path)
    return stale


def write_all() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for stem, model in CONTRACTS.items():
        (JSON_DIR / f"{stem}.schema.json").write_bytes(render(model))


def main() -> int:
    if "--check" in sys.argv[1:]:
        stale = stale_files()
        for path in stale:
            print(f"stale: {path} (run python -m schemas.export)")
        return 1 if stale else 0
    write_all()
    print(f"wrote {len(CONTRACTS)} schemas to {JSON_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

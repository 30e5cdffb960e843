"""Reading the watchlist file: YAML with a top-level `actors:` list of schemas.watchlist.WatchlistEntry."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from schemas.watchlist import WatchlistEntry


class WatchlistError(ValueError):
    """The watchlist cannot be used; the message is one line that names the file and the problem."""


def load_watchlist(path: Path) -> list[WatchlistEntry]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WatchlistError(f"cannot read watchlist {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise WatchlistError(f"watchlist {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("actors"), list):
        raise WatchlistError(f"watchlist {path} must be a mapping with an 'actors:' list")
    entries: list[WatchlistEntry] = []
    for index, item in enumerate(document["actors"]):
        try:
            entries.append(WatchlistEntry.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise WatchlistError(f"watchlist {path}: actor #{index + 1} field {where}: {first['msg']}") from exc
    ids = [e.actor_id for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise WatchlistError(f"watchlist {path}: duplicate actor_id {', '.join(duplicates)}")
    return entries

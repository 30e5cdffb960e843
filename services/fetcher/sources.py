"""The sources file: YAML with a top-level `sources:` list of feeds to poll."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class SourcesError(ValueError):
    """The sources file cannot be used; the message is one line that names the file and the problem."""


class Source(BaseModel):
    """One feed to poll."""

    # extra="forbid" so that a misspelt field (fetch_ful_page) is an error, not a silent default.
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64, description="Slug, unique in the file.")
    url: str = Field(description="http(s) URL of the RSS or Atom feed.")
    kind: Literal["rss", "atom", "auto"] = Field(default="auto", description="Feed format expected.")
    interval_s: float | None = Field(default=None, gt=0, description="Polling interval; None: the default.")
    language: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
        description="Language tag the source is expected to be in (e.g. 'en', 'ar').",
    )
    fetch_full_page: bool = Field(
        default=True, description="Fetch each item's page; False: use the text the feed carries."
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value


def load_sources(path: Path) -> list[Source]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourcesError(f"sources file {path} is not UTF-8 text: {exc.reason}") from exc
    except yaml.YAMLError as exc:
        raise SourcesError(f"sources file {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict) or "sources" not in document:
        raise SourcesError(f"sources file {path} must be a mapping with a 'sources:' list")
    items = document["sources"]
    # `sources:` with every entry commented out reads as null; that is an empty list, not a mistake.
    if items is None:
        items = []
    if not isinstance(items, list):
        raise SourcesError(f"sources file {path}: 'sources' must be a list, got {type(items).__name__}")
    sources: list[Source] = []
    for index, item in enumerate(items):
        label = f"source #{index + 1}"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            label += f" ({item['id']!r})"
        try:
            sources.append(Source.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(whole entry)"
            raise SourcesError(f"sources file {path}: {label} field {where}: {first['msg']}") from exc
    ids = [s.id for s in sources]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SourcesError(f"sources file {path}: duplicate id {', '.join(duplicates)}")
    return sources

"""Topic `sources` (compacted, keyed by source id): the running truth of what the fetcher polls.

A value is a `SourceUpdate` carrying the source; a removal is a `SourceUpdate` with `source` None (kept
rather than a bare tombstone so that readers see what was removed and when, until compaction drops it)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from schemas.base import Contract, Part, UtcDatetime

SOURCE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
SourceKind = Literal["auto", "rss", "atom", "json", "sitemap", "page"]


class SourceSpec(Part):
    """One source to poll: a feed (RSS, Atom, JSON Feed), a (news) sitemap or sitemap index, or one page."""

    id: str = Field(pattern=SOURCE_ID_PATTERN, max_length=64, description="Slug, unique among sources.")
    url: str = Field(description="http(s) URL of the feed, sitemap or page.")
    kind: SourceKind = Field(
        default="auto",
        description="rss, atom, json (JSON Feed 1/1.1), sitemap (news sitemap or sitemap index), page (one "
        "article URL), or auto (feeds and sitemaps recognised by their content).",
    )
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


class SourceUpdate(Contract):
    source_id: str = Field(pattern=SOURCE_ID_PATTERN, max_length=64, description="The key: the source.")
    source: SourceSpec | None = Field(default=None, description="The source as now polled; None: removed.")
    updated_at: UtcDatetime

    @model_validator(mode="after")
    def _source_matches_key(self) -> SourceUpdate:
        if self.source is not None and self.source.id != self.source_id:
            raise ValueError(f"source.id {self.source.id!r} differs from source_id {self.source_id!r}")
        return self

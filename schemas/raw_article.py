"""Topic `raw-articles` (fetcher -> cleaner): a fetched document exactly as the publisher served it."""

from __future__ import annotations

from pydantic import Field

from schemas.base import Contract, UtcDatetime


class RawArticle(Contract):
    url: str = Field(description="Where the document was fetched from (or file:// for ingested files).")
    source_id: str = Field(description="Id of the source (feed, site or ingest run) that produced it.")
    fetched_at: UtcDatetime
    status: int = Field(default=200, description="HTTP status of the final response; 200 for local files.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Useful response headers, lower-case names: etag, last-modified, content-language, date.",
    )
    content_type: str = Field(description="Media type without parameters, e.g. text/html or text/plain.")
    body: str = Field(description="The document decoded to text (charset from headers, markup or detection).")
    feed_title: str | None = Field(default=None, description="Title the feed gave the item, if any.")
    feed_published_at: UtcDatetime | None = Field(default=None, description="Date the feed gave the item.")
    language_hint: str | None = Field(default=None, description="Language the source is expected to be in.")
    canonical_url: str | None = Field(
        default=None,
        description="The page's canonical URL: its rel=canonical when it has one, else `url`, normalised "
        "(lower-case scheme and host, default port, fragment and tracking parameters dropped).",
    )
    content_sha256: str | None = Field(default=None, description="SHA-256 (hex) of the body bytes as served.")
    revision: int = Field(default=0, ge=0, description="0 for the first version seen; n for the n-th change.")
    body_truncated: bool = Field(
        default=False,
        description="The body was cut to fit the broker's message bound (ACTORWATCH_MAX_MESSAGE_BYTES).",
    )
    revision_of: str | None = Field(
        default=None, description="For a revision: content_sha256 of the version published before it."
    )

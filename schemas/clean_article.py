"""Topic `clean-articles` (cleaner -> tagger): the article text of record.

`text` is `paragraphs` joined by one blank line ("\n\n"); every character offset downstream points into it.
On the wire only `paragraphs` travels (the text would double the message): `text` is rebuilt when a
message is read, and a message that still carries `text` (older producers) must agree with its paragraphs."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from schemas.base import Contract, UtcDatetime

PARAGRAPH_SEPARATOR = "\n\n"


class CleanArticle(Contract):
    id: str = Field(description="Stable article id: hex SHA-256 prefix of the canonical URL.")
    url: str
    source: str = Field(description="Source id, copied from the raw article.")
    title: str
    text: str = Field(
        default="",
        exclude=True,
        description="Main text: the paragraphs joined by a blank line. Not serialised; rebuilt on reading.",
    )
    paragraphs: list[str]
    published_at: UtcDatetime | None = None
    fetched_at: UtcDatetime
    language: str | None = Field(default=None, description="ISO 639-1 code when known, e.g. 'en'.")
    story_id: str | None = Field(
        default=None, description="Id of the story cluster this article belongs to (near-duplicates share it)."
    )
    story_publishers: int = Field(
        default=1, ge=1, description="Distinct publishers seen in the story cluster so far (corroboration)."
    )
    # Metadata (issue 6). All optional, so older producers and consumers keep working.
    authors: list[str] = Field(default_factory=list, description="Author names from metadata or the byline.")
    modified_at: UtcDatetime | None = Field(default=None, description="Last-modified time the page declares.")
    site_name: str | None = Field(default=None, description="Publisher's site name, e.g. 'Reuters'.")
    canonical_url: str | None = Field(default=None, description="The page's declared canonical URL, if any.")
    dateline: str | None = Field(
        default=None, description="Dateline opening the first paragraph (which keeps it), e.g. 'BAGHDAD (Reuters)'."
    )
    captions: list[str] = Field(
        default_factory=list, description="Image captions, each once, kept apart from the body paragraphs."
    )
    body_paragraphs: int | None = Field(
        default=None,
        ge=0,
        description="How many leading `paragraphs` are article body; the rest are captions that the body does "
        "not already contain, appended so the tagger reads every caption sentence exactly once. None: all body.",
    )

    truncated: bool = Field(
        default=False,
        description="Text (or captions) went over the cleaner's bound (ACTORWATCH_MAX_TEXT_BYTES) and was cut.",
    )

    @model_validator(mode="before")
    @classmethod
    def _text_from_paragraphs(cls, data: Any) -> Any:
        if isinstance(data, dict) and "text" not in data:
            paragraphs = data.get("paragraphs")
            if isinstance(paragraphs, list) and all(isinstance(p, str) for p in paragraphs):
                return {**data, "text": PARAGRAPH_SEPARATOR.join(paragraphs)}
        return data

    @model_validator(mode="after")
    def _text_is_paragraphs(self) -> CleanArticle:
        if self.text != PARAGRAPH_SEPARATOR.join(self.paragraphs):
            raise ValueError("text must equal the paragraphs joined by a blank line")
        return self

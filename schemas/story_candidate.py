"""The cleaner's internal stories topic (clean step -> story step): an article and its fingerprint.

The fingerprint (exact-duplicate key and MinHash signature of the body) is computed in the extraction pool,
in parallel, so the one story step that every article passes through only looks it up."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from schemas.base import Contract
from schemas.clean_article import CleanArticle


class StoryCandidate(Contract):
    article: CleanArticle
    content_key: str | None = Field(
        default=None, max_length=64, description="Exact-duplicate key: hash of the body's words in order."
    )
    simhash: int | None = Field(
        default=None, ge=0, le=2**64 - 1, description="64-bit SimHash of the body (before MinHash; ignored)."
    )
    minhash: str | None = Field(
        default=None,
        max_length=4096,
        description="MinHash signature of the body's word pairs: base64 of 256 little-endian 32-bit values.",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_article(cls, data: Any) -> Any:
        # Written before the fingerprint moved to the pool: a bare clean article, fingerprinted on reading.
        if isinstance(data, dict) and "article" not in data and "paragraphs" in data:
            return {"article": data}
        return data

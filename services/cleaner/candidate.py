"""What the extraction pool runs for the cleaner service: clean the page, then fingerprint its body."""

from __future__ import annotations

from schemas.raw_article import RawArticle
from schemas.story_candidate import StoryCandidate
from services.cleaner.extract import clean_article
from services.cleaner.stories import body_text, text_fingerprint


def clean_candidate(raw: RawArticle, *, max_text_bytes: int, appended_captions: int = 1) -> StoryCandidate:
    article = clean_article(raw, max_text_bytes=max_text_bytes, appended_captions=appended_captions)
    key, signature = text_fingerprint(body_text(article.paragraphs, article.body_paragraphs))
    return StoryCandidate(article=article, content_key=key, minhash=signature)

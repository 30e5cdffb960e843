"""Bounding a raw article to the broker's message size before it is published.

A page can be megabytes (fetch_max_bytes reads up to 10 MB) while a message is at most
ACTORWATCH_MAX_MESSAGE_BYTES. Rather than fail the publish (and, as the next poll fails the same way,
never publish the item), the body is cut to fit, at a character boundary, and flagged: the article text
sits near the top of a page, and HTML parsers close what a cut leaves open."""

from __future__ import annotations

from schemas.raw_article import RawArticle


def bound_raw(article: RawArticle, limit: int) -> RawArticle:
    """`article` itself when its message fits `limit` bytes, else a copy with the body cut to fit."""
    size = len(article.to_bytes())
    if size <= limit:
        return article
    body = article.body.encode("utf-8")

    def cut(keep: int) -> RawArticle:
        return article.model_copy(update={"body": body[:keep].decode("utf-8", errors="ignore"), "body_truncated": True})

    # JSON escaping makes the body's share of the message differ from its UTF-8 length: search the longest
    # prefix that fits (about 20 encodings of at most `limit` bytes).
    low, high = 0, len(body)
    while low < high:
        middle = (low + high + 1) // 2
        if len(cut(middle).to_bytes()) <= limit:
            low = middle
        else:
            high = middle - 1
    return cut(low)

"""Bounding an article's text by bytes, so that every message built from it fits the broker's limit.

Text is measured in UTF-8 bytes (what the wire carries): 400,000 bytes is about 60,000 English words but
only 130,000 Chinese characters. Paragraphs are kept whole while they fit; the first that does not is cut
at a character boundary (never inside a UTF-8 sequence), and the rest are left out."""

from __future__ import annotations

from collections.abc import Sequence

SEPARATOR_BYTES = 2  # "\n\n" between paragraphs


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def cut_to_bytes(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 form has at most `limit` bytes."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: max(limit, 0)].decode("utf-8", errors="ignore")


def bound_paragraphs(paragraphs: Sequence[str], limit: int) -> tuple[list[str], bool]:
    """The paragraphs whose joined text (blank line between) has at most `limit` bytes, and whether any
    text was left out."""
    kept: list[str] = []
    used = 0
    for paragraph in paragraphs:
        size = utf8_len(paragraph) + (SEPARATOR_BYTES if kept else 0)
        if used + size <= limit:
            kept.append(paragraph)
            used += size
            continue
        room = limit - used - (SEPARATOR_BYTES if kept else 0)
        head = cut_to_bytes(paragraph, room).rstrip()
        if head:
            kept.append(head)
        return kept, True
    return kept, False

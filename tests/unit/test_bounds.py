"""Bounding outputs by bytes: the clean text, the tagged article, the wire format of a clean article."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas.clean_article import CleanArticle
from schemas.raw_article import RawArticle
from schemas.tagged_article import Entity, EntityKind, Evidence, Interaction, InteractionType, TaggedArticle
from services.cleaner.bound import bound_paragraphs, cut_to_bytes
from services.cleaner.extract import clean_article
from services.tagger.bound import bound_tagged

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_cut_never_splits_a_utf8_sequence() -> None:
    text = "北京外交部发言人" * 10  # 3 bytes a character
    for limit in range(0, 40):
        head = cut_to_bytes(text, limit)
        assert len(head.encode()) <= limit
        assert text.startswith(head)
        assert len(head.encode()) > limit - 3


def test_bound_paragraphs_keeps_whole_paragraphs_then_cuts_one() -> None:
    paragraphs = ["a" * 10, "b" * 10, "c" * 10]
    assert bound_paragraphs(paragraphs, 100) == (paragraphs, False)
    kept, cut = bound_paragraphs(paragraphs, 27)  # 10 + 2 + 10 + 2 + 3
    assert cut and kept == ["a" * 10, "b" * 10, "ccc"]
    assert bound_paragraphs(paragraphs, 22) == (["a" * 10, "b" * 10], True)


def test_a_long_chinese_article_is_cut_by_bytes_not_characters() -> None:
    paragraph = "外交部长王毅在北京会见了来访的伊拉克外交部长，双方就地区局势交换了意见。" * 40
    body = "标题\n\n" + "\n\n".join(f"第{i}段。{paragraph}" for i in range(300))  # about 1 MB of UTF-8
    raw = RawArticle(
        url="https://news.example/zh/1", source_id="s", fetched_at=NOW, content_type="text/plain", body=body
    )
    article = clean_article(raw, max_text_bytes=400_000)
    assert article.truncated
    assert 390_000 < len(article.text.encode()) <= 400_000
    # On the wire the text travels once (as paragraphs): the message fits the broker's 1 MiB.
    assert len(article.to_bytes()) < 420_000


def test_clean_article_wire_format_carries_the_text_once_and_reads_back() -> None:
    article = CleanArticle(
        id="a1", url="https://x.example/a", source="s", title="T", paragraphs=["One.", "Two."], fetched_at=NOW
    )
    wire = orjson.loads(article.to_bytes())
    assert "text" not in wire
    assert CleanArticle.from_bytes(article.to_bytes()).text == "One.\n\nTwo."
    # An older producer's message with `text` is still read, and checked.
    assert CleanArticle.model_validate({**wire, "text": "One.\n\nTwo."}).text == "One.\n\nTwo."
    with pytest.raises(ValueError, match="text must equal"):
        CleanArticle.model_validate({**wire, "text": "Something else"})


def _entity(i: int, *, actor_id: str | None = None, refers_to: str | None = None) -> Entity:
    return Entity(
        id=f"m{i}",
        kind=EntityKind.PERSON if actor_id else EntityKind.GPE,
        text=f"Place number {i}",
        start=0,
        end=5,
        canonical_name=f"Place number {i} " + "x" * 200,
        actor_id=actor_id,
        refers_to=refers_to,
        why="test",
    )


def test_bound_tagged_drops_only_what_no_interaction_or_actor_needs() -> None:
    article = CleanArticle(
        id="a1", url="https://x.example/a", source="s", title="T", paragraphs=["One."], fetched_at=NOW
    )
    entities = [_entity(i) for i in range(2000)]
    entities[5] = _entity(5, actor_id="nujaba")
    entities[7] = _entity(7, refers_to="m3")  # the interaction's target refers to m3: m3 stays too
    interaction = Interaction(
        source="m5",
        target="m7",
        type=InteractionType.MEET,
        evidence=Evidence(text="One.", start=0, end=4),
        why="met",
    )
    tagged = TaggedArticle(article=article, entities=entities, interactions=[interaction])
    assert len(tagged.to_bytes()) > 300_000
    assert bound_tagged(tagged, 10_000_000) is tagged
    bounded = bound_tagged(tagged, 300_000)
    assert bounded.entities_truncated
    assert {e.id for e in bounded.entities} == {"m3", "m5", "m7"}
    assert bounded.interactions == tagged.interactions


def test_a_raw_page_over_the_bound_is_cut_to_fit_and_flagged() -> None:
    from services.fetcher.bound import bound_raw

    body = (
        "<html><body>" + ("<p>" + '伊拉克外交部长会见了俄罗斯副外长。"引号"' * 20 + "</p>\n") * 2000 + "</body></html>"
    )
    page = RawArticle(url="https://x.example/big", source_id="s", fetched_at=NOW, content_type="text/html", body=body)
    assert len(page.to_bytes()) > 2_000_000
    cut = bound_raw(page, 1_000_000)
    assert cut.body_truncated and len(cut.to_bytes()) <= 1_000_000
    assert body.startswith(cut.body) and len(cut.to_bytes()) > 990_000
    assert bound_raw(cut, 1_000_000) is cut

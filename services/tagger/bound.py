"""Bounding a tagged article to the broker's message size.

An article of a few hundred kilobytes can name thousands of places and bodies. What the alerter needs are
the interactions and the mentions they (or watched actors) involve; the rest is left out first, flagged
`entities_truncated`. A message still over the bound is refused by the step as a dead letter."""

from __future__ import annotations

from schemas.tagged_article import Entity, TaggedArticle


def encoded_size(tagged: TaggedArticle) -> int:
    return len(tagged.to_bytes())


def bound_tagged(tagged: TaggedArticle, limit: int) -> TaggedArticle:
    """`tagged` itself when it fits `limit` bytes; else a copy without the entities nothing needs."""
    if encoded_size(tagged) <= limit:
        return tagged
    by_id = {e.id: e for e in tagged.entities}
    needed: set[str] = set()
    stack = [i.source for i in tagged.interactions] + [i.target for i in tagged.interactions]
    stack += [e.id for e in tagged.entities if e.actor_id is not None or e.represents is not None]
    while stack:  # an entity kept keeps the mentions it refers to
        entity_id = stack.pop()
        if entity_id in needed or entity_id not in by_id:
            continue
        needed.add(entity_id)
        refers_to = by_id[entity_id].refers_to
        if refers_to is not None:
            stack.append(refers_to)
    kept: list[Entity] = [e for e in tagged.entities if e.id in needed]
    return tagged.model_copy(update={"entities": kept, "entities_truncated": True})

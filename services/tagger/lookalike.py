"""When a watched alias inside the text is someone else: a `not_this_actor` look-alike read just before.

"Saddam Haftar met the envoy. Haftar said ..." : the second "Haftar" is the son, not the watched father,
because the last name of that family the article used was the look-alike. The rule is the most recent
mention: once the watched actor himself is named again, his alias is his again."""

from __future__ import annotations

from bisect import bisect_left

from services.tagger.doc import Doc
from services.tagger.matcher import Cat, Hit
from services.tagger.watched import LookAlike


def shadowed_by_look_alike(doc: Doc, hit: Hit) -> bool:
    """Whether the watched-alias `hit` refers to the look-alike named last before it, not to the actor."""
    if not doc.look_alike_hits:
        return False
    entry = hit.key.ref
    alias = doc.folded[hit.start : hit.end]
    latest: Hit | None = None
    for candidate in doc.look_alike_hits:
        if candidate.start >= hit.start:
            break
        look_alike = candidate.key.ref
        if (
            isinstance(look_alike, LookAlike)
            and look_alike.entry is entry
            and f" {alias} " in f" {doc.folded[candidate.start : candidate.end]} "
        ):
            latest = candidate
    if latest is None:
        return False
    # The actor himself named between the look-alike and this hit takes the alias back.
    first = bisect_left(doc.hits, latest.end, key=lambda h: h.start)
    for between in doc.hits[first:]:
        if between.start >= hit.start:
            break
        if between.cat is Cat.WATCH and between.key.ref is entry:
            return False
    return True

"""When a watched alias inside the text is someone else: a `not_this_actor` look-alike named last.

"Saddam Haftar met the envoy. Haftar said ..." : the second "Haftar" is the son, not the watched father.
The rule is the usual one for a surname standing alone: it is the person last named in full. A full name
is a look-alike, or a watched name that no look-alike contains ("Khalifa Haftar", "Field Marshal Haftar");
a bare alias that a look-alike contains ("Haftar" in "Saddam Haftar", "Assad" in "Maher al-Assad") follows
whoever was named last, and is the actor's while no look-alike has been named. One pass per article."""

from __future__ import annotations

import re

from services.tagger.doc import Doc
from services.tagger.matcher import Cat, Hit
from services.tagger.watched import LookAlike

_SEPARATORS = re.compile(r"[\s\-'’]+")


def _tokens(text: str) -> list[str]:
    return [t for t in _SEPARATORS.split(text) if t]


def _inside(alias: list[str], name: list[str]) -> bool:
    """Whether the alias's words stand together in the name ("assad" in "maher al-assad")."""
    n = len(alias)
    return any(name[i : i + n] == alias for i in range(len(name) - n + 1))


def shadowed_by_look_alike(doc: Doc, hit: Hit) -> bool:
    """Whether the watched-alias `hit` stands for a look-alike named last before it, not for the actor."""
    if not doc.look_alike_hits:
        return False
    if doc.shadowed_starts is None:
        doc.shadowed_starts = _shadowed(doc)
    return hit.start in doc.shadowed_starts


def _shadowed(doc: Doc) -> set[int]:
    """Starts of the watched-alias hits that the look-alike named last stands behind."""
    names: dict[int, list[list[str]]] = {}  # entry id -> its look-alikes' words (as found in this text)
    for hit in doc.look_alike_hits:
        look_alike = hit.key.ref
        if isinstance(look_alike, LookAlike):
            names.setdefault(id(look_alike.entry), []).append(_tokens(doc.folded[hit.start : hit.end]))
    last_look_alike: dict[int, bool] = {}  # entry id -> whether the last full name was a look-alike
    shadowed: set[int] = set()
    for hit in doc.hits:
        ref = hit.key.ref
        if hit.cat is Cat.LOOKALIKE and isinstance(ref, LookAlike):
            last_look_alike[id(ref.entry)] = True
        elif hit.cat is Cat.WATCH and id(ref) in names:
            words = _tokens(doc.folded[hit.start : hit.end])
            if any(_inside(words, name) for name in names[id(ref)]):
                if last_look_alike.get(id(ref), False):
                    shadowed.add(hit.start)
            else:
                last_look_alike[id(ref)] = False  # the actor named in full
    return shadowed

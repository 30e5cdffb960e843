"""After extraction and line filtering: repeats folded, captions recognised and placed. Plain functions.

The rule is that post-processing must never cost the article text: a paragraph printed twice *in a row*
is a page artefact (a photo caption under the image and again as its alt text), and so is a caption
printed again anywhere; any other repeat is the text's own (a code block, a spec list, "Pros" and "Cons"
subheadings of every reviewed product) and stays where the author put it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from schemas.clean_article import PARAGRAPH_SEPARATOR

# A paragraph of fewer words repeated in a row is structure, not a doubled caption: a closing brace in a
# code block, "Yes" in consecutive table cells, a "-" placeholder.
MIN_FOLD_WORDS = 3
# How trafilatura's text renders a list item; a caption is never one.
LIST_ITEM_MARK = "- "
_MAX_CAPTION_CHARS = 600

# A photo credit closing a caption: "[Al-Nujaba Lebanon/Twitter]", "[Khalil Mazraawi/AFP]", "[AFP]",
# "(Photo: Getty Images)". The photographer/agency slash joins two words; a spaced one ("[M1 / MP]") is a
# reference list, which some texts close every paragraph with.
# What marks a bracketed credit, here and in `_CREDIT_TAIL` below.
_CREDIT_MARK = r"(?:\S/\S|photo|afp|reuters|getty|file|twitter|facebook|telegram|handout|\bAP\b)"
_PHOTO_CREDIT = re.compile(
    rf".*(?:\[[^\[\]]{{0,60}}{_CREDIT_MARK}[^\[\]]{{0,60}}\]"
    r"|\((?:photo|picture|image|credit)s?\s*:[^()]{1,80}\))",
    re.I | re.S,
)


def has_photo_credit(paragraph: str) -> bool:
    return len(paragraph) <= _MAX_CAPTION_CHARS and _PHOTO_CREDIT.fullmatch(paragraph) is not None


def fold_repeats(blocks: Iterable[Sequence[str]], captions: Iterable[str] = ()) -> tuple[list[str], set[str]]:
    """Join each block's lines into one paragraph, folding only page artefacts: a paragraph (of at least
    `MIN_FOLD_WORDS` words) repeated right after itself, and a caption (one of `captions`, or a paragraph
    ending in a photo credit) that was already printed. Every other repeat is kept in its place.

    Also returns the paragraphs that were repeated right after themselves: page-copied text prints a photo
    caption that way, so they are captions too."""
    known = set(captions)
    paragraphs: list[str] = []
    doubled: set[str] = set()
    printed_captions: set[str] = set()
    for block in blocks:
        paragraph = " ".join(block)
        if (
            paragraphs
            and paragraph == paragraphs[-1]
            and len(paragraph.split()) >= MIN_FOLD_WORDS
            and not paragraph.startswith(LIST_ITEM_MARK)  # two equal entries of a list (references) are the list's
        ):
            doubled.add(paragraph)
            continue
        is_caption = paragraph in known or has_photo_credit(paragraph)
        if is_caption and paragraph in printed_captions:
            continue
        if is_caption:
            printed_captions.add(paragraph)
        paragraphs.append(paragraph)
    return paragraphs, doubled


# When this share of a text's paragraphs (and at least CITATION_STYLE_MIN of them) end like a photo
# credit, that ending is the text's own convention (sources cited after each paragraph), not a caption's.
CITATION_STYLE_SHARE = 1 / 3
CITATION_STYLE_MIN = 3


def text_captions(paragraphs: Sequence[str], doubled: set[str]) -> set[str]:
    """The paragraphs of page-copied text that are captions: those printed twice in a row, and those
    closing with a photo credit, unless so many do that the credit is how the text cites its sources."""
    credited = {p for p in paragraphs if has_photo_credit(p)}
    credits = sum(1 for p in paragraphs if p in credited)
    if credits >= CITATION_STYLE_MIN and credits > CITATION_STYLE_SHARE * len(paragraphs):
        credited = set()
    return (doubled & set(paragraphs)) | credited


# Captions appended after the body are there so that a caption's sentence (sometimes the only one naming a
# meeting) reaches the tagger; they are not article text, and a gallery page has dozens. The benchmark sets'
# ground truth leaves captions out: one caption on every page that has one cost 0.004 / 0.008 / 0.0015 F1
# of the text on Scrapinghub / trafilatura-eval / Readability (benchmarks/RESULTS.md). So a caption is
# appended only when it says what the body does not: it names two people or bodies that no sentence of the
# body names together (the seed article's "Akram al-Kaabi meets with ... Mikhail Bogdanov" is the only
# sentence with both). That halved the pages given a caption and cost 0.002 / 0.0025 / 0.0014 instead; leaving
# a closing credit's names out and German's capitalised nouns alone then took the pages given one from
# 20 / 114 / 19 to 14 / 33 / 17, and the cost to 0.0014 / none / 0.0012.
# At most `limit` (ACTORWATCH_CLEANER_APPENDED_CAPTIONS), within a tenth of the body's words.
MAX_APPENDED_CAPTIONS = 1
MAX_CAPTION_SHARE = 0.1
# ... but a short article may still carry one or two captions of this many words in all.
MIN_CAPTION_WORDS = 40


def _uppercase_letters() -> str:
    """Every uppercase letter of the Basic Multilingual Plane, as the body of a regex class: names begin
    with "Ş", "Ł", "Ž" and "Ö" as well as "A" to "Z"."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if chr(code).isupper():
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)


# A name in a caption: two or more capitalised words in a row, particles ("al-", "bin", "de") between.
_UPPER = _uppercase_letters()
_CAPTION_NAME = re.compile(
    rf"\b[{_UPPER}][\w'-]+(?:\s+(?:(?:al|el|bin|ibn|bint|abu|de|da|van|von|der|la|du)[-\s])?[{_UPPER}][\w'-]+)+"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# The credit that closes a caption names the photographer and the agency, never who is in the picture:
# "Photograph: Guy Smallman/Getty Images", "Foto: GdP/Hagen Immel", "(REUTERS/Denis Balibouse)",
# "[Khalil Mazraawi/AFP]", "(c) Noah Addis". Its names are left out before the caption's are counted.
_CREDIT_TAIL = re.compile(
    rf"(?:[\[(][^\[\]()]{{0,80}}{_CREDIT_MARK}[^\[\]()]{{0,80}}[\])][.\s]*$"
    r"|(?:\u00a9|\(c\)|\b(?:photo(?:graph)?s?|pictures?|images?|credits?|foto|fotos|bild|quelle|kuva|cr[ée]dito)"
    r"\s*:).*$)",
    re.I | re.S,
)
# Languages that capitalise every noun ("Für Links auf dieser Seite", "Eine Fracking-Anlage"): there two
# capitalised words in a row are no name, so captions are not appended by name (ISO 639-1 codes).
NOUNS_CAPITALISED = frozenset({"de", "lb"})


# ... or an unmarked "Photographer/Agency" that ends it: "Benoit Tessier/Reuters", "Credit Kevin
# Frayer/Getty Images", "Thomas Jackson/Digital Vision/Getty Images" (capitalised words either side of
# the slash, so "24/7" and "and/or" are no credit).
_SLASH_WORD = rf"[{_UPPER}][\w.'&-]*"
_SLASH_CREDIT = re.compile(
    rf"(?:\b[Cc]redits?:?\s+)?(?:{_SLASH_WORD}\s+){{0,3}}{_SLASH_WORD}(?:\s*/\s*{_SLASH_WORD}(?:\s+{_SLASH_WORD}){{0,3}})+"
    r"[.\s]*$"
)


def _without_credit(caption: str) -> str:
    return _SLASH_CREDIT.sub("", _CREDIT_TAIL.sub("", caption))


def _name_keys(text: str) -> list[str]:
    """Each multi-word name's last word, lower-cased and without its article ("al-Kaabi" -> "kaabi")."""
    keys = (m.group(0).split()[-1].split("-")[-1].lower() for m in _CAPTION_NAME.finditer(_without_credit(text)))
    return sorted(set(keys))


def body_sentences(body: Sequence[str]) -> list[str]:
    """The body's sentences, lower-cased: what `names_a_new_pair` looks for names in."""
    return [s.lower() for paragraph in body for s in _SENTENCE_END.split(paragraph)]


def names_a_new_pair(caption: str, sentences: Sequence[str]) -> bool:
    """Whether the caption names two people or bodies that none of the body's `sentences` names together."""
    keys = _name_keys(caption)
    if len(keys) < 2:
        return False
    return any(
        not any(a in sentence and b in sentence for sentence in sentences)
        for i, a in enumerate(keys)
        for b in keys[i + 1 :]
    )


def place_captions(
    body: Sequence[str], captions: Iterable[str], limit: int = MAX_APPENDED_CAPTIONS, language: str | None = None
) -> tuple[list[str], list[str]]:
    """Captions (each once, all of them) and the paragraphs to emit: the body first, then the first
    captions that name a pair the body never names together (`names_a_new_pair`), at most `limit` of them
    and no more words than `MAX_CAPTION_SHARE` of the body's (or `MIN_CAPTION_WORDS`); none when the
    body's `language` capitalises its nouns (`NOUNS_CAPITALISED`)."""
    unique = list(dict.fromkeys(c for c in captions if c))
    if language in NOUNS_CAPITALISED or not unique or limit <= 0:
        return unique, list(body)
    joined = PARAGRAPH_SEPARATOR.join(body)
    budget = max(MAX_CAPTION_SHARE * sum(len(p.split()) for p in body), MIN_CAPTION_WORDS)
    sentences = body_sentences(body)
    appended: list[str] = []
    used = 0
    for caption in unique:
        if len(appended) >= limit:
            break
        words = len(caption.split())
        if caption in joined or used + words > budget or not names_a_new_pair(caption, sentences):
            continue
        appended.append(caption)
        used += words
    return unique, [*body, *appended]

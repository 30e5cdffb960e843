"""Page metadata and captions read straight from the HTML source with bounded regexes. No Kafka here.

trafilatura gives title, author, site name and a *date* (htmldate, day precision); the exact published
and modified timestamps, the canonical link and the image captions (<figcaption>, which trafilatura
drops) come from here. Every pattern scans a bounded prefix of the page, so a 30 MB page costs no more
than a small one."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

# Metadata sits in <head>; JSON-LD can be further down in big pages, so scan a generous but bounded head.
_HEAD_CHARS = 262_144
# Captions can be anywhere in the body; 2 MB of page is more than any article.
_BODY_CHARS = 2_000_000
_MAX_CAPTIONS = 30
_MAX_CAPTION_CHARS = 600

# Every <meta> and <link> tag of the head is read once into a dict; the lookups below are then cheap.
_META_TAG = re.compile(r"<(meta|link)\b([^>]{1,2000})>", re.I)
_ATTRIBUTE = re.compile(r"""([A-Za-z_:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")

_PUBLISHED = (
    "article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate",
    "dc.date.issued", "dc.date", "date",
)  # fmt: skip
_MODIFIED = ("article:modified_time", "og:updated_time", "datemodified", "last-modified", "dc.date.modified")
_SITE_NAME = ("og:site_name", "application-name")
_TITLE = ("og:title", "twitter:title")
_AUTHOR = ("author", "article:author", "byl", "dc.creator", "sailthru.author", "parsely-author")
_JSON_LD_PUBLISHED = re.compile(r"\"datePublished\"\s*:\s*\"([^\"]{8,40})\"")
_JSON_LD_MODIFIED = re.compile(r"\"dateModified\"\s*:\s*\"([^\"]{8,40})\"")
_TITLE_TAG = re.compile(r"<title\b[^>]*>(.{1,1000}?)</title\s*>", re.I | re.S)
# "Headline | Site", "Headline - Site": the site part is short and comes last.
_TITLE_SUFFIX = re.compile(r"(?P<title>.{10,}?)\s+[|\-\u2013\u2014\u00b7:]\s+[^|]{1,40}", re.S)
# <p class="byline">By Jane Doe</p>: the extractor drops it from the text, so read the names here.
_BYLINE_ELEMENT = re.compile(
    r"<(?P<tag>[a-z][a-z0-9]*)\b[^>]*\bclass\s*=\s*[\"'][^\"']*\b(?:byline|author-name|author)\b[^\"']*[\"'][^>]*>"
    r"(?P<text>[^<]{1,200}(?:<(?!/?(?:p|div|section|article)\b)[^>]*>[^<]{0,200}){0,6})</(?P=tag)\s*>",
    re.I,
)
# The element's class holds one of these words (besides the ASCII letters, `re.IGNORECASE` folds "İ" and
# dotless "ı" to the "i" of "byline").
_BYLINE_WORDS = (b"byline", b"author")
_BY = re.compile(r"^\s*by\s+", re.I)
_JSON_LD_AUTHOR = re.compile(r"\"author\"\s*:\s*\[?\s*\{[^{}]{0,300}?\"name\"\s*:\s*\"([^\"]{2,100})\"")
_FIGCAPTION = re.compile(r"<figcaption\b[^>]*>(.{1,4000}?)</figcaption\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class PageMetadata:
    published: datetime | None
    modified: datetime | None
    canonical_url: str | None
    site_name: str | None
    title: str | None
    author: str | None
    captions: tuple[str, ...]


def _head_tags(head: str) -> tuple[dict[str, str], str | None]:
    """The content of each named <meta> (first one wins, names lower-cased) and the canonical link."""
    metas: dict[str, str] = {}
    canonical: str | None = None
    for match in _META_TAG.finditer(head):
        if match.group(1).lower() == "link" and "canonical" not in match.group(2).lower():
            continue  # pages carry hundreds of <link> tags (styles, preloads, icons); only one is read
        attributes = {
            m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "")
            for m in _ATTRIBUTE.finditer(match.group(2))
        }
        if match.group(1).lower() == "link":
            if canonical is None and attributes.get("rel", "").lower() == "canonical":
                canonical = attributes.get("href")
            continue
        name = attributes.get("property") or attributes.get("name") or attributes.get("itemprop")
        content = attributes.get("content")
        if name and content:
            metas.setdefault(name.lower(), html.unescape(content).strip())
    return metas, canonical


def _lookup(metas: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((metas[n] for n in names if metas.get(n)), None)


def _search(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return html.unescape(match.group(1)).strip() if match else None


def parse_timestamp(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp or date as an aware UTC datetime; a bare date is midnight UTC, a naive time UTC."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def page_metadata(body: str) -> PageMetadata:
    head = body[:_HEAD_CHARS]
    metas, canonical = _head_tags(head)
    published = parse_timestamp(_lookup(metas, _PUBLISHED) or _search(_JSON_LD_PUBLISHED, head))
    modified = parse_timestamp(_lookup(metas, _MODIFIED) or _search(_JSON_LD_MODIFIED, head))
    if canonical and not canonical.lower().startswith(("http://", "https://")):
        canonical = None  # a relative canonical link says nothing the page URL does not
    return PageMetadata(
        published=published,
        modified=modified,
        canonical_url=canonical,
        site_name=_lookup(metas, _SITE_NAME),
        title=_title(metas, head),
        author=_author(metas, head),
        captions=tuple(_captions(body[:_BODY_CHARS])),
    )


def _title(metas: dict[str, str], head: str) -> str | None:
    title = _lookup(metas, _TITLE)
    if title:
        return title
    match = _TITLE_TAG.search(head)
    if match is None:
        return None
    text = " ".join(html.unescape(_TAG.sub(" ", match.group(1))).split())
    short = _TITLE_SUFFIX.fullmatch(text)
    return (short.group("title") if short else text) or None


def _author(metas: dict[str, str], head: str) -> str | None:
    """Author names, ";"-separated as trafilatura gives them; a profile URL is not a name."""
    author = _lookup(metas, _AUTHOR) or _search(_JSON_LD_AUTHOR, head)
    if not author and (match := _byline_element(head)):
        author = _BY.sub("", " ".join(html.unescape(_TAG.sub(" ", match.group("text"))).split()))
    if not author or author.lower().startswith(("http://", "https://", "/")):
        return None
    return ";".join(a.strip() for a in re.split(r",| and |;", author) if a.strip())


def _byline_element(head: str) -> re.Match[str] | None:
    """`_BYLINE_ELEMENT.search(head)`, at a third of the cost: the pattern is tried only at the tags that
    can hold one of its class words, not at every tag of a 256 kB head.

    A match's class word has only its attribute's opening quote before it, back to the tag's `<`, with
    no `>` in between; so its tag begins after the last `>` before that quote. Those `<` are tried in
    page order (each at most once), so the first match is the leftmost, as `search` gives it."""
    if "\u0130" in head or "\u0131" in head:
        return _BYLINE_ELEMENT.search(head)
    # One byte per character (any other than ASCII is "?"), so positions are the head's own.
    folded = head.encode("ascii", "replace").lower()
    words = []
    for word in _BYLINE_WORDS:
        at = folded.find(word)
        while at != -1:
            words.append(at)
            at = folded.find(word, at + len(word))
    tried = 0
    for at in sorted(words):
        quote = max(head.rfind('"', 0, at), head.rfind("'", 0, at))
        if quote < 0:
            continue
        start = head.find("<", max(head.rfind(">", 0, quote) + 1, tried), quote)
        while start != -1:
            if match := _BYLINE_ELEMENT.match(head, start):
                return match
            start = head.find("<", start + 1, quote)
        tried = quote
    return None


def _captions(body: str) -> list[str]:
    found: list[str] = []
    for match in _FIGCAPTION.finditer(body):
        text = " ".join(html.unescape(_TAG.sub(" ", match.group(1))).split())
        if text and len(text) <= _MAX_CAPTION_CHARS:
            found.append(text)
            if len(found) >= _MAX_CAPTIONS:
                break
    return found

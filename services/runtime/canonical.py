"""The one canonical form of a URL: the fetcher remembers URLs under it (seen URLs, sitemap loops, rel=canonical
duplicates) and the cleaner hashes it into article ids, so both agree on which URLs are one article.

w3lib does the standard part (query sorted, IDN hosts as punycode, percent-encoding normalised, fragment
dropped, host lower-case); this module adds what w3lib leaves alone: default ports and tracking
parameters (utm_*, fbclid, gclid) are dropped, so the same article shared from a newsletter is one URL."""

from __future__ import annotations

from urllib.parse import unquote_plus, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

__all__ = ["canonical_url"]

_TRACKING_PARAMS = frozenset({"fbclid", "gclid"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _tracking(pair: str) -> bool:
    key = unquote_plus(pair.partition("=")[0]).lower()
    return key.startswith("utm_") or key in _TRACKING_PARAMS


def canonical_url(url: str) -> str:
    """`url` canonicalised: 'HTTPS://Bücher.Example:443/a?b=2&utm_source=x&a=1#top' and
    'https://xn--bcher-kva.example/a?a=1&b=2' are the same key. A URL w3lib cannot read (a port out of
    range) is kept as given, without its fragment: it is never fetched, only compared."""
    text = url.strip()
    try:
        parts = urlsplit(canonicalize_url(text))
        port = parts.port
    except ValueError:
        return text.partition("#")[0]
    netloc = parts.netloc
    if port is not None and port == _DEFAULT_PORTS.get(parts.scheme):
        netloc = netloc.rpartition(":")[0]
    # Filtered as written: re-encoding the pairs would undo w3lib's normalised escaping.
    query = "&".join(pair for pair in parts.query.split("&") if pair and not _tracking(pair))
    path = parts.path or ("/" if parts.scheme in _DEFAULT_PORTS else "")
    return urlunsplit((parts.scheme, netloc, path, query, ""))

"""Pages that are notices, not articles: error and outage pages, paywalls, consent and bot-check walls.

A fetcher gets these with status 200 often enough ("soft" errors), and extraction happily returns their
text: "Page not found", "We'll be back soon", "Subscribe to continue reading", "We value your privacy".
Passed on, they would be tagged as news. A page is taken for a notice only when its text is short (a
real article that mentions cookies or maintenance is long) and its title is the notice ("Page not found |
Site", not a headline about an outage), or the notice is said twice, makes up a good share of the text and
little else is there. Quoted words are reported speech, never the notice itself. A paywall's teaser
counts whenever a prompt line of its own is there, however short next to the teaser: what is left is a
fragment of the article, not the article of record.

Patterns are searched (case-insensitive) in the title and in each paragraph of at most `_MAX_LINE_CHARS`."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Measured on the 181 Scrapinghub and 990 trafilatura-eval pages: 3 have a notice phrase in their text
# (a cookie line, a donation prompt, a privacy story), all articles of 283 words or more; the notices
# the tests write have under 40.
MAX_NOTICE_WORDS = 150
# The share of the text the matching paragraphs must hold (title matches decide alone).
_MIN_NOTICE_SHARE = 0.4
_MAX_LINE_CHARS = 300

_PATTERNS: dict[str, tuple[str, ...]] = {
    "error": (
        r"\b(?:404|410)\b.{0,30}\b(?:not found|error|page|gone)\b",
        r"\berror (?:404|403|410)\b",
        r"\b403 forbidden\b",
        r"\bpage (?:was )?not found\b",
        r"\b(?:page|article|story|content) (?:you (?:requested|are looking for|were looking for) )?"
        r"(?:cannot|could not|can't|couldn't) be found\b",
        r"\b(?:this|the) (?:page|article|story) (?:does not|doesn't|no longer) exists?\b",
        r"\b(?:this|the) (?:page|article|story|content) (?:has been|was) (?:removed|deleted|taken down)\b",
        r"\baccess denied\b",
    ),
    "outage": (
        r"\b(?:500 )?internal server error\b",
        r"\b(?:502 )?bad gateway\b",
        r"\b(?:503 )?service (?:is )?(?:temporarily )?unavailable\b",
        r"\bgateway time-?out\b",
        r"\b(?:site|website|service|page) is (?:temporarily )?(?:down|unavailable|offline)\b",
        r"\b(?:under(?:going)?|down for) (?:scheduled |planned )?maintenance\b",
        r"\bwe(?:'ll| will) be back (?:soon|shortly|online)\b",
        r"\bexperiencing (?:technical )?(?:difficulties|issues|problems|an outage)\b",
    ),
    "paywall": (
        r"\b(?:subscribe|sign in|log in|login|register) (?:now )?to (?:continue|read|keep reading|unlock|access)\b",
        r"\b(?:this|the) (?:article|story|content|page) is (?:only )?(?:available |reserved )?(?:for|to) "
        r"(?:our )?(?:paying )?(?:subscribers|members|premium)\b",
        r"\balready a (?:subscriber|member)\b",
        r"\byou(?:'ve| have) (?:reached|used) (?:your|all your|the) (?:limit|maximum|quota)? ?(?:of )?"
        r"(?:free )?(?:articles|stories)\b",
        r"\bfree (?:articles?|stories) (?:left|remaining)\b",
        r"\bfor subscribers only\b|\bsubscribers?[ -]only\b",
        r"\bunlock (?:this|the full|full) (?:article|story|access)\b",
    ),
    "consent": (
        r"\b(?:we|this (?:web)?site) uses? cookies\b",
        r"\b(?:accept|reject|allow|refuse) (?:all )?(?:cookies|tracking)\b",
        r"\bcookie (?:policy|settings|preferences|consent)\b",
        r"\bwe (?:value|care about) your privacy\b",
        r"\bmanage (?:your )?(?:privacy )?(?:preferences|choices|consent|options)\b",
        r"\bbefore you continue to\b",
        r"\bwe and our (?:\d+ )?partners\b",
    ),
    "blocked": (
        r"^just a moment\b",
        r"\bchecking (?:your browser|if the site connection is secure)\b",
        r"\bverify (?:that )?you are (?:a )?human\b",
        r"\bare you a robot\b",
        r"\b(?:enable|turn on) javascript and cookies\b",
        r"\bunusual traffic from your (?:computer|network)\b",
    ),
}
_COMPILED = {reason: re.compile("|".join(f"(?:{p})" for p in patterns), re.I) for reason, patterns in _PATTERNS.items()}
# A paywall prompt is a line of its own ("Subscribe to continue reading."); a longer paragraph with the
# words reports on one.
_MAX_PROMPT_WORDS = 25
# ... and says little besides ("You have reached your limit of free articles. Subscribe now for full access").
_MAX_PROMPT_EXTRA_WORDS = 8
# A notice says what it is more than once ("temporarily unavailable ... we'll be back soon", "we use cookies
# ... accept all"); a short news item about an outage or a paywall dispute says it once.
_MIN_BODY_CUES = 2


# What a page quotes is reported, not said: "users saw '502 Bad Gateway' messages" is news about an outage.
_QUOTED = re.compile(r"\"[^\"]{1,200}\"|“[^”]{1,200}”|‘[^’]{1,200}’|(?<!\w)'[^']{1,200}'(?!\w)")
# A title is split at its site separators ("Page not found | Example News").
_TITLE_PARTS = re.compile(r"\s+[|\-–—:·•]\s+|\s*::\s*")
# Words a title part may have beside its notice phrase and still be that notice ("Sorry, page not found");
# a headline about one has more ("Iran's Bushehr reactor down for maintenance").
_MAX_TITLE_EXTRA_WORDS = 2
# Other text a notice page may carry (a menu line, "Go back to the homepage or try searching"); the
# shortest news brief has more.
_MAX_OTHER_WORDS = 12


def _unquoted(line: str) -> str:
    return _QUOTED.sub(" ", line)


def _notice_kind(line: str) -> str | None:
    if len(line) > _MAX_LINE_CHARS:
        return None
    text = _unquoted(line)
    return next((reason for reason, pattern in _COMPILED.items() if pattern.search(text)), None)


def _cues(line: str, kind: str) -> int:
    """Separate places the line says it (overlapping patterns for one phrase count once)."""
    return sum(1 for _ in _COMPILED[kind].finditer(_unquoted(line)))


def _is_prompt(line: str, kind: str) -> bool:
    """A line that is the notice itself ("Subscribe to continue reading."), not a sentence reporting it."""
    if _notice_kind(line) != kind or len(line.split()) > _MAX_PROMPT_WORDS:
        return False
    text = _unquoted(line)
    said = sum(len(m.group().split()) for m in _COMPILED[kind].finditer(text))
    return len(text.split()) - said <= _MAX_PROMPT_EXTRA_WORDS


def title_notice(title: str | None) -> str | None:
    """The kind of notice a page title is ("404 - Page not found | Example"), or None. A headline that
    only contains the words ("Iran's reactor down for maintenance") is not one."""
    if not title or len(title) > _MAX_LINE_CHARS:
        return None
    for part in _TITLE_PARTS.split(_unquoted(title)):
        for reason, pattern in _COMPILED.items():
            match = pattern.search(part)
            if match is not None:
                extra = len(part.split()) - len(match.group().split())
                if extra <= _MAX_TITLE_EXTRA_WORDS:
                    return reason
    return None


def page_notice(title: str | None, body: Sequence[str], status: int = 200) -> str | None:
    """The kind of notice the page is (a reason of errors.NOTICE_REASONS), or None for an article."""
    if status >= 500:
        return "outage"
    if status >= 400:
        return "error"
    words: list[int] = []
    total = 0
    for paragraph in body:  # a long article is no notice: stop counting its words there
        words.append(len(paragraph.split()))
        total += words[-1]
        if total > MAX_NOTICE_WORDS:
            return None
    if kind := title_notice(title):
        return kind
    hits: dict[str, int] = {}  # kind -> words of the paragraphs with that kind of notice
    cues: dict[str, int] = {}  # kind -> notice patterns matched
    for paragraph, count in zip(body, words, strict=True):
        if kind := _notice_kind(paragraph):
            hits[kind] = hits.get(kind, 0) + count
            cues[kind] = cues.get(kind, 0) + _cues(paragraph, kind)
    if any(_is_prompt(p, "paywall") for p in body):
        return "paywall"
    hits.pop("paywall", None)
    best = max(hits, key=hits.__getitem__, default=None)
    if best is None or cues[best] < _MIN_BODY_CUES:
        return None
    # A news brief with a leaked cookie line keeps its news: a notice has little else to say.
    noticed = sum(hits.values())
    if total - noticed > _MAX_OTHER_WORDS:
        return None
    return best if hits[best] >= _MIN_NOTICE_SHARE * total else None

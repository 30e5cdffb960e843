"""Line-level boilerplate that survives main-text extraction (or that page-copied plain text carries).

Every pattern must match a *whole* line (re.fullmatch, case-insensitive), so a real sentence that merely
mentions comments, newsletters or sharing is never dropped. Patterns that allow free text after a fixed
prompt are also capped in length (see `_MAX_PROMPT_CHARS`)."""

from __future__ import annotations

import re

# Optional trailing punctuation or arrows that widgets put after a prompt ("Read more »", "Share:").
_END = r"[\s.:!?…»›>→\-–—|]*"

# Whole-line prompts and widget labels, each with an example of what it removes.
_PATTERNS: tuple[str, ...] = (
    # "Do you like this article?", "Did you enjoy this story?"
    r"(?:do|did) you (?:like|enjoy|love) this (?:article|story|post|piece)" + _END,
    # "0 Comment(s)", "12 Comments", "1 comment", "Comments (3)", "Comments"
    r"\d[\d,.]*\s*comments?(?:\s*\(s\))?" + _END,
    r"comments?(?:\s*\(\s*\d+\s*\))?" + _END,
    # "Comment Policy * Denotes Required Field 1500 / 1500", "* Denotes required field"
    r"comment policy\b.*",
    r"\*?\s*(?:denotes|indicates) (?:a )?required field.*",
    # "Leave a comment", "Post a reply", "Add your comment"
    r"(?:leave|post|add|write)(?: a| your)? (?:comment|reply|response)" + _END,
    # "Read more...", "Read more »", "Load more", "Show more comments", "See more stories"
    r"(?:read|load|show|see|view) more(?: comments| stories| articles| news)?" + _END,
    # "Share this article", "Share this story on Facebook", "Share:", "Share"
    r"share(?: this| the)?(?: article| story| post| page)?(?: (?:on|via) [\w .]{1,30})?" + _END,
    # A row of share buttons rendered as words: "Facebook Twitter WhatsApp Email", "Tweet Share Print"
    r"(?:(?:share|tweet|facebook|twitter|x|whatsapp|telegram|linkedin|reddit|pinterest|email|e-mail"
    r"|print|copy link|messenger)[\s,|/·•]*){2,}",
    # "Click here to read the full report.", "Click here for more"
    r"click here\b.{0,100}",
    # "Follow us on Twitter and Facebook", "Follow us on Telegram!"
    r"follow us(?: on\b.{0,80})?" + _END,
    # Newsletter prompts: "Sign up for our daily newsletter", "Subscribe to our newsletter", "Subscribe now"
    r"(?:sign up|subscribe|register|get|join)\b.{0,80}\bnewsletters?\b.{0,60}",
    r"subscribe(?: now| today| here)?" + _END,
    # Lone ad or teaser labels: "Advertisement", "Related articles", "Most read"
    r"(?:advertisement|advertising|sponsored(?: content)?|related(?: articles| stories| posts| content)?"
    r"|most (?:read|popular|viewed))" + _END,
)

_BOILERPLATE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)

# Prompts are short; a longer line starting like one is a real sentence ("Click here ... " is rare in prose,
# but "Sign up ..." and "Get ..." are not).
_MAX_PROMPT_CHARS = 160


def is_boilerplate(line: str) -> bool:
    """True when the whole (normalised, stripped) line is a known widget label or prompt."""
    return len(line) <= _MAX_PROMPT_CHARS and _BOILERPLATE.fullmatch(line) is not None


# A byline: "By Faris al-Omran", "By Jane Doe and John Smith", "BY JANE DOE, Reuters". Every word after
# "By" must look like part of a name, which keeps sentences such as "By expanding relations ..." out.
_BYLINE_START = re.compile(r"by\s+(?P<names>\S.*)", re.IGNORECASE)
_NAME_WORD = re.compile(
    r"[A-Z][\w'’.-]*"
    r"|(?:al|el|ad|ar|as|ash|at|az|bin|ibn|abu|de|da|di|du|del|della|van|von|der|den|la|le|dos|das)"
    r"(?:-[\w'’]+)?"
)
_NAME_JOINERS = frozenset({"and", "&"})
_MAX_BYLINE_CHARS = 100
_MAX_BYLINE_WORDS = 10


def is_byline(line: str) -> bool:
    """True when the line is an author credit such as "By Faris al-Omran"."""
    if len(line) > _MAX_BYLINE_CHARS:
        return False
    match = _BYLINE_START.fullmatch(line)
    if match is None:
        return False
    words = [w for w in re.split(r"[\s,|/]+", match.group("names")) if w and w.lower() not in _NAME_JOINERS]
    if not words or len(words) > _MAX_BYLINE_WORDS:
        return False
    return all(_NAME_WORD.fullmatch(w) is not None for w in words)


_MAX_LABEL_CHARS = 40
_MAX_LABEL_WORDS = 4


def is_section_label(line: str) -> bool:
    """True for a short section or breadcrumb label such as "Iraq News" or "Security".

    Only meaningful next to a title or byline at the head of a document; a short subheading elsewhere
    is body text."""
    return (
        0 < len(line) <= _MAX_LABEL_CHARS
        and len(line.split()) <= _MAX_LABEL_WORDS
        and line[0].isupper()
        and line[-1] not in ".!?…:;,\"”'’)"
    )

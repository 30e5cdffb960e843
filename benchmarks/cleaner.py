"""Extraction quality and speed of the cleaner beside trafilatura and rs-trafilatura, in one run.

    python -m benchmarks.cleaner [--set scrapinghub|trafilatura-eval|readability|all] [--pages N]
                                 [--every N] [--data DIR] [--dump FILE] [--keep-short] [--rounds N]

Every extractor reads the same decoded page in turn (page by page, so a load spike on a shared machine
slows all alike; each from its own copy of the string, in an order that rotates) and is timed with the
process's CPU clock (`time.process_time`: per core, whatever else runs on the machine), after every
extractor has read the first pages once untimed (`warm_up`); with `--rounds N` each extractor's CPU is its
median of N rounds. The cleaner is scored on `text`, the field the tagger reads (body, then the captions
it appends); `cleaner body` is the same run's body paragraphs alone, for comparison. A page the cleaner
rejects scores as an empty prediction.

Sets:

- `scrapinghub`: 181 news and blog pages with a human-checked article body (../shared/data/extraction/
  scrapinghub/, MIT). Scored as that benchmark publishes it: `\\w+` tokens, 4-token shingles (a multiset),
  per-page normalised true/false positives and false negatives; precision and recall averaged over pages,
  F1 = 2PR/(P+R).
- `trafilatura-eval`: trafilatura's own evaluation set, 990 multilingual pages (news, blogs, government and
  company pages), each annotated with text segments that must be in the main text ("with") and segments
  that must not ("without"). Scored the way that set is meant to be: a "with" segment found is a true
  positive, missing a false negative; a "without" segment found is a false positive; precision, recall
  and F1 over all segments of all pages. Text and segments are both folded the cleaner's way (NFC,
  typographic quotes and dashes to ASCII, runs of spaces to one) so that no extractor loses a match to
  quote style. The pages belong to their publishers, so they are not bundled; fetch them once:

      git clone https://github.com/adbar/trafilatura /tmp/trafilatura
      git -C /tmp/trafilatura checkout e90b0ef5
      mkdir -p ~/.cache/actorwatch/benchmarks/trafilatura-eval
      cp -r /tmp/trafilatura/tests/eval /tmp/trafilatura/tests/cache /tmp/trafilatura/tests/evaldata.json \\
         /tmp/trafilatura/LICENSE ~/.cache/actorwatch/benchmarks/trafilatura-eval/

  (annotations: Apache-2.0, Adrien Barbaresi; `--data DIR` reads them from elsewhere).
- `readability`: Mozilla Readability's test pages, 130 pages (news, blogs, wikis, many languages), each a
  saved page with the article content Readability's maintainers checked (`expected.html`); 128 are
  scored, for the two markup fixtures with under 3 words of expected content are no articles (see
  `MIN_ARTICLE_WORDS`; `--keep-short` scores them too). Scored like
  `scrapinghub` (shingles of the expected content's text). Not bundled either (the pages belong to their
  publishers; the repository is Apache-2.0); fetch them once:

      git clone https://github.com/mozilla/readability /tmp/readability
      git -C /tmp/readability checkout ab4027a8
      mkdir -p ~/.cache/actorwatch/benchmarks/readability
      cp -r /tmp/readability/test /tmp/readability/LICENSE.md ~/.cache/actorwatch/benchmarks/readability/

Plain trafilatura runs with the cleaner's options (`include_comments=False`, tables on, no images, links
or formatting) and its default (full) cascade; rs-trafilatura (PyPI `rs-trafilatura`, Rust) with its
defaults, when it is installed."""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import platform
import re
import statistics
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trafilatura
from trafilatura.utils import decode_file

from schemas.clean_article import PARAGRAPH_SEPARATOR
from schemas.raw_article import RawArticle
from services.cleaner.extract import MIN_HTML_WORDS, NoArticleError, clean_article

REPO = Path(__file__).resolve().parents[1]
SCRAPINGHUB = REPO.parent / "shared" / "data" / "extraction" / "scrapinghub"
TRAFILATURA_EVAL = Path.home() / ".cache" / "actorwatch" / "benchmarks" / "trafilatura-eval"
READABILITY = Path.home() / ".cache" / "actorwatch" / "benchmarks" / "readability"

_TOKEN = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)
Counts = tuple[float, float, float]
# (text or tagger-visible text, body only): what one extractor returns for one page.
Extracted = tuple[str, str]


@dataclass(frozen=True)
class Page:
    page_id: str
    url: str
    html: str
    truth: str = ""  # scrapinghub: the article body
    with_segments: tuple[str, ...] = ()  # trafilatura-eval: must be in the text
    without_segments: tuple[str, ...] = ()  # trafilatura-eval: must not


# ------------------------------------------------------------------------------------- scrapinghub


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def page_counts(truth: str, predicted: str) -> Counts:
    """Normalised (tp, fp, fn) of one page, so that every page weighs the same."""
    want, got = shingles(truth), shingles(predicted)
    tp = fp = fn = 0.0
    for key in want.keys() | got.keys():
        w, g = want.get(key, 0), got.get(key, 0)
        tp += min(w, g)
        fp += max(0, g - w)
        fn += max(0, w - g)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (tp, fp, fn)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def scores(counts: Sequence[Counts]) -> tuple[float, float, float]:
    """(F1, precision, recall) as the published benchmark computes them."""
    precision = statistics.mean(_precision(*c) for c in counts if c[0] + c[1] > 0)
    recall = statistics.mean(_recall(*c) for c in counts if c[0] + c[2] > 0)
    return 2 * precision * recall / (precision + recall), precision, recall


# -------------------------------------------------------------------------------- trafilatura-eval

_FOLD = str.maketrans(
    dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc", "'")
    | dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"')
    | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-")
    | dict.fromkeys("\u00a0\u2009\u202f\t\n\r", " ")
    | dict.fromkeys("\u00ad\u200b\u200c\u200d\ufeff")
)
_SPACES = re.compile(r" {2,}")


def fold(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text).translate(_FOLD)).strip()


def segment_counts(page: Page, predicted: str) -> Counts:
    """(tp, fp, fn) of one page's annotated segments: raw counts, summed over the set."""
    text = fold(predicted)
    found = [fold(s) in text for s in page.with_segments]
    leaked = [fold(s) in text for s in page.without_segments]
    return float(sum(found)), float(sum(leaked)), float(len(found) - sum(found))


def segment_scores(counts: Sequence[Counts]) -> tuple[float, float, float]:
    tp, fp, fn = (sum(c[i] for c in counts) for i in range(3))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall), precision, recall


# ---------------------------------------------------------------------------------------- loading


# A page whose reference text has fewer words than this is no article: the cleaner's own floor, under
# which it dead-letters a page as `too_few_words`. Readability's test pages hold two such fixtures of
# markup handling ("Test", "abc def"); they are left out, for every extractor alike, unless `--keep-short`.
MIN_ARTICLE_WORDS = MIN_HTML_WORDS
# The pages each loader left out, by set, for the run's header line.
LEFT_OUT: dict[str, list[str]] = {}


def _articles(set_name: str, pages: list[Page], min_words: int) -> list[Page]:
    LEFT_OUT[set_name] = [p.page_id for p in pages if len(p.truth.split()) < min_words]
    return [p for p in pages if len(p.truth.split()) >= min_words]


def load_scrapinghub(directory: Path = SCRAPINGHUB, min_words: int = MIN_ARTICLE_WORDS) -> list[Page]:
    truth: dict[str, dict[str, str]] = json.loads((directory / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        html = gzip.decompress((directory / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8")
        pages.append(Page(page_id, truth[page_id].get("url", ""), html, truth=truth[page_id].get("articleBody", "")))
    return _articles("scrapinghub", pages, min_words)


def load_trafilatura_eval(directory: Path = TRAFILATURA_EVAL) -> list[Page]:
    annotations: dict[str, dict[str, object]] = json.loads((directory / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url in sorted(annotations):
        entry = annotations[url]
        name = str(entry["file"])
        path = next((p for p in (directory / "eval" / name, directory / "cache" / name) if p.exists()), None)
        if path is None:
            continue
        # trafilatura's own decoder (declared charset, then detection), so every extractor gets the same text.
        html = decode_file(path.read_bytes())
        with_segments = tuple(str(s) for s in entry.get("with", []) or [])  # type: ignore[attr-defined]
        without_segments = tuple(str(s) for s in entry.get("without", []) or [])  # type: ignore[attr-defined]
        pages.append(Page(name, url, html, with_segments=with_segments, without_segments=without_segments))
    return pages


def load_readability(directory: Path = READABILITY, min_words: int = MIN_ARTICLE_WORDS) -> list[Page]:
    from lxml import html as lxml_html  # type: ignore[import-untyped]

    pages = []
    for folder in sorted((directory / "test" / "test-pages").iterdir()):
        source, expected = folder / "source.html", folder / "expected.html"
        if not (source.exists() and expected.exists()):
            continue
        # The expected content's text, one block per line (as an extractor's paragraphs would be).
        root = lxml_html.fromstring(expected.read_text(encoding="utf-8"))
        blocks = [" ".join(e.text_content().split()) for e in root.iter("p", "li", "h1", "h2", "h3", "h4", "pre")]
        truth = "\n".join(b for b in blocks if b) or " ".join(root.text_content().split())
        html = decode_file(source.read_bytes())
        pages.append(Page(folder.name, f"https://readability.test/{folder.name}", html, truth=truth))
    return _articles("readability", pages, min_words)


# Each set's loader, given its directory (None: the default) and the fewest words of reference text a
# page must have (segment-annotated trafilatura-eval has no reference text to count).
SETS: dict[str, Callable[[Path | None, int], list[Page]]] = {
    "scrapinghub": lambda d, words: load_scrapinghub(d or SCRAPINGHUB, words),
    "trafilatura-eval": lambda d, words: load_trafilatura_eval(d or TRAFILATURA_EVAL),
    "readability": lambda d, words: load_readability(d or READABILITY, words),
}


# ------------------------------------------------------------------------------------- extractors


# Why the cleaner gave no article, per reason (errors.py), for the run's summary line.
NO_ARTICLE: Counter[str] = Counter()


def cleaner(url: str, html: str) -> Extracted:
    raw = RawArticle(
        url=url or "https://bench.example/page",
        source_id="benchmark",
        fetched_at=datetime.now(UTC),
        content_type="text/html",
        body=html,
    )
    try:
        article = clean_article(raw)
    except NoArticleError as exc:
        NO_ARTICLE[f"{type(exc).__name__}:{getattr(exc, 'reason', '-')}"] += 1
        return "", ""
    return article.text, PARAGRAPH_SEPARATOR.join(article.paragraphs[: article.body_paragraphs])


def plain_trafilatura(url: str, html: str) -> Extracted:
    text = (
        trafilatura.extract(
            html,
            url=url or None,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            include_formatting=False,
        )
        or ""
    )
    return text, text


def extractors() -> dict[str, Callable[[str, str], Extracted]]:
    chosen: dict[str, Callable[[str, str], Extracted]] = {
        "actorwatch cleaner": cleaner,
        f"trafilatura {trafilatura.__version__}": plain_trafilatura,
    }
    try:
        import rs_trafilatura  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return chosen

    def rust(url: str, html: str) -> Extracted:
        text = rs_trafilatura.extract(html, url=url or None).main_content or ""
        return text, text

    chosen[f"rs-trafilatura {getattr(rs_trafilatura, '__version__', '?')}"] = rust
    return chosen


# ------------------------------------------------------------------------------------------ runs


@dataclass(frozen=True)
class Figures:
    """One extractor's scores on one set, and its CPU seconds (None for `cleaner body`, timed with the cleaner)."""

    f1: float
    precision: float
    recall: float
    cpu: float | None


# Pages every extractor reads once, untimed and unscored, before the timed run.
WARM_UP_PAGES = 3


def warm_up(order: Sequence[tuple[str, Callable[[str, str], Extracted]]], pages: Sequence[Page]) -> None:
    """One-off costs (lazy imports and models, compiled patterns, caches) are charged to no extractor, as a
    long-running service pays them once: the cleaner's workers warm up on a page before they take real ones.
    justext's stoplists of every language (about 0.09 s, shared by the cleaner and trafilatura) load on
    the first justext call of the process, which the first pages need not make: loaded here."""
    stoplists = getattr(importlib.import_module("trafilatura.external"), "jt_stoplist_init", None)
    if callable(stoplists):
        stoplists()
    counted = NO_ARTICLE.copy()
    for page in pages[:WARM_UP_PAGES]:
        for _name, extract in order:
            extract(page.url, page.html[:1] + page.html[1:])
    NO_ARTICLE.clear()
    NO_ARTICLE.update(counted)  # the warm-up's pages are counted in the run itself


def run(
    set_name: str,
    chosen: Mapping[str, Callable[[str, str], Extracted]],
    pages: Sequence[Page],
    dump: Path | None = None,
) -> dict[str, Figures]:
    """Score and time every extractor on every page; they take turns page by page."""
    names = [*chosen, "cleaner body"]
    counts: dict[str, list[Counts]] = {name: [] for name in names}
    cpu = dict.fromkeys(chosen, 0.0)
    shingled = set_name in ("scrapinghub", "readability")  # a reference text, not segments
    score_page = (lambda p, t: page_counts(p.truth, t)) if shingled else segment_counts
    rows = []
    order = list(chosen.items())
    for number, page in enumerate(pages):
        row: dict[str, object] = {"page": page.page_id}
        # Each extractor reads its own copy of the page (a str caches its UTF-8 form once encoded, which
        # made whoever parsed a page second 5-10% faster) and the order rotates page by page.
        shift = number % len(order)
        for name, extract in order[shift:] + order[:shift]:
            html = page.html[:1] + page.html[1:]
            started = time.process_time()
            text, body = extract(page.url, html)
            cpu[name] += time.process_time() - started
            counts[name].append(score_page(page, text))
            row[name] = counts[name][-1]
            if extract is cleaner:
                counts["cleaner body"].append(score_page(page, body))
        rows.append(row)
    if dump is not None:
        dump.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    aggregate = scores if shingled else segment_scores
    return {name: Figures(*aggregate(counts[name]), cpu=cpu.get(name)) for name in names}


def median_round(rounds: Sequence[Mapping[str, Figures]]) -> dict[str, Figures]:
    """One set's figures over rounds: the first round's scores (the same in every round) and each
    extractor's median CPU time (a shared machine's load moves single runs by 5-8%)."""
    first = rounds[0]

    def scored(figures: Figures) -> tuple[float, float, float]:
        return figures.f1, figures.precision, figures.recall

    if any(scored(later[name]) != scored(f) for later in rounds[1:] for name, f in first.items()):
        print("warning: scores differ between rounds; the first round's are shown")
    medians = {name: statistics.median(r[name].cpu or 0.0 for r in rounds) for name in first}
    return {name: Figures(*scored(f), None if f.cpu is None else medians[name]) for name, f in first.items()}


def _reference(figures: Mapping[str, Figures]) -> float | None:
    return next((f.cpu for n, f in figures.items() if n.startswith("trafilatura")), None)


def set_table(figures: Mapping[str, Figures], pages: int) -> list[str]:
    """One set: F1, precision, recall and speed of each extractor."""
    reference = _reference(figures)
    lines = ["| extractor | F1 | precision | recall | pages/s per core | speed vs trafilatura |", "|" + "---|" * 6]
    for name, f in figures.items():
        if f.cpu:
            rate, speed = f"{pages / f.cpu:.1f}", f"{reference / f.cpu:.2f}x" if reference else "-"
        else:
            rate = speed = "(same run)"
        lines.append(f"| {name} | {f.f1:.3f} | {f.precision:.3f} | {f.recall:.3f} | {rate} | {speed} |")
    return lines


def summary_table(by_set: Mapping[str, Mapping[str, Figures]]) -> list[str]:
    """Every set side by side, as the issue lays it out: F1 per set, then speed per set; the best F1 of
    each set in bold."""
    sets = list(by_set)
    names = list(next(iter(by_set.values())))
    best = {s: max(f.f1 for f in by_set[s].values()) for s in sets}
    header = ["extractor", *(f"{s} F1" for s in sets), *(f"{s} speed vs trafilatura" for s in sets)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        cells = [name]
        for s in sets:
            f1 = by_set[s][name].f1
            cells.append(f"**{f1:.3f}**" if round(f1, 3) == round(best[s], 3) else f"{f1:.3f}")
        for s in sets:
            cpu, reference = by_set[s][name].cpu, _reference(by_set[s])
            cells.append(f"{reference / cpu:.2f}x" if cpu and reference else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--set", dest="set_name", choices=[*sorted(SETS), "all"], default="scrapinghub",
        help="one set, or all whose pages are present (then one table with a column per set as well)",
    )  # fmt: skip
    parser.add_argument("--pages", type=int, default=None, help="score only the first N pages (by id)")
    parser.add_argument("--every", type=int, default=1, help="score every N-th page only (a spread-out sample)")
    parser.add_argument("--data", type=Path, default=None, help="the set's directory (default: see the docstring)")
    parser.add_argument("--dump", type=Path, default=None, help="write per-page counts (JSON lines) here")
    parser.add_argument(
        "--keep-short", action="store_true",
        help=f"keep pages whose reference text has fewer than {MIN_ARTICLE_WORDS} words (markup fixtures)",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="time every page this many times; each extractor's CPU is its median round's (F1 is the same)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.set_name == "all" and (args.data or args.dump):
        parser.error("--data and --dump name one set's files: use them with one --set")
    chosen = extractors()
    by_set: dict[str, dict[str, Figures]] = {}
    for set_name in sorted(SETS) if args.set_name == "all" else [args.set_name]:
        try:
            pages = SETS[set_name](args.data, 0 if args.keep_short else MIN_ARTICLE_WORDS)[:: args.every][: args.pages]
        except FileNotFoundError as exc:
            if args.set_name != "all":
                message = f"{set_name}: pages not found ({exc.filename}); the docstring says how to fetch them"
                raise SystemExit(message) from None
            print(f"{set_name}: skipped, pages not found ({exc.filename}); the docstring says how to fetch them")
            continue
        print(f"{set_name}: {len(pages)} pages, {platform.python_implementation()} {platform.python_version()}")
        if left_out := LEFT_OUT.get(set_name):
            print(f"left out, under {MIN_ARTICLE_WORDS} words of reference text: {', '.join(left_out)}")
        warm_up(list(chosen.items()), pages)
        NO_ARTICLE.clear()
        rounds = [run(set_name, chosen, pages, args.dump)]
        counted = NO_ARTICLE.copy()  # one round's: every round gives the same articles
        rounds += [run(set_name, chosen, pages) for _ in range(args.rounds - 1)]
        NO_ARTICLE.clear()
        NO_ARTICLE.update(counted)
        by_set[set_name] = median_round(rounds)
        print("\n".join(set_table(by_set[set_name], len(pages))))
        print(f"cleaner gave no article for {NO_ARTICLE.total()} pages: {dict(NO_ARTICLE) or 'none'}")
    if len(by_set) > 1:
        print("\nall sets (F1 of `text`; `cleaner body` is timed with the cleaner):")
        print("\n".join(summary_table(by_set)))


if __name__ == "__main__":
    main()

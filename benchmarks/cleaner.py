"""Article-body quality and speed of the cleaner, side by side with plain trafilatura, in one run.

    python -m benchmarks.cleaner [--pages N]

Pages and ground truth: ../shared/data/extraction/scrapinghub/ (181 news and blog pages). Scoring as the
benchmark publishes it (../shared/README.md, scrapinghub/article-extraction-benchmark evaluate.py):
tokens are `\\w+` matches, a page's shingles are its 4-token n-grams (a multiset), true positives, false
positives and false negatives are counted per page and normalised to sum to 1; precision and recall are
averaged over pages and F1 = 2PR/(P+R). Plain trafilatura runs as that benchmark runs it:
`trafilatura.extract(html, include_comments=False)`. The cleaner is scored on its body paragraphs (captions
appended for the tagger are not article body). A page the cleaner rejects scores as an empty prediction.
Pages per second: wall time of extraction alone, one core, pages already decompressed in memory."""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

from schemas.clean_article import PARAGRAPH_SEPARATOR
from schemas.raw_article import RawArticle
from services.cleaner.extract import NoArticleError, clean_article

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "extraction" / "scrapinghub"

_TOKEN = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)
Counts = tuple[float, float, float]


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


def load_pages(limit: int | None) -> list[tuple[str, str, str, str]]:
    """(id, url, html, ground-truth body) for each page."""
    truth: dict[str, dict[str, str]] = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        html = gzip.decompress((DATA / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8")
        pages.append((page_id, truth[page_id].get("url", ""), html, truth[page_id].get("articleBody", "")))
    return pages


def cleaner_body(url: str, html: str) -> str:
    raw = RawArticle(
        url=url or "https://bench.example/page",
        source_id="benchmark",
        fetched_at=datetime.now(UTC),
        content_type="text/html",
        body=html,
    )
    try:
        article = clean_article(raw)
    except NoArticleError:
        return ""
    body = article.paragraphs[: article.body_paragraphs]
    return PARAGRAPH_SEPARATOR.join(body)


def trafilatura_body(_url: str, html: str) -> str:
    return trafilatura.extract(html, include_comments=False) or ""


def run(extractors: Mapping[str, Callable[[str, str], str]], pages: Sequence[tuple[str, str, str, str]]) -> list[str]:
    """Score and time every extractor; they take turns page by page, so a load spike on a shared
    machine slows both alike instead of whichever happened to run then."""
    counts: dict[str, list[Counts]] = {name: [] for name in extractors}
    elapsed = dict.fromkeys(extractors, 0.0)
    for _page_id, url, html, truth in pages:
        for name, extract in extractors.items():
            started = time.perf_counter()
            predicted = extract(url, html)
            elapsed[name] += time.perf_counter() - started
            counts[name].append(page_counts(truth, predicted))
    lines = []
    for name in extractors:
        f1, precision, recall = scores(counts[name])
        rate = len(pages) / elapsed[name]
        lines.append(f"{name:<22} F1={f1:.3f}  precision={precision:.3f}  recall={recall:.3f}  {rate:6.1f} pages/s")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=int, default=None, help="score only the first N pages (by id)")
    args = parser.parse_args(argv)
    pages = load_pages(args.pages)
    print(f"{len(pages)} pages, {platform.python_implementation()} {platform.python_version()}, one core")
    # Warm both up (imports, lazily built tables) so neither pays start-up inside the timed loop.
    cleaner_body(pages[0][1], pages[0][2])
    trafilatura_body(pages[0][1], pages[0][2])
    extractors = {f"trafilatura {trafilatura.__version__}": trafilatura_body, "actorwatch cleaner": cleaner_body}
    print("\n".join(run(extractors, pages)))


if __name__ == "__main__":
    main()

"""The cleaner benchmark's tables: one set's, and all sets side by side with each set's best F1 in bold."""

from __future__ import annotations

from benchmarks.cleaner import Figures, set_table, summary_table


def _figures(cleaner: float, trafilatura: float, cpu: float) -> dict[str, Figures]:
    return {
        "actorwatch cleaner": Figures(cleaner, 0.9, 0.9, cpu),
        "trafilatura 2.3.1": Figures(trafilatura, 0.9, 0.9, 2.0),
        "cleaner body": Figures(cleaner, 0.9, 0.9, None),
    }


def test_speed_is_against_trafilatura_and_the_body_is_timed_with_the_cleaner() -> None:
    lines = set_table(_figures(0.95, 0.94, cpu=1.0), pages=100)
    assert lines[2] == "| actorwatch cleaner | 0.950 | 0.900 | 0.900 | 100.0 | 2.00x |"
    assert lines[3] == "| trafilatura 2.3.1 | 0.940 | 0.900 | 0.900 | 50.0 | 1.00x |"
    assert lines[4].endswith("| (same run) | (same run) |")


def test_all_sets_side_by_side_bold_each_set_s_best() -> None:
    lines = summary_table({"a": _figures(0.95, 0.94, cpu=1.0), "b": _figures(0.90, 0.92, cpu=4.0)})
    assert lines[0] == "| extractor | a F1 | b F1 | a speed vs trafilatura | b speed vs trafilatura |"
    assert lines[2] == "| actorwatch cleaner | **0.950** | 0.900 | 2.00x | 0.50x |"
    assert lines[3] == "| trafilatura 2.3.1 | 0.940 | **0.920** | 1.00x | 1.00x |"
    assert lines[4] == "| cleaner body | **0.950** | 0.900 | - | - |"


def test_pages_with_no_article_in_their_reference_are_left_out_and_named() -> None:
    from benchmarks.cleaner import LEFT_OUT, MIN_ARTICLE_WORDS, Page, _articles

    pages = [
        Page("fixture", "", "<p>Test</p>", truth="Test"),
        Page("two-words", "", "", truth="abc\ndef"),
        Page("article", "", "", truth="The envoy met the militia leader in Moscow."),
    ]
    kept = _articles("demo", pages, MIN_ARTICLE_WORDS)
    assert [p.page_id for p in kept] == ["article"]
    assert LEFT_OUT["demo"] == ["fixture", "two-words"]
    assert [p.page_id for p in _articles("demo", pages, 0)] == ["fixture", "two-words", "article"]
    assert LEFT_OUT["demo"] == []


def test_warm_up_reads_the_first_pages_once_per_extractor_and_counts_nothing() -> None:
    from benchmarks.cleaner import NO_ARTICLE, WARM_UP_PAGES, Page, cleaner, warm_up

    calls: list[tuple[str, str]] = []

    def recording(name: str) -> object:
        def extract(url: str, html: str) -> tuple[str, str]:
            calls.append((name, url))
            return "", ""

        return extract

    pages = [Page(f"p{i}", f"https://bench.example/{i}", "<html><body><p>x</p></body></html>") for i in range(5)]
    NO_ARTICLE.clear()
    NO_ARTICLE["earlier:set"] = 2
    warm_up([("a", recording("a")), ("b", recording("b")), ("cleaner", cleaner)], pages)  # type: ignore[list-item]
    assert calls == [(n, p.url) for p in pages[:WARM_UP_PAGES] for n in ("a", "b")]
    # The cleaner refused the one-word pages during the warm-up: not counted, the earlier count kept.
    assert NO_ARTICLE == {"earlier:set": 2}
    cleaner(pages[0].url, pages[0].html)  # the same page in the run itself is counted
    assert sum(NO_ARTICLE.values()) == 3
    NO_ARTICLE.clear()


def test_rounds_keep_the_scores_and_take_each_extractors_median_cpu() -> None:
    from benchmarks.cleaner import median_round

    rounds = [_figures(0.95, 0.94, cpu=c) for c in (1.0, 3.0, 1.2)]
    rounds[1]["trafilatura 2.3.1"] = Figures(0.94, 0.9, 0.9, 9.0)  # a slow round of its own
    rounds[2]["trafilatura 2.3.1"] = Figures(0.94, 0.9, 0.9, 2.4)
    combined = median_round(rounds)
    assert combined["actorwatch cleaner"] == Figures(0.95, 0.9, 0.9, 1.2)
    assert combined["trafilatura 2.3.1"] == Figures(0.94, 0.9, 0.9, 2.4)
    assert combined["cleaner body"].cpu is None
    assert set_table(combined, pages=100)[2].endswith("| 83.3 | 2.00x |")

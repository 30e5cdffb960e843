"""`actorwatch kb who|import` and the tagger's settings on `actorwatch tag` (model, --all-sentences), run
in-process through services.cli.main."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.clean_article import CleanArticle
from schemas.tagged_article import TaggedArticle
from services.cli import main
from services.tagger.kb.store import read_records

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "data" / "kb" / "wikidata-sample.json"
WATCHLIST = REPO / "services" / "demo_data" / "watchlist.yaml"
MEETING = "Foreign Minister Hakan Fidan held talks in Ankara with his Iraqi counterpart Fuad Hussein on Monday."


@pytest.fixture(autouse=True)
def _plain_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings these tests vary start unset, whatever the environment running the tests says."""
    for name in ("ACTORWATCH_TAGGER_KB_PATHS", "ACTORWATCH_TAGGER_PARSE_ALL"):
        monkeypatch.delenv(name, raising=False)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    return code, out, err


def assert_one_line_error(err: str) -> None:
    assert err.startswith("actorwatch: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


# --- kb who ----------------------------------------------------------------------------------------------


def test_kb_who_prints_the_resolution(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["kb", "who", "Lavrov", "--at", "2022-06-01"], capsys)
    assert (code, err) == (0, "")
    first, *terms = out.splitlines()
    assert first == "Lavrov on 2022-06-01: Sergei Lavrov (sergei-lavrov), Foreign Minister of RUS, in office"
    assert len(terms) == 1 and "2004-03-09" in terms[0] and "RUS" in terms[0]


def test_kb_who_former_holder(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "who", "Zarif", "--at", "2023-01-01"], capsys)
    assert code == 0
    assert out.splitlines()[0].endswith("Foreign Minister of IRN, former")


def test_kb_who_before_any_term_lists_the_terms(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "who", "Blinken", "--at", "2010-01-01"], capsys)
    assert code == 0
    first, *terms = out.splitlines()
    assert first == "Blinken on 2010-01-01: ambiguous or not in office; terms:"
    assert terms and all("antony-blinken" in t for t in terms)


def test_kb_who_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["kb", "who", "Lavrov", "--at", "2022-06-01", "--json"], capsys)
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    payload = json.loads(out)
    assert (payload["name"], payload["at"]) == ("Lavrov", "2022-06-01")
    assert payload["resolved"] == {
        "id": "sergei-lavrov",
        "name": "Sergei Lavrov",
        "country": "RUS",
        "office": "Foreign Minister",
        "sector": "GOV",
        "current": True,
    }
    (term,) = payload["terms"]
    assert term == {
        "id": "sergei-lavrov",
        "name": "Sergei Lavrov",
        "country": "RUS",
        "office": "Foreign Minister",
        "start": "2004-03-09",
        "end": None,
        "source": "public-knowledge",
    }


def test_kb_who_json_former_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "who", "Blinken", "--at", "2026-06-01", "--json"], capsys)
    resolved = json.loads(out)["resolved"]
    assert code == 0 and (resolved["id"], resolved["current"]) == ("antony-blinken", False)
    code, out, _ = run(["kb", "who", "Nobody Atall", "--at", "2022-06-01", "--json"], capsys)
    assert code == 1
    assert json.loads(out) == {"name": "Nobody Atall", "at": "2022-06-01", "resolved": None, "terms": []}


def test_kb_who_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["kb", "who", "Nobody Atall", "--at", "2022-06-01"], capsys)
    assert code == 1
    assert err == ""
    assert out.count("\n") == 1 and out.startswith("Nobody Atall: not in the knowledge base")


@pytest.mark.parametrize("at", ["2022-13-01", "yesterday", "01/06/2022", "2022-06"])
def test_kb_who_bad_date(capsys: pytest.CaptureFixture[str], at: str) -> None:
    code, out, err = run(["kb", "who", "Lavrov", "--at", at], capsys)
    assert code == 2
    assert out == ""
    assert_one_line_error(err)
    assert f"--at {at!r}: not a date" in err


def test_kb_who_without_a_date_answers_for_today(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["kb", "who", "Lavrov"], capsys)
    assert code == 0
    assert out.startswith(f"Lavrov on {datetime.now(UTC).date().isoformat()}: ")


# --- kb import and ACTORWATCH_TAGGER_KB_PATHS ----------------------------------------------------------------


def test_kb_import_writes_the_file_and_reports_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "x.tsv"
    code, out, err = run(["kb", "import", str(FIXTURE), "--out", str(target)], capsys)
    assert (code, err) == (0, "")
    assert out == f"wrote 5 office terms to {target} (3 rows skipped: no country or start)\n"
    assert len(read_records(target)) == 5


@pytest.mark.parametrize(("content", "problem"), [(None, "cannot read"), (b"<html>", "not JSON"), (b"{}", "bindings")])
def test_kb_import_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, problem: str
) -> None:
    source = tmp_path / "results.json"
    if content is not None:
        source.write_bytes(content)
    target = tmp_path / "x.tsv"
    code, out, err = run(["kb", "import", str(source), "--out", str(target)], capsys)
    assert code == 2
    assert out == ""
    assert_one_line_error(err)
    assert problem in err
    assert not target.exists()
    if content is None:
        assert str(source) in err


def test_kb_paths_setting_adds_imported_persons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "imported" / "wikidata.tsv"
    assert run(["kb", "import", str(FIXTURE), "--out", str(target)], capsys)[0] == 0
    who = ["kb", "who", "Quennell", "--at", "2020-06-01", "--json"]
    assert run(who, capsys)[0] == 1  # not in the bundled snapshot
    monkeypatch.setenv("ACTORWATCH_TAGGER_KB_PATHS", str(target))
    code, out, _ = run(who, capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["resolved"]["id"] == "wd-q90000001"
    assert (payload["resolved"]["country"], payload["resolved"]["office"]) == ("ISL", "Foreign Minister")
    assert {t["source"] for t in payload["terms"]} == {"wikidata:Q90000001"}
    # A folder works too, and the bundled snapshot is still there.
    monkeypatch.setenv("ACTORWATCH_TAGGER_KB_PATHS", str(target.parent))
    assert (
        run(["kb", "who", "Quennell", "--at", "2023-01-01"], capsys)[1]
        .splitlines()[0]
        .endswith("Prime Minister of ISL, in office")
    )
    assert run(["kb", "who", "Lavrov", "--at", "2022-06-01"], capsys)[0] == 0


@pytest.mark.parametrize("content", [None, "id\tname\n"], ids=["missing", "bad-header"])
def test_kb_paths_setting_bad_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], content: str | None
) -> None:
    path = tmp_path / "extra.tsv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("ACTORWATCH_TAGGER_KB_PATHS", str(path))
    code, out, err = run(["kb", "who", "Lavrov", "--at", "2022-06-01"], capsys)
    assert code == 2
    assert out == ""
    assert_one_line_error(err)
    assert "ACTORWATCH_TAGGER_KB_PATHS" in err and str(path) in err


# --- tag: the spaCy model setting and --all-sentences -----------------------------------------------------


def meeting_article(tmp_path: Path) -> Path:
    clean = CleanArticle(
        id="fidan-hussein",
        url="https://example.org/fidan-hussein",
        source="test",
        title="Fidan meets Hussein",
        text=MEETING,
        paragraphs=[MEETING],
        published_at=datetime(2024, 5, 1, tzinfo=UTC),
        fetched_at=datetime(2024, 5, 2, tzinfo=UTC),
    )
    path = tmp_path / "article.json"
    path.write_bytes(clean.to_bytes())
    return path


def test_tag_unknown_spacy_model_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACTORWATCH_TAGGER_SPACY_MODEL", "no-such-model")
    code, out, err = run(["tag", "--watchlist", str(WATCHLIST), str(meeting_article(tmp_path))], capsys)
    assert code == 2
    assert out == ""
    assert_one_line_error(err)
    assert "ACTORWATCH_TAGGER_SPACY_MODEL" in err and "no-such-model" in err


def test_tag_all_sentences_parses_where_no_watched_actor_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(meeting_article(tmp_path))
    code, default_out, _ = run(["tag", "--watchlist", str(WATCHLIST), path], capsys)
    assert code == 0
    code, all_out, _ = run(["tag", "--all-sentences", "--watchlist", str(WATCHLIST), path], capsys)
    assert code == 0
    assert default_out != all_out
    default, everything = TaggedArticle.from_bytes(default_out), TaggedArticle.from_bytes(all_out)
    for tagged in (default, everything):
        assert not any(e.actor_id for e in tagged.entities)  # no watched actor in the text
        names = {e.canonical_name: e for e in tagged.entities}
        # Resolved as of published_at (2024-05-01), when both were foreign ministers.
        assert (names["Hakan Fidan"].country, names["Hakan Fidan"].kb_id) == ("TUR", "hakan-fidan")
        assert (names["Fuad Hussein"].country, names["Fuad Hussein"].kb_id) == ("IRQ", "fuad-hussein")
    assert default.interactions == []  # the alias pass alone finds no interaction; nothing is parsed
    (interaction,) = everything.interactions
    by_id = {e.id: e.canonical_name for e in everything.entities}
    assert {by_id[interaction.source], by_id[interaction.target]} == {"Hakan Fidan", "Fuad Hussein"}
    assert interaction.evidence.text == MEETING


def test_tag_parse_all_setting_matches_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ACTORWATCH_TAGGER_PARSE_ALL", "true")
    code, out, _ = run(["tag", "--watchlist", str(WATCHLIST), str(meeting_article(tmp_path))], capsys)
    assert code == 0
    assert len(TaggedArticle.from_bytes(out).interactions) == 1

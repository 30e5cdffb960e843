"""`actorwatch tag`: tagged JSON for text files, clean-article JSON and stdin; a table view; clear errors."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.clean_article import CleanArticle
from schemas.tagged_article import TaggedArticle
from services.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "services" / "demo_data" / "samples" / "kaabi-moscow-visit.txt"
TEXT = "Iranian Foreign Minister Abbas Araghchi met al-Kaabi in Tehran on Monday."


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    return code, out, err


def test_tag_text_files_one_json_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.txt"
    other.write_text(TEXT, encoding="utf-8")
    code, out, err = run(["tag", str(SAMPLE), str(other)], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 2
    first, second = (TaggedArticle.from_bytes(line) for line in lines)
    assert any(i.type.value == "meet" for i in first.interactions)
    names = {e.canonical_name: e for e in second.entities}
    assert (names["Abbas Araghchi"].country, names["Abbas Araghchi"].sector.value) == ("IRN", "GOV")
    assert names["Akram al-Kaabi"].actor_id == "akram-al-kaabi"
    assert second.article.url == other.resolve().as_uri()


def test_tag_clean_article_json_from_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clean = CleanArticle(
        id="abc",
        url="https://example.org/a",
        source="test",
        title="t",
        text=TEXT,
        paragraphs=[TEXT],
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(clean.to_bytes())))
    code, out, _ = run(["tag", "-"], capsys)
    tagged = TaggedArticle.from_bytes(out)
    assert code == 0
    assert tagged.article == clean
    assert [i.type.value for i in tagged.interactions] == ["meet"]


def test_tag_table_and_other_watchlist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(
        "actors:\n  - actor_id: araghchi\n    name: Abbas Araghchi\n    kind: PERSON\n    home_country: IRN\n"
        "    sector: GOV\n",
        encoding="utf-8",
    )
    text = tmp_path / "a.txt"
    text.write_text(TEXT, encoding="utf-8")
    code, out, _ = run(["tag", "--watchlist", str(watchlist), "--format", "table", str(text)], capsys)
    assert code == 0
    assert "[watched: araghchi]" in out
    assert "[watched: akram-al-kaabi]" not in out  # not on this watchlist
    assert "interactions:" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1}', "not a clean-article JSON"),
        (None, "cannot read"),
    ],
    ids=["bad-json", "missing-file"],
)
def test_tag_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = run(["tag", str(path)], capsys)
    assert code == 2  # an input that cannot be used as given: a usage error, as in `ingest` and `extract`
    assert out == ""
    assert message in err and err.count("\n") == 1


def test_tag_bad_watchlist_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    watchlist = tmp_path / "w.yaml"
    watchlist.write_text("actors: [{name: x}]\n", encoding="utf-8")
    code, _, err = run(["tag", "--watchlist", str(watchlist), str(SAMPLE)], capsys)
    assert code == 2
    assert err.count("\n") == 1


def test_tag_empty_and_control_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"\x00\x01 \xff\xfe Moscow said \x1b[31m")
    code, out, _ = run(["tag", str(empty), str(junk)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["entities"] == []
    assert TaggedArticle.from_bytes(lines[1]).article.text.startswith("\x00")

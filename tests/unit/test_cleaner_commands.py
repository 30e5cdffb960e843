"""Unit tests of `actorwatch extract` (services/cleaner/commands.py), run in-process. No Kafka."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
from pathlib import Path

import pytest

from schemas.clean_article import CleanArticle
from schemas.raw_article import RawArticle
from services.cleaner.commands import cmd_extract, decode, register

PARAGRAPH = "The militia leader met the Russian deputy foreign minister in Moscow on Saturday."
PAGE = f"<html><head><title>Leader in Moscow</title></head><body><article><p>{PARAGRAPH}</p></article></body></html>"


def run(files: list[str]) -> int:
    return cmd_extract(argparse.Namespace(files=files))


def lines(captured: str) -> list[CleanArticle]:
    return [CleanArticle.model_validate_json(line) for line in captured.splitlines()]


def test_html_gzip_text_and_raw_json_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "b.html.gz").write_bytes(gzip.compress(PAGE.encode("utf-8")))
    (tmp_path / "c.txt").write_text(f"Leader in Moscow\n\n{PARAGRAPH}", encoding="utf-8")
    raw = RawArticle.model_validate(
        {"url": "https://example.org/r", "source_id": "s", "fetched_at": "2022-12-06T09:30:00Z",
         "content_type": "text/html", "body": PAGE}
    )  # fmt: skip
    (tmp_path / "d.json").write_bytes(raw.to_bytes())
    files = [str(tmp_path / n) for n in ("a.html", "b.html.gz", "c.txt", "d.json")]
    assert run(files) == 0
    articles = lines(capsys.readouterr().out)
    assert [a.paragraphs for a in articles] == [[PARAGRAPH]] * 4
    assert articles[0].url == (tmp_path / "a.html").as_uri()
    assert articles[3].url == "https://example.org/r"


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PAGE.encode("utf-8"))))
    assert run(["-"]) == 0
    (article,) = lines(capsys.readouterr().out)
    assert article.paragraphs == [PARAGRAPH]
    assert article.url == "stdin:"


def test_bad_inputs_give_one_line_each_and_the_rest_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "binary.html").write_bytes(bytes(range(256)) * 50)
    (tmp_path / "bad.json").write_text('{"url": 1}', encoding="utf-8")
    files = [str(tmp_path / "missing.html"), str(tmp_path / "binary.html"), str(tmp_path / "bad.json")]
    assert run([*files, str(tmp_path / "good.html")]) == 2  # missing.html, bad.json: usage errors
    captured = capsys.readouterr()
    assert len(lines(captured.out)) == 1
    errors = captured.err.splitlines()
    assert len(errors) == 3
    assert "missing.html: cannot read" in errors[0]
    assert "binary.html: no article" in errors[1]
    assert "bad.json: no article: not a valid RawArticle" in errors[2]
    assert run([str(tmp_path / "binary.html"), str(tmp_path / "good.html")]) == 1  # no article: a runtime error


def test_charset_declarations_and_detection() -> None:
    text = "Caf\u00e9 in Mosc\u00f4w"
    prose = "<p>" + text + " was visited by the delegation. " * 20 + "</p>"
    # UTF-8 bytes under a wrong declaration: the bytes win.
    assert text in decode(f'<meta charset="iso-8859-1">{prose}'.encode())
    # cp1252 bytes declared as UTF-8: not valid UTF-8, so the declaration is a lie and detection decides.
    assert text in decode(f'<meta charset="utf-8">{prose}'.encode("cp1252"))
    # A true declaration of a single-byte charset is used.
    arabic = "\u0627\u0644\u0645\u064a\u0644\u064a\u0634\u064a\u0627 \u0641\u064a \u0645\u0648\u0633\u0643\u0648"
    assert arabic in decode(f'<meta charset="windows-1256"><p>{arabic}</p>'.encode("cp1256"))
    # No declaration at all.
    assert text in decode(prose.encode("cp1252"))


def test_registered_as_a_subcommand() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["extract", "a.html", "-"])
    assert args.files == ["a.html", "-"] and args.handler is cmd_extract


def test_json_output_is_one_object_per_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.html").write_text(PAGE, encoding="utf-8")
    assert run([str(tmp_path / "a.html"), str(tmp_path / "a.html")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all(json.loads(line)["title"] == "Leader in Moscow" for line in out)

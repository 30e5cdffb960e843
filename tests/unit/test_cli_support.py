"""The shared command-line helpers: inputs (and '-' for stdin), one-line errors with their exit codes."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas import CleanArticle
from schemas.tagged_article import TaggedArticle
from services.alerter.commands import read_tagged_files
from services.runtime.cli_support import EXIT_CONFIG, CliError, input_path, load_settings, read_input


def _tagged(n: int) -> str:
    article = CleanArticle(
        id=f"a{n}",
        url=f"https://news.example/{n}",
        source="s",
        title="T",
        text="Text.",
        paragraphs=["Text."],
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return TaggedArticle(article=article).to_bytes().decode()


class _Stdin:
    """What sys.stdin offers the commands: text, and bytes through `buffer`."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)

    def read(self) -> str:
        return self.buffer.read().decode()


def test_read_input_reads_files_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"0123456789")
    assert read_input(str(path), 100) == b"0123456789"
    assert read_input(str(path), 4) == b"01234"  # limit + 1: the caller can tell it is over
    monkeypatch.setattr(sys, "stdin", _Stdin(b"from stdin"))
    assert read_input("-", 100) == b"from stdin"
    with pytest.raises(CliError) as raised:
        read_input(str(tmp_path / "missing.txt"), 100)
    assert raised.value.code == EXIT_CONFIG and "missing.txt" in str(raised.value)
    assert input_path(Path("-")) == Path("/dev/stdin") and input_path(path) == path


def test_backfill_reads_json_lines_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(f"{_tagged(1)}\n\n{_tagged(2)}\n".encode()))
    assert [a.article.id for a in read_tagged_files([Path("-")])] == ["a1", "a2"]
    monkeypatch.setattr(sys, "stdin", _Stdin(b"{not json}\n"))
    with pytest.raises(CliError) as raised:
        read_tagged_files([Path("-")])
    assert raised.value.code == EXIT_CONFIG and "-:1" in str(raised.value)


def test_settings_errors_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTORWATCH_BOOTSTRAP_SERVERS", "127.0.0.1:70000")
    monkeypatch.setenv("_ACTORWATCH_ENV_CHECKED", "1")  # no warning here, and none of ours left behind
    with pytest.raises(CliError) as raised:
        load_settings()
    assert raised.value.code == EXIT_CONFIG
    assert "ACTORWATCH_BOOTSTRAP_SERVERS" in str(raised.value) and "70000" in str(raised.value)


def test_every_list_setting_takes_commas_or_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.settings import Settings

    for text in ("127.0.0.0/8, 10.0.0.0/8", '["127.0.0.0/8", "10.0.0.0/8"]'):
        monkeypatch.setenv("ACTORWATCH_FETCH_ALLOW_NETWORKS", text)
        assert Settings().fetch_allow_networks == ["127.0.0.0/8", "10.0.0.0/8"]
    for text in ("a.tsv,b.tsv", '["a.tsv", "b.tsv"]'):
        monkeypatch.setenv("ACTORWATCH_TAGGER_KB_PATHS", text)
        assert [p.name for p in Settings().tagger_kb_paths] == ["a.tsv", "b.tsv"]

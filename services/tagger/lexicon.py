"""The tagger's lexicons: plain TSV files in services/tagger/lexicon/, written by us and meant to be extended.

Each file starts with comment lines (#) that explain its columns, then a header row, then one entry per row.
Lists inside a cell are separated by "|" and "-" means empty. Loading validates every row and names the file
and line of the first problem, so a bad edit fails at start-up rather than mid-stream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from schemas.tagged_article import InteractionType, Sector

DEFAULT_FOLDER = Path(__file__).resolve().parent / "lexicon"


class LexiconError(ValueError):
    """A lexicon file cannot be used; the message names the file, the line and the problem."""


class TitleScope(StrEnum):
    FIXED = "fixed"
    COUNTRY = "country"
    TO = "to"


@dataclass(frozen=True, slots=True)
class Country:
    iso3: str
    name: str
    aliases: tuple[str, ...]
    demonyms: tuple[str, ...]
    capitals: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Title:
    title: str
    sector: Sector
    scope: TitleScope
    role: str | None


@dataclass(frozen=True, slots=True)
class Body:
    name: str
    aliases: tuple[str, ...]
    country: str | None
    sector: Sector
    generic: bool
    # A group of a state's people ("Iranian authorities", "Israeli soldiers"): needs its nationality, and the
    # phrase as written (nationality included) is its name.
    collective: bool = False


@dataclass(frozen=True, slots=True)
class Predicate:
    phrase: str
    type: InteractionType | None  # None: a speech verb ("said"), which links nothing by itself
    place: bool
    needs: str | None
    symmetric: bool
    topic: bool = False  # what follows is a topic ("discussed the war"); the other side comes after "with"


@dataclass(frozen=True, slots=True)
class Descriptor:
    phrase: str
    sector: Sector


@dataclass(frozen=True, slots=True)
class OrgHead:
    word: str
    sector: Sector | None
    weight: int
    head: bool


@dataclass(frozen=True, slots=True)
class Lexicon:
    countries: tuple[Country, ...]
    regions: tuple[str, ...]
    titles: tuple[Title, ...]
    bodies: tuple[Body, ...]
    predicates: tuple[Predicate, ...]
    descriptors: tuple[Descriptor, ...]
    org_heads: tuple[OrgHead, ...]


@cache
def country_codes() -> frozenset[str]:
    """The ISO 3166-1 alpha-3 codes of the bundled country lexicon (UN members, observers, XKX, TWN...)."""
    return frozenset(country.iso3 for country in _countries(DEFAULT_FOLDER / "countries.tsv"))


def load_lexicon(folder: Path | None = None) -> Lexicon:
    """Read every lexicon file from `folder` (default: the bundled services/tagger/lexicon/)."""
    folder = DEFAULT_FOLDER if folder is None else folder
    return Lexicon(
        countries=tuple(_countries(folder / "countries.tsv")),
        regions=tuple(row[0] for _, row in _rows(folder / "regions.tsv", 1)),
        titles=tuple(_titles(folder / "titles.tsv")),
        # bodies.tsv, then any bodies-*.tsv (e.g. bodies-world.tsv): known organisations by region or kind.
        bodies=tuple(body for path in sorted(folder.glob("bodies*.tsv")) for body in _bodies(path)),
        predicates=tuple(_predicates(folder / "predicates.tsv")),
        descriptors=tuple(
            Descriptor(row[0].lower(), _sector(path_line, row[1]))
            for path_line, row in _rows(folder / "descriptors.tsv", 2)
        ),
        org_heads=tuple(_org_heads(folder / "org_heads.tsv")),
    )


def _rows(path: Path, columns: int) -> Iterator[tuple[str, list[str]]]:
    """(where, cells) per data row; `where` is "file:line" for error messages. Skips comments and header."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise LexiconError(f"cannot read lexicon {path}: {exc.strerror or exc}") from exc
    header_seen = False
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if not header_seen:
            header_seen = True
            continue
        cells = [cell.strip() for cell in line.split("\t")]
        where = f"{path}:{number}"
        if len(cells) != columns:
            raise LexiconError(f"{where}: expected {columns} tab-separated columns, got {len(cells)}")
        if not cells[0] or cells[0] == "-":
            raise LexiconError(f"{where}: first column must not be empty")
        yield where, cells


def _items(cell: str) -> tuple[str, ...]:
    return () if cell == "-" else tuple(item.strip() for item in cell.split("|") if item.strip())


def _sector(where: str, value: str) -> Sector:
    try:
        return Sector(value)
    except ValueError:
        raise LexiconError(f"{where}: unknown sector {value!r}") from None


def _country(where: str, value: str) -> str | None:
    if value == "-":
        return None
    if len(value) != 3 or not value.isascii() or not value.isalpha() or not value.isupper():
        raise LexiconError(f"{where}: country must be an ISO 3166-1 alpha-3 code such as 'RUS', got {value!r}")
    return value


def _countries(path: Path) -> Iterator[Country]:
    for where, (iso3, name, aliases, demonyms, capitals) in _rows(path, 5):
        code = _country(where, iso3)
        assert code is not None  # _rows rejects "-" in the first column
        yield Country(code, name, _items(aliases), _items(demonyms), _items(capitals))


def _titles(path: Path) -> Iterator[Title]:
    for where, (title, sector, scope, role) in _rows(path, 4):
        try:
            title_scope = TitleScope(scope)
        except ValueError:
            raise LexiconError(f"{where}: scope must be fixed, country or to, got {scope!r}") from None
        yield Title(title.lower(), _sector(where, sector), title_scope, None if role == "-" else role)


def _bodies(path: Path) -> Iterator[Body]:
    for where, (name, aliases, country, sector, scope) in _rows(path, 5):
        if scope not in ("fixed", "generic", "collective"):
            raise LexiconError(f"{where}: scope must be fixed, generic or collective, got {scope!r}")
        yield Body(
            name,
            _items(aliases),
            _country(where, country),
            _sector(where, sector),
            scope != "fixed",
            scope == "collective",
        )


def _predicates(path: Path) -> Iterator[Predicate]:
    for where, (phrase, kind, flags) in _rows(path, 3):
        try:
            interaction = None if kind == "say" else InteractionType(kind)
        except ValueError:
            raise LexiconError(f"{where}: unknown interaction type {kind!r}") from None
        flag_set = {flag.strip() for flag in flags.split(",")} - {"-", ""}
        needs = next((flag[6:] for flag in flag_set if flag.startswith("needs=")), None)
        unknown = {flag for flag in flag_set if not flag.startswith("needs=")} - {"place", "symmetric", "topic"}
        if unknown:
            raise LexiconError(f"{where}: unknown flags {sorted(unknown)}")
        yield Predicate(
            phrase.lower(), interaction, "place" in flag_set, needs, "symmetric" in flag_set, "topic" in flag_set
        )


def _org_heads(path: Path) -> Iterator[OrgHead]:
    for where, (word, sector, weight, head) in _rows(path, 4):
        if not weight.isdigit() or head not in ("yes", "no"):
            raise LexiconError(f"{where}: weight must be a whole number and head yes or no")
        yield OrgHead(word, None if sector == "-" else _sector(where, sector), int(weight), head == "yes")

"""Loading and querying the office-holder knowledge base (TSV files, one office term per row).

Columns: id, name, aliases (|-separated), country (alpha-3), office, sector, start, end (YYYY[-MM[-DD]] or -),
source. One person holding several offices has one id on several rows. Names are matched folded (case,
diacritics, apostrophes), as the tagger's alias pass folds them."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path

from schemas.tagged_article import Sector
from services.tagger.text import fold

BUNDLED_FOLDER = Path(__file__).resolve().parent / "data"
OFFICES_FILE = Path(__file__).resolve().parent / "offices.tsv"
COLUMNS = ("id", "name", "aliases", "country", "office", "sector", "start", "end", "source")
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_SPACES = re.compile(r"\s+")
_ID = re.compile(r"^[a-z0-9][a-z0-9._:-]*$")


class KnowledgeBaseError(ValueError):
    """A knowledge-base file cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True, slots=True)
class OfficeRecord:
    """One term of one person in one office."""

    person_id: str
    name: str
    aliases: tuple[str, ...]
    country: str
    office: str
    sector: Sector
    start: date
    end: date | None  # None: still in office as far as the snapshot knows
    source: str

    def holds(self, at: date) -> bool:
        return self.start <= at and (self.end is None or at <= self.end)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the knowledge base says of a name (or an office) at a date."""

    record: OfficeRecord
    current: bool  # in office at the date; False: the person's most recent office ended before it

    @property
    def why(self) -> str:
        term = f"{self.record.start.isoformat()}..{self.record.end.isoformat() if self.record.end else ''}"
        state = "in office" if self.current else "former"
        return f"kb '{self.record.person_id}': {self.record.office} of {self.record.country} ({term}, {state})"


def normalise(name: str) -> str:
    return _SPACES.sub(" ", fold(name).replace("-", " ").strip())


def _parse_date(value: str, *, end: bool) -> date | None:
    if value in ("", "-"):
        return None
    match = _DATE.match(value)
    if match is None:
        raise ValueError(f"date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(match.group(1))
    month = int(match.group(2) or (12 if end else 1))
    if match.group(3):
        return date(year, month, int(match.group(3)))
    day = calendar.monthrange(year, month)[1] if end else 1
    return date(year, month, day)


def read_records(path: Path) -> list[OfficeRecord]:
    """Every row of one TSV file, validated; a bad row raises KnowledgeBaseError naming file and line."""
    records: list[OfficeRecord] = []
    header_seen = False
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeBaseError(f"{path}: cannot read: {exc}") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = [c.strip() for c in line.split("\t")]
        if not header_seen:
            if tuple(cells) != COLUMNS:
                raise KnowledgeBaseError(f"{path}:{number}: header must be {' '.join(COLUMNS)} (tab-separated)")
            header_seen = True
            continue
        if len(cells) != len(COLUMNS):
            raise KnowledgeBaseError(f"{path}:{number}: {len(cells)} columns, expected {len(COLUMNS)}")
        pid, name, aliases, country, office, sector, start, end, source = cells
        try:
            if not _ID.match(pid):
                raise ValueError(f"id {pid!r} must be lower-case letters, digits and . _ : -")
            if not re.fullmatch(r"[A-Z]{3}", country):
                raise ValueError(f"country {country!r} is not an ISO alpha-3 code")
            began = _parse_date(start, end=False)
            if began is None:
                raise ValueError("start date is required")
            ended = _parse_date(end, end=True)
            if not name or not office:
                raise ValueError("name and office are required")
            records.append(
                OfficeRecord(
                    pid,
                    name,
                    tuple(a for a in aliases.split("|") if a and a != "-"),
                    country,
                    office,
                    Sector(sector),
                    began,
                    ended,
                    source or "-",
                )
            )
        except ValueError as exc:
            raise KnowledgeBaseError(f"{path}:{number}: {exc}") from exc
    return records


@lru_cache(maxsize=1)
def office_synonyms() -> dict[str, str]:
    """Title -> office key (offices.tsv): "secretary of state" and "foreign minister" are one office."""
    table: dict[str, str] = {}
    for line in OFFICES_FILE.read_text(encoding="utf-8").splitlines()[1:]:
        if line.startswith("#") or "\t" not in line or line.startswith("title\t"):
            continue
        title, office = line.split("\t", 1)
        table[title.strip()] = office.strip()
    return table


def office_key(office: str) -> str:
    low = _SPACES.sub(" ", office.casefold().strip())
    return office_synonyms().get(low, low)


class KnowledgeBase:
    """Office terms indexed by folded name and by (country, office). Built once per process (load_kb)."""

    def __init__(self, records: Iterable[OfficeRecord]) -> None:
        # One person from two sources (the bundled snapshot and a Wikidata import) must stay one person:
        # a later record whose name matches an earlier person's name or alias in the same country takes
        # that person's id.
        merged: list[OfficeRecord] = []
        owner: dict[tuple[str, str], str] = {}
        renamed: dict[str, str] = {}
        for record in records:
            pid = renamed.get(record.person_id)
            if pid is None:
                pid = owner.get((record.country, normalise(record.name)), record.person_id)
                renamed[record.person_id] = pid
            if pid != record.person_id:
                record = replace(record, person_id=pid)
            for alias in (record.name, *record.aliases):
                owner.setdefault((record.country, normalise(alias)), pid)
            merged.append(record)
        self.records: list[OfficeRecord] = merged
        # Every term of a person is found under every name of that person, whichever source gave the name.
        names_of: dict[str, set[str]] = {}
        for record in merged:
            names_of.setdefault(record.person_id, set()).update((record.name, *record.aliases))
        self._by_name: dict[str, list[OfficeRecord]] = {}
        self._by_office: dict[tuple[str, str], list[OfficeRecord]] = {}
        self._names: dict[str, str] = {}  # person id -> canonical name
        self._by_surname: dict[str, list[OfficeRecord]] = {}
        for record in self.records:
            self._names.setdefault(record.person_id, record.name)
            for alias in {normalise(a) for a in names_of[record.person_id]}:
                self._by_name.setdefault(alias, []).append(record)
            self._by_office.setdefault((record.country, office_key(record.office)), []).append(record)
            for alias in {record.name, *record.aliases}:
                words = normalise(alias).split()
                if len(words) >= 2:
                    self._by_surname.setdefault(words[-1], []).append(record)

    def __len__(self) -> int:
        return len(self.records)

    def persons(self) -> int:
        return len(self._names)

    def aliases(self) -> dict[str, tuple[str, ...]]:
        """Person id -> every written form (name first), for the tagger's alias pass."""
        forms: dict[str, list[str]] = {}
        for record in self.records:
            bucket = forms.setdefault(record.person_id, [self._names[record.person_id]])
            for alias in (record.name, *record.aliases):
                if alias not in bucket:
                    bucket.append(alias)
        return {pid: tuple(names) for pid, names in forms.items()}

    def name_of(self, person_id: str) -> str | None:
        return self._names.get(person_id)

    def candidates(self, name: str) -> list[OfficeRecord]:
        return list(self._by_name.get(normalise(name), ()))

    def resolve(self, name: str, at: date, *, country: str | None = None) -> Resolution | None:
        """The person a name stands for at `at`: the one in office then (if exactly one person is), else the
        one whose last term ended most recently before `at` (a former holder). None: unknown or ambiguous.

        `country`, when the text gives one, narrows the candidates."""
        records = [r for r in self._by_name.get(normalise(name), ()) if country is None or r.country == country]
        if not records:
            return None
        current = [r for r in records if r.holds(at)]
        people = {r.person_id for r in current}
        if len(people) == 1:
            # Several concurrent offices (president and party head): the highest-ranked is listed first.
            return Resolution(current[0], True)
        if people:
            return None  # two office-holders share this name at that date: say nothing rather than guess
        past = [r for r in records if r.end is not None and r.end < at]
        if not past or len({r.person_id for r in records if r.start <= at}) > 1:
            return None
        latest = max(past, key=lambda r: r.end or r.start)
        return Resolution(latest, False)

    def titled(self, name: str, role: str, at: date, *, country: str | None = None) -> Resolution | None:
        """ "Foreign Minister Seyed Abbas Araghchi": the one person with that surname who held that office at
        `at` (the title and the date make a spelling or a middle name that the KB lacks harmless)."""
        words = normalise(name).split()
        if not words:
            return None
        wanted = office_key(role)
        records = [
            r
            for r in self._by_surname.get(words[-1], ())
            if r.holds(at) and office_key(r.office) == wanted and (country is None or r.country == country)
        ]
        if len({r.person_id for r in records}) != 1:
            return None
        return Resolution(records[0], True)

    def holder(self, country: str, office: str, at: date) -> OfficeRecord | None:
        """Who held `office` (as written in the KB, case-insensitive) of `country` at `at`."""
        holders = [r for r in self._by_office.get((country, office_key(office)), ()) if r.holds(at)]
        return holders[0] if len({r.person_id for r in holders}) == 1 else None

    def offices(self) -> set[str]:
        return {office for _, office in self._by_office}


def kb_files(extra: Sequence[Path] = ()) -> list[Path]:
    """The bundled TSV files, then each extra file (or every *.tsv in an extra folder), in order."""
    files = sorted(BUNDLED_FOLDER.glob("*.tsv"))
    for path in extra:
        if path.is_dir():
            files.extend(sorted(path.glob("*.tsv")))
        elif path.exists():
            files.append(path)
        else:
            raise KnowledgeBaseError(f"{path}: no such knowledge-base file or folder")
    return files


@lru_cache(maxsize=4)
def load_kb(extra: tuple[Path, ...] = ()) -> KnowledgeBase:
    """The knowledge base, loaded once per process for a given set of extra files."""
    records: list[OfficeRecord] = []
    for path in kb_files(extra):
        records.extend(read_records(path))
    return KnowledgeBase(records)

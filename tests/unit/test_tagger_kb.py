"""The office-holder knowledge base (services/tagger/kb): TSV reading and validation, resolution as of a date,
offices and titles, merging of sources, the bundled snapshot, and the Wikidata SPARQL import.

The persons in tests/data/kb/wikidata-sample.json are fictional (apart from Sergey Lavrov, there to be merged
with the bundled snapshot); their Q-ids are made up."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.tagged_article import Sector
from services.tagger.kb import KnowledgeBase, KnowledgeBaseError, OfficeRecord, load_kb
from services.tagger.kb.store import BUNDLED_FOLDER, COLUMNS, kb_files, read_records
from services.tagger.kb.wikidata import convert, import_file

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "tests" / "data" / "kb" / "wikidata-sample.json"
HEADER = "\t".join(COLUMNS)
GOOD_ROW = "sergei-lavrov\tSergei Lavrov\tLavrov|Sergey Lavrov\tRUS\tForeign Minister\tGOV\t2004-03-09\t-\tpublic"


def write_kb(folder: Path, *lines: str, name: str = "kb.tsv") -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rec(
    pid: str,
    name: str,
    start: date,
    end: date | None = None,
    *,
    aliases: tuple[str, ...] = (),
    country: str = "USA",
    office: str = "Foreign Minister",
    sector: Sector = Sector.GOV,
) -> OfficeRecord:
    return OfficeRecord(pid, name, aliases, country, office, sector, start, end, "test")


def kb_of(*records: OfficeRecord) -> KnowledgeBase:
    return KnowledgeBase(records)


# --- read_records --------------------------------------------------------------------------------------


def test_read_records_valid_rows(tmp_path: Path) -> None:
    fidan = "hakan-fidan\tHakan Fidan\t-\tTUR\tHead of MIT\tSECURITY\t2015-03-09\t2023-06-04\t"
    first, second = read_records(write_kb(tmp_path, "# a comment line", HEADER, "", GOOD_ROW, fidan))
    lavrov = rec("sergei-lavrov", "Sergei Lavrov", date(2004, 3, 9), aliases=("Lavrov", "Sergey Lavrov"), country="RUS")
    assert (replace(first, source="test"), first.source) == (lavrov, "public")
    assert (second.aliases, second.sector, second.end, second.source) == ((), Sector.SECURITY, date(2023, 6, 4), "-")


BAD_ROWS = {
    "too-few-columns": ("a\tb\tc", "3 columns, expected 9"),
    "too-many-columns": (GOOD_ROW + "\textra", "10 columns, expected 9"),
    "country-name": (GOOD_ROW.replace("\tRUS\t", "\tRussia\t"), "country 'Russia' is not an ISO alpha-3 code"),
    "country-lower-case": (GOOD_ROW.replace("\tRUS\t", "\trus\t"), "country 'rus'"),
    "date-format": (GOOD_ROW.replace("2004-03-09", "09/03/2004"), "date '09/03/2004' is not YYYY"),
    "impossible-day": (GOOD_ROW.replace("2004-03-09", "2004-02-30"), "day is out of range"),
    "month-13": (GOOD_ROW.replace("2004-03-09", "2004-13"), "month"),
    "unpadded-end": (GOOD_ROW.replace("\t-\tpublic", "\t2020-1-5\tpublic"), "date '2020-1-5'"),
    "start-dash": (GOOD_ROW.replace("2004-03-09", "-"), "start date is required"),
    "start-empty": (GOOD_ROW.replace("2004-03-09", ""), "start date is required"),
    "bad-id": (GOOD_ROW.replace("sergei-lavrov", "Sergei Lavrov", 1), "id 'Sergei Lavrov'"),
    "bad-sector": (GOOD_ROW.replace("\tGOV\t", "\tPOLITICS\t"), "'POLITICS'"),
    "no-office": (GOOD_ROW.replace("\tForeign Minister\t", "\t\t"), "name and office are required"),
}


@pytest.mark.parametrize(("row", "problem"), list(BAD_ROWS.values()), ids=list(BAD_ROWS))
def test_read_records_bad_row_names_file_and_line(tmp_path: Path, row: str, problem: str) -> None:
    # Line 1 a comment, 2 the header, 3 blank, 4 a good row, 5 the bad one: every line counts.
    path = write_kb(tmp_path, "# comment", HEADER, "", GOOD_ROW, row)
    with pytest.raises(KnowledgeBaseError) as raised:
        read_records(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:5: ")
    assert problem in message


@pytest.mark.parametrize(
    "header",
    ["\t".join(COLUMNS[:-1]), " ".join(COLUMNS), "\t".join(reversed(COLUMNS)), GOOD_ROW],
    ids=["missing-column", "spaces", "wrong-order", "no-header"],
)
def test_read_records_bad_header(tmp_path: Path, header: str) -> None:
    path = write_kb(tmp_path, "# comment", header, GOOD_ROW)
    with pytest.raises(KnowledgeBaseError, match=r":2: header must be id name aliases") as raised:
        read_records(path)
    assert str(path) in str(raised.value)


def test_read_records_unreadable_files(tmp_path: Path) -> None:
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"\xff\xfe\x00 not utf-8")
    with pytest.raises(KnowledgeBaseError, match=r"binary\.tsv: cannot read"):
        read_records(binary)
    with pytest.raises(KnowledgeBaseError, match=r"missing\.tsv: cannot read"):
        read_records(tmp_path / "missing.tsv")
    with pytest.raises(KnowledgeBaseError, match=r"nowhere: no such knowledge-base file or folder"):
        kb_files([tmp_path / "nowhere"])


@pytest.mark.parametrize(
    ("start", "end", "began", "ended"),
    [
        ("2019", "2020", date(2019, 1, 1), date(2020, 12, 31)),
        ("2024-02", "2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2023-02", "2023-02", date(2023, 2, 1), date(2023, 2, 28)),
        ("2021-04", "2021-04-30", date(2021, 4, 1), date(2021, 4, 30)),
        ("2015-03-09", "2023-11", date(2015, 3, 9), date(2023, 11, 30)),
        ("2015-12", "-", date(2015, 12, 1), None),
    ],
)
def test_partial_dates_start_first_day_end_last_day(
    tmp_path: Path, start: str, end: str, began: date, ended: date | None
) -> None:
    row = f"x\tX Y\t-\tFRA\tPresident\tGOV\t{start}\t{end}\tt"
    (record,) = read_records(write_kb(tmp_path, HEADER, row))
    assert (record.start, record.end) == (began, ended)


# --- resolve, holder, titled -----------------------------------------------------------------------------


def test_resolve_in_office_former_and_before_anyone() -> None:
    kb = kb_of(
        rec("pompeo", "Mike Pompeo", date(2018, 4, 26), date(2021, 1, 20), aliases=("Pompeo",)),
        rec("blinken", "Antony Blinken", date(2021, 1, 26), date(2025, 1, 20), aliases=("Blinken",)),
    )
    now = kb.resolve("blinken", date(2022, 6, 1))  # folded: the case does not matter
    assert now is not None and (now.record.person_id, now.current) == ("blinken", True)
    assert "in office" in now.why
    last_day = kb.resolve("Antony Blinken", date(2025, 1, 20))
    assert last_day is not None and last_day.current  # the end date is inclusive
    later = kb.resolve("Blinken", date(2026, 6, 1))
    assert later is not None and (later.record.person_id, later.current) == ("blinken", False)
    assert "former" in later.why
    assert kb.resolve("Blinken", date(2021, 1, 25)) is None  # before his term
    assert kb.resolve("Blinken", date(2020, 1, 1)) is None
    assert kb.resolve("Rubio", date(2022, 6, 1)) is None  # unknown


def test_resolve_two_current_persons_is_ambiguous_unless_country_given() -> None:
    kb = kb_of(
        rec("smith-gbr", "John Smith", date(2020, 1, 1), country="GBR", aliases=("Smith",)),
        rec("smith-aus", "Jane Smith", date(2021, 1, 1), country="AUS", aliases=("Smith",)),
    )
    assert kb.resolve("Smith", date(2022, 1, 1)) is None
    aus = kb.resolve("Smith", date(2022, 1, 1), country="AUS")
    assert aus is not None and aus.record.person_id == "smith-aus"
    assert kb.resolve("Smith", date(2022, 1, 1), country="FRA") is None
    # Before the second term starts only one person holds the name.
    only = kb.resolve("Smith", date(2020, 6, 1))
    assert only is not None and only.record.person_id == "smith-gbr"


def test_resolve_two_former_persons_is_ambiguous() -> None:
    kb = kb_of(
        rec("a", "Ali Karimi", date(2010, 1, 1), date(2012, 1, 1), country="IRN"),
        rec("b", "Ali Karimi", date(2013, 1, 1), date(2015, 1, 1), country="AFG"),
    )
    assert kb.resolve("Ali Karimi", date(2012, 6, 1)) is not None  # only the first had begun
    assert kb.resolve("Ali Karimi", date(2016, 1, 1)) is None


FIDAN_IN_TURKEY: dict[str, Any] = {"aliases": ("Fidan",), "country": "TUR"}
MIT: dict[str, Any] = {"office": "Head of MIT", "sector": Sector.SECURITY}


def test_resolve_one_person_two_offices_over_time() -> None:
    kb = kb_of(
        rec("hakan-fidan", "Hakan Fidan", date(2015, 3, 9), date(2023, 6, 3), **FIDAN_IN_TURKEY, **MIT),
        rec("hakan-fidan", "Hakan Fidan", date(2023, 6, 4), **FIDAN_IN_TURKEY),
    )
    spy = kb.resolve("Fidan", date(2020, 1, 1))
    minister = kb.resolve("Fidan", date(2024, 1, 1))
    assert spy is not None and spy.current
    assert (spy.record.office, spy.record.sector) == ("Head of MIT", Sector.SECURITY)
    assert minister is not None and (minister.record.office, minister.record.sector) == ("Foreign Minister", Sector.GOV)
    assert kb.persons() == 1 and len(kb) == 2


def test_holder_with_office_synonyms() -> None:
    kb = kb_of(
        rec("blinken", "Antony Blinken", date(2021, 1, 26), date(2025, 1, 20), office="Secretary of State"),
        rec("rubio", "Marco Rubio", date(2025, 1, 21), office="Secretary of State"),
        rec("lavrov", "Sergei Lavrov", date(2004, 3, 9), country="RUS"),
    )
    for title in ("Secretary of State", "secretary of state", "Foreign Minister", "minister of foreign affairs"):
        found = kb.holder("USA", title, date(2022, 6, 1))
        assert found is not None and found.person_id == "blinken", title
    later = kb.holder("USA", "foreign minister", date(2025, 6, 1))
    russian = kb.holder("RUS", "Secretary of State", date(2022, 6, 1))
    assert later is not None and later.person_id == "rubio"
    assert russian is not None and russian.person_id == "lavrov"
    assert kb.holder("USA", "Defence Minister", date(2022, 6, 1)) is None
    assert kb.holder("GBR", "Foreign Minister", date(2022, 6, 1)) is None
    assert kb.holder("USA", "Foreign Minister", date(2018, 1, 1)) is None


def test_holder_of_a_shared_office_is_none() -> None:
    term: dict[str, Any] = {"start": date(2020, 4, 1), "end": date(2020, 9, 30), "country": "SMR"}
    kb = kb_of(
        rec("r1", "Regent One", office="Captain Regent", **term),
        rec("r2", "Regent Two", office="captain regent", **term),
    )
    assert kb.holder("SMR", "Captain Regent", date(2020, 5, 1)) is None
    assert kb.holder("SMR", "Captain Regent", date(2020, 10, 1)) is None  # after the term: nobody


def test_titled_picks_the_one_holder_by_surname_role_and_date() -> None:
    kb = kb_of(
        rec("araghchi", "Abbas Araghchi", date(2024, 8, 21), country="IRN"),
        rec("smith-gbr", "John Smith", date(2020, 1, 1), country="GBR", office="Foreign Secretary"),
        rec("smith-aus", "Jane Smith", date(2021, 1, 1), country="AUS"),
        rec("smith-nzl", "Karl Smith", date(2021, 1, 1), country="NZL", office="Defence Minister"),
    )
    found = kb.titled("Seyed Abbas Araghchi", "Foreign Minister", date(2025, 1, 1))
    assert found is not None and (found.record.person_id, found.current) == ("araghchi", True)
    synonym = kb.titled("Araghchi", "minister of foreign affairs", date(2025, 1, 1))
    assert synonym is not None and synonym.record.person_id == "araghchi"
    assert kb.titled("Abbas Araghchi", "Defence Minister", date(2025, 1, 1)) is None  # wrong office
    assert kb.titled("Abbas Araghchi", "Foreign Minister", date(2024, 1, 1)) is None  # not yet in office
    assert kb.titled("", "Foreign Minister", date(2025, 1, 1)) is None
    # Two foreign ministers named Smith in 2022 (the Foreign Secretary is one by offices.tsv): no guess.
    assert kb.titled("Smith", "Foreign Minister", date(2022, 1, 1)) is None
    aus = kb.titled("Jane Smith", "Foreign Minister", date(2022, 1, 1), country="AUS")
    assert aus is not None and aus.record.person_id == "smith-aus"
    # Before the Australian term only the British one holds the office.
    gbr = kb.titled("Smith", "foreign secretary", date(2020, 6, 1))
    assert gbr is not None and gbr.record.person_id == "smith-gbr"
    defence = kb.titled("Smith", "defense minister", date(2022, 1, 1))
    assert defence is not None and defence.record.person_id == "smith-nzl"


# --- merging sources -------------------------------------------------------------------------------------


def test_second_source_merges_by_name_or_alias_within_a_country() -> None:
    kb = kb_of(
        rec("sergei-lavrov", "Sergei Lavrov", date(2004, 3, 9), aliases=("Sergey Lavrov", "Lavrov"), country="RUS"),
        # A second source: same person under another id, matched by an alias of the first.
        rec("wd-q1", "Sergey Lavrov", date(1994, 4, 1), date(2004, 3, 8), country="RUS", office="UN Envoy"),
        rec("wd-q1", "S. V. Lavrov", date(2030, 1, 1), country="RUS", office="Senator"),  # the id follows
        # The same name in another country is another person.
        rec("wd-q2", "Sergey Lavrov", date(2020, 1, 1), country="KAZ", office="Mayor"),
    )
    assert [r.person_id for r in kb.records] == ["sergei-lavrov", "sergei-lavrov", "sergei-lavrov", "wd-q2"]
    assert kb.persons() == 2
    assert kb.name_of("sergei-lavrov") == "Sergei Lavrov" and kb.name_of("wd-q1") is None
    forms = kb.aliases()["sergei-lavrov"]
    assert forms[0] == "Sergei Lavrov" and "S. V. Lavrov" in forms
    # In Russia "Lavrov" is one person across both sources; without a country, two persons are current.
    russian = kb.resolve("Sergey Lavrov", date(2022, 6, 1), country="RUS")
    assert russian is not None and russian.record.person_id == "sergei-lavrov"
    assert kb.resolve("Lavrov", date(2022, 6, 1)) is not None  # alias only the Russian row has
    assert kb.resolve("Sergey Lavrov", date(2022, 6, 1)) is None
    before = kb.resolve("Sergey Lavrov", date(2000, 1, 1), country="RUS")
    assert before is not None and (before.record.person_id, before.record.office) == ("sergei-lavrov", "UN Envoy")


def test_no_merge_when_names_differ_or_only_an_alias_of_the_newcomer_matches() -> None:
    kb = kb_of(
        rec("a", "Ahmed Ali", date(2010, 1, 1), country="EGY"),
        rec("b", "Ahmad Ali", date(2012, 1, 1), aliases=("Ahmed Ali",), country="EGY"),
    )
    assert [r.person_id for r in kb.records] == ["a", "b"]
    assert kb.resolve("Ahmed Ali", date(2013, 1, 1)) is None  # two persons under that name now


# --- the bundled snapshot --------------------------------------------------------------------------------

HEADS_OF_STATE_OR_GOVERNMENT = frozenset(["president", "prime minister", "king", "queen", "emir", "chancellor"])


def test_bundled_snapshot_size() -> None:
    kb = load_kb()
    assert len(kb) >= 2_000
    heads = read_records(BUNDLED_FOLDER / "heads.tsv")
    countries = {r.country for r in heads if r.office.casefold() in HEADS_OF_STATE_OR_GOVERNMENT}
    assert len(countries) >= 190
    assert all(r.end is None or r.start <= r.end for r in kb.records)


@pytest.mark.parametrize(
    ("name", "at", "person", "country", "office", "current"),
    [
        ("Lavrov", date(2022, 6, 1), "sergei-lavrov", "RUS", "Foreign Minister", True),
        ("Zarif", date(2023, 1, 1), "mohammad-javad-zarif", "IRN", "Foreign Minister", False),
        ("Blinken", date(2026, 6, 1), "antony-blinken", "USA", "Secretary of State", False),
        ("Erdogan", date(2024, 1, 1), "recep-tayyip-erdogan", "TUR", "President", True),
        ("Erdoğan", date(2024, 1, 1), "recep-tayyip-erdogan", "TUR", "President", True),
        ("Angela Merkel", date(2019, 1, 1), "angela-merkel", "DEU", "Chancellor", True),
        ("Hakan Fidan", date(2020, 1, 1), "hakan-fidan", "TUR", "Head of MIT", True),
        ("Hakan Fidan", date(2024, 1, 1), "hakan-fidan", "TUR", "Foreign Minister", True),
    ],
)
def test_bundled_spot_checks(name: str, at: date, person: str, country: str, office: str, current: bool) -> None:
    found = load_kb().resolve(name, at)
    assert found is not None
    record = found.record
    assert (record.person_id, record.country, record.office, found.current) == (person, country, office, current)
    assert record.sector is (Sector.SECURITY if office == "Head of MIT" else Sector.GOV)


def test_bundled_holders() -> None:
    kb = load_kb()
    secretary = kb.holder("USA", "foreign minister", date(2022, 6, 1))
    queen = kb.holder("GBR", "Queen", date(2020, 1, 1))
    assert secretary is not None and secretary.person_id == "antony-blinken"
    assert queen is not None and queen.person_id == "elizabeth-ii"


# --- Wikidata import -------------------------------------------------------------------------------------


def sample() -> Any:
    return orjson.loads(SAMPLE.read_bytes())


def binding(label: str, start: str = "2020-01-01T00:00:00Z", qid: int = 1, **more: str) -> dict[str, Any]:
    """One SPARQL result row, as the Wikidata query service writes it."""
    values = {"person": f"http://www.wikidata.org/entity/Q{qid}", "personLabel": f"Person {qid}"}
    values |= {"positionLabel": label, "countryCode": "NOR", "start": start, **more}
    return {name: {"type": "literal", "value": value} for name, value in values.items()}


def test_convert_sample() -> None:
    result = convert(sample())
    # Nine bindings: one exact duplicate (dropped, not counted), three skipped (no country code, no start,
    # no English label), five kept.
    assert result.skipped == 3
    assert [row[0][-1] for row in result.rows] == ["1", "1", "2", "3", "4"]  # wd-q9000000N
    assert "\t".join(result.rows[0]) == (
        "wd-q90000001\tOrla Quennell\tQuennell|O. Quennell\tISL\tForeign Minister\tGOV\t2019-05-30\t2021-11-28\t"
        "wikidata:Q90000001"
    )
    assert result.rows[1][4:8] == ["Prime Minister", "GOV", "2021-11-29", "-"]
    assert result.rows[2][2] == "-"  # no aliases
    assert result.rows[3][3] == "NOR"  # the country code upper-cased
    assert all(len(row) == len(COLUMNS) for row in result.rows)


@pytest.mark.parametrize(
    ("label", "office"),
    [
        ("Minister of Foreign Affairs of Norway", "Foreign Minister"),
        ("Minister of Defence", "Defence Minister"),
        ("Minister of the Interior of France", "Interior Minister"),
        ("Director of the Central Intelligence Agency", "Director of the Central Intelligence Agency"),
        ("President of Kenya", "President"),
    ],
)
def test_convert_minister_of_labels(label: str, office: str) -> None:
    assert convert({"results": {"bindings": [binding(label)]}}).rows[0][4] == office


def test_convert_offices_that_map_today() -> None:
    labels = ["Minister for Foreign Affairs of Ireland", "President of Turkey", "Prime Minister of the United Kingdom"]
    bindings = [binding(label, qid=i) for i, label in enumerate(labels, 1)]
    result = convert({"results": {"bindings": [*bindings, "not a binding"]}})
    assert [row[4] for row in result.rows] == ["Foreign Minister", "President", "Prime Minister"]
    assert result.skipped == 1


def test_convert_plus_signed_dates() -> None:
    row = binding("President", "+2019-05-30T00:00:00Z", end="+2021-11-28T00:00:00Z")
    assert convert({"results": {"bindings": [row]}}).rows[0][6:8] == ["2019-05-30", "2021-11-28"]


def test_import_file_writes_a_loadable_tsv(tmp_path: Path) -> None:
    target = tmp_path / "deeper" / "wikidata.tsv"
    result = import_file(SAMPLE, target)
    assert (len(result.rows), result.skipped) == (5, 3)
    records = read_records(target)
    assert len(records) == 5
    kb = KnowledgeBase(records)
    minister = kb.resolve("Quennell", date(2020, 6, 1))
    premier = kb.resolve("O. Quennell", date(2023, 1, 1))
    assert minister is not None and (minister.record.office, minister.record.country) == ("Foreign Minister", "ISL")
    assert premier is not None and (premier.record.office, premier.current) == ("Prime Minister", True)
    former = kb.resolve("Bertil Amundsgaard", date(2024, 1, 1))
    assert former is not None and (former.record.person_id, former.current) == ("wd-q90000002", False)
    assert kb.resolve("Nadia Startless", date(2024, 1, 1)) is None  # skipped: no start
    # Loaded after the bundled snapshot, the imported Lavrov row joins the bundled person.
    merged = load_kb((target,))
    lavrov = merged.resolve("Lavrov", date(2022, 6, 1))
    assert lavrov is not None and lavrov.record.person_id == "sergei-lavrov"
    assert {r.person_id for r in merged.candidates("Sergey Lavrov")} == {"sergei-lavrov"}
    assert merged.resolve("Quennell", date(2020, 6, 1)) is not None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"this is not json", "not JSON"),
        (b'{"head": {"vars": []}}', "no results.bindings"),
        (b'{"head": {}, "results": {}}', "no results.bindings"),
        (b"[1, 2]", "no results.bindings"),
        (b'{"results": {"bindings": {"a": 1}}}', "results.bindings is not a list"),
    ],
    ids=["not-json", "no-results", "no-bindings", "a-list", "bindings-not-a-list"],
)
def test_import_file_rejects_what_is_not_sparql_json(tmp_path: Path, content: bytes, problem: str) -> None:
    source = tmp_path / "results.json"
    source.write_bytes(content)
    target = tmp_path / "out.tsv"
    with pytest.raises(KnowledgeBaseError, match=problem):
        import_file(source, target)
    assert not target.exists()
    with pytest.raises(KnowledgeBaseError, match=r"missing\.json: cannot read"):
        import_file(tmp_path / "missing.json", target)

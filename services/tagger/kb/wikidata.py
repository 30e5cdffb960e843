"""`actorwatch kb import`: Wikidata SPARQL JSON results (position held, P39, with start P580 and end P582
qualifiers) into a knowledge-base TSV file.

Expected variables (see the README for the query): person, personLabel, positionLabel, countryCode (ISO
3166-1 alpha-3), start, end (optional), aliases (optional, "|"-separated). Rows without a country code or a
start date are skipped and counted, never guessed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from services.tagger.kb.store import COLUMNS, KnowledgeBaseError

_QID = re.compile(r"(Q\d+)$")
# Office labels as Wikidata words them -> the titles the bundled snapshot and the tagger use.
_OFFICES = {
    "minister of foreign affairs": "Foreign Minister",
    "minister for foreign affairs": "Foreign Minister",
    "foreign minister": "Foreign Minister",
    "minister of defence": "Defence Minister",
    "minister of defense": "Defence Minister",
    "defence minister": "Defence Minister",
    "minister of the interior": "Interior Minister",
    "minister of interior": "Interior Minister",
    "interior minister": "Interior Minister",
    "president": "President",
    "prime minister": "Prime Minister",
}


@dataclass(frozen=True, slots=True)
class ImportResult:
    rows: list[list[str]]
    skipped: int


def _value(binding: dict[str, Any], name: str) -> str:
    cell = binding.get(name)
    return str(cell.get("value", "")).strip() if isinstance(cell, dict) else ""


def _office(label: str) -> str:
    """ "Minister of Foreign Affairs of Iran" -> "Foreign Minister"; "President of Kenya" -> "President";
    only the last "of <place>" is the jurisdiction ("Director of the Central Intelligence Agency" stays)."""
    known = _OFFICES.get(label.casefold())
    if known is not None:
        return known
    head, of, tail = label.rpartition(" of ")
    tail = tail.removeprefix("the ")
    if of and head and tail[:1].isupper():
        known = _OFFICES.get(head.casefold())
        if known is not None:
            return known
        if " of " in head or (len(head.split()) >= 2 and head.split()[0] in ("President", "Prime", "King", "Queen")):
            return head[:1].upper() + head[1:]
    return label[:1].upper() + label[1:]


def _sector(office: str) -> str:
    low = office.casefold()
    if "intelligence" in low or "security service" in low:
        return "SECURITY"
    if ("chief of" in low and "staff" in low) or "commander" in low:
        return "MIL"
    return "GOV"


def convert(document: Any) -> ImportResult:
    """Rows for the TSV file from a parsed SPARQL JSON result."""
    try:
        bindings = document["results"]["bindings"]
    except (TypeError, KeyError):
        raise KnowledgeBaseError("not a SPARQL JSON result: no results.bindings") from None
    if not isinstance(bindings, list):
        raise KnowledgeBaseError("not a SPARQL JSON result: results.bindings is not a list")
    rows: list[list[str]] = []
    skipped = 0
    seen: set[tuple[str, ...]] = set()
    for binding in bindings:
        if not isinstance(binding, dict):
            skipped += 1
            continue
        qid = _QID.search(_value(binding, "person"))
        name = _value(binding, "personLabel")
        country = _value(binding, "countryCode").upper()
        start = _value(binding, "start").lstrip("+")[:10]
        end = _value(binding, "end").lstrip("+")[:10] or "-"
        label = _value(binding, "positionLabel")
        if qid is None or not name or not re.fullmatch(r"[A-Z]{3}", country) or not start or not label:
            skipped += 1
            continue
        if name == qid.group(1):  # no English label: Wikidata returns the id itself
            skipped += 1
            continue
        aliases = [a.strip() for a in _value(binding, "aliases").split("|") if a.strip() and "\t" not in a]
        office = _office(label)
        row = [
            f"wd-{qid.group(1).lower()}",
            name,
            "|".join(aliases) or "-",
            country,
            office,
            _sector(office),
            start,
            end,
            f"wikidata:{qid.group(1)}",
        ]
        key = tuple(row)
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return ImportResult(rows, skipped)


def write_tsv(rows: Iterable[list[str]], path: Path) -> None:
    lines = [
        "# Imported by `actorwatch kb import` from Wikidata SPARQL results (CC0).",
        "\t".join(COLUMNS),
        *("\t".join(cell.replace("\t", " ") for cell in row) for row in rows),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def import_file(source: Path, target: Path) -> ImportResult:
    try:
        document = orjson.loads(source.read_bytes())
    except OSError as exc:
        raise KnowledgeBaseError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise KnowledgeBaseError(f"{source}: not JSON: {exc}") from None
    result = convert(document)
    write_tsv(result.rows, target)
    return result

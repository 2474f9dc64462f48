"""Reading lists in the formats they are published in, into `ListedPerson`s.

- OFAC SDN CSV (`sdn.csv`): no header; columns ent_num, SDN_Name, SDN_Type, Program, Title,
  Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks; "-0-" means empty.
  Individuals only (customers are people); "LAST, First" names; birth dates, nationalities and
  "a.k.a." aliases are read from the remarks.
- FollowTheMoney JSON lines (OpenSanctions): one entity per line, `schema` Person, names from
  `name`, `alias`, `weakAlias`, `previousName`, first/middle/last names; `birthDate`,
  `nationality`/`citizenship`, `topics` ("sanction", "role.pep", ...).

Only the few properties screening needs are read, so plain `json` serves; the followthemoney
package's full schema model is not needed for that.
"""

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from rigour.territories.lookup import lookup_territory

from services.profile.screening import LIST_FORMATS
from services.profile.screening.matcher import ListedPerson

SDN_NULL = "-0-"
_DOB = re.compile(r"DOB ((?:\d{1,2} )?(?:[A-Z][a-z]{2} )?\d{4})")
_NATIONALITY = re.compile(r"(?:nationality|citizen) ([A-Z][A-Za-z .'-]+?)(?:;|\.|$)")
_AKA = re.compile(r"a\.k\.a\. '([^']+)'")


class ListFormatError(ValueError):
    """The file is not in the format it was announced as (line number included)."""


@dataclass
class ParsedList:
    people: list[ListedPerson]
    skipped: int  # records that are not people (entities, vessels, aircraft)


def _sdn_date(text: str) -> str | None:
    for pattern, width in (("%d %b %Y", 10), ("%b %Y", 7), ("%Y", 4)):
        try:
            return datetime.strptime(text, pattern).date().isoformat()[:width]
        except ValueError:
            continue
    return None


def _country(text: str) -> str | None:
    territory = lookup_territory(text.strip())
    return territory.code.split("-")[0] if territory else None


def _sdn_name(raw: str) -> list[str]:
    last, _, first = raw.partition(",")
    return [f"{first.strip()} {last.strip()}".strip(), raw.strip()] if first else [raw.strip()]


def parse_sdn_csv(content: bytes) -> ParsedList:
    people, skipped = [], 0
    text = content.decode("utf-8-sig", errors="replace")
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip():
            continue
        if len(row) < 12 or not row[0].strip().isdigit():
            raise ListFormatError(f"line {line}: not an SDN record (12 columns, ent_num first)")
        values = [None if v.strip() == SDN_NULL else v.strip() for v in row]
        if (values[2] or "").lower() != "individual":
            skipped += 1
            continue
        remarks = values[11] or ""
        names = _sdn_name(values[1] or "")
        for alias in _AKA.findall(remarks):
            names.extend(_sdn_name(alias))
        dates = tuple(d for d in (_sdn_date(m) for m in _DOB.findall(remarks)) if d)
        countries = tuple(c for c in (_country(m) for m in _NATIONALITY.findall(remarks)) if c)
        people.append(
            ListedPerson(
                entity_id=f"ofac-{values[0]}",
                names=tuple(dict.fromkeys(n for n in names if n)),
                birth_dates=dates,
                nationalities=tuple(dict.fromkeys(countries)),
                topics=("sanction",),
            )
        )
    return ParsedList(people, skipped)


_FTM_NAMES = ("name", "alias", "weakAlias", "previousName")
_TOPICS = {
    "sanction": "sanction",
    "sanction.linked": "sanction",
    "role.pep": "pep",
    "role.rca": "pep",
    "crime": "crime",
    "debarment": "debarment",
    "poi": "interest",
}


def _ftm_person(line: int, record: dict) -> ListedPerson | None:
    if not isinstance(record, dict) or "id" not in record or "schema" not in record:
        raise ListFormatError(f"line {line}: not a FollowTheMoney entity (id and schema required)")
    if record["schema"] != "Person":
        return None
    props = record.get("properties") or {}
    names = [n for key in _FTM_NAMES for n in props.get(key, [])]
    parts = [props.get(k, [""])[0] for k in ("firstName", "middleName", "lastName") if props.get(k)]
    if parts:
        names.append(" ".join(parts))
    countries = [c.lower().split("-")[0] for key in ("nationality", "citizenship") for c in props.get(key, [])]
    topics = tuple(dict.fromkeys(_TOPICS.get(t, t) for t in props.get("topics", [])))
    return ListedPerson(
        entity_id=str(record["id"]),
        names=tuple(dict.fromkeys(n for n in names if n.strip())),
        birth_dates=tuple(d[:10] for d in props.get("birthDate", [])),
        nationalities=tuple(dict.fromkeys(countries)),
        topics=topics,
    )


def parse_ftm(content: bytes) -> ParsedList:
    people, skipped = [], 0
    for line, raw in enumerate(content.decode("utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ListFormatError(f"line {line}: not JSON ({exc.msg})") from None
        person = _ftm_person(line, record)
        if person is None or not person.names:
            skipped += 1
        else:
            people.append(person)
    return ParsedList(people, skipped)


def parse(content: bytes, list_format: str) -> ParsedList:
    if list_format == "sdn-csv":
        return parse_sdn_csv(content)
    if list_format == "ftm":
        return parse_ftm(content)
    raise ListFormatError(f"unknown list format {list_format!r}; use one of {', '.join(LIST_FORMATS)}")


def ftm_lines(people: list[ListedPerson]) -> Iterator[str]:
    """People as FollowTheMoney JSON lines (tests and benchmarks write lists with it)."""
    for person in people:
        props = {
            "name": list(person.names[:1]),
            "alias": list(person.names[1:]),
            "birthDate": list(person.birth_dates),
            "nationality": list(person.nationalities),
            "topics": ["role.pep" if t == "pep" else t for t in person.topics],
        }
        yield json.dumps(
            {"id": person.entity_id, "schema": "Person", "properties": {k: v for k, v in props.items() if v}},
            ensure_ascii=False,
        )

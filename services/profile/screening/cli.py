"""`crm screening ...`: for list teams and tests.

    crm screening load --list FILE --format sdn-csv|ftm [--name NAME]
    crm screening match --names FILE --out FILE

`load` writes a new version of the list into the profile database (PROFILE_DATABASE_URL) and
makes it active; the profile service re-screens the whole book (job `rescreen-book`).
`match` screens a CSV of people (columns id,name and optional birth_date,nationality) against
the active lists and writes id,entity_id,score,decision for every row.
"""

import argparse
import asyncio
import csv
import hashlib
import sys
from datetime import date
from pathlib import Path

from services.profile.screening import LIST_FORMATS


def add_commands(commands) -> None:
    screening = commands.add_parser("screening", help="load sanctions/PEP lists; screen a file of names")
    sub = screening.add_subparsers(dest="screening_command", required=True)
    p = sub.add_parser("load", help="load a new version of a list (replaces the active one atomically)")
    p.add_argument("--list", dest="list_file", required=True, type=Path)
    p.add_argument("--format", dest="list_format", required=True, choices=LIST_FORMATS)
    p.add_argument("--name", default=None, help="list name (default: ofac-sdn, or the file name for ftm)")
    p = sub.add_parser("match", help="screen a CSV of names against the active lists")
    p.add_argument("--names", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)


def run(args: argparse.Namespace) -> int:
    try:
        if args.screening_command == "load":
            return load(args.list_file, args.list_format, args.name)
        return match(args.names, args.out)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # unreadable files, bad dates in --names
        print(f"crm screening {args.screening_command}: {exc}", file=sys.stderr)
        return 2


async def _with_sessions(work):
    from services.kit import crypto
    from services.kit.db import create_engine, session_factory
    from services.profile.settings import ProfileSettings

    settings = ProfileSettings()
    crypto.install(settings.keyring())
    engine = create_engine(settings.database_url)
    try:
        return await work(session_factory(engine), settings)
    finally:
        await engine.dispose()


def load(list_file: Path, list_format: str, name: str | None) -> int:
    from services.profile.screening.lists import store_version
    from services.profile.screening.loader import ListFormatError, parse

    content = list_file.read_bytes()
    try:
        parsed = parse(content, list_format)
    except ListFormatError as exc:
        print(f"{list_file}: {exc}", file=sys.stderr)
        return 2
    name = name or ("ofac-sdn" if list_format == "sdn-csv" else list_file.stem)
    source = f"{list_file.name} sha256:{hashlib.sha256(content).hexdigest()}"

    async def work(sessions, settings):
        async with sessions() as session, session.begin():
            return await store_version(session, parsed, name=name, source=source, list_format=list_format)

    stored = asyncio.run(_with_sessions(work))
    print(
        f"{name} version {stored.version}: {stored.entries} people loaded ({parsed.skipped} other records skipped); "
        "active; the book will be re-screened"
    )
    return 0


def match(names: Path, out: Path) -> int:
    from services.profile.screening.lists import ACTIVE
    from services.profile.screening.matcher import Thresholds

    with names.open(newline="", encoding="utf-8-sig") as source:
        rows = list(csv.DictReader(source))
    if rows and not {"id", "name"} <= set(rows[0]):
        print(f"{names}: columns id,name are required (optional: birth_date, nationality)", file=sys.stderr)
        return 2

    async def work(sessions, settings):
        async with sessions() as session:
            return await ACTIVE.current(session), settings

    active, settings = asyncio.run(_with_sessions(work))
    thresholds = Thresholds(match=settings.screening_match_threshold, review=settings.screening_review_threshold)
    counts = {"match": 0, "review": 0, "clear": 0}
    with out.open("w", newline="", encoding="utf-8") as target:
        writer = csv.writer(target)
        writer.writerow(["id", "entity_id", "score", "decision"])
        for row in rows:
            born = date.fromisoformat(row["birth_date"]) if row.get("birth_date") else None
            best = max(
                (
                    c
                    for a in active
                    for c in a.index.search(
                        row["name"], birth_date=born, nationality=row.get("nationality") or None, limit=1
                    )
                ),
                key=lambda c: c.score,
                default=None,
            )
            decision = thresholds.decision(best.score) if best else "clear"
            counts[decision] += 1
            # An entity only where something came close (review or match).
            entity_id = best.entity_id if best is not None and decision != "clear" else ""
            writer.writerow([row["id"], entity_id, f"{best.score:.3f}" if best else "0.000", decision])
    print(
        f"{len(rows)} rows screened against {len(active)} list(s): " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return 0

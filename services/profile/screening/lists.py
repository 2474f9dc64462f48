"""List versions in the database, and the in-process index of the active ones.

A new version is written with its entries and made active in one transaction (the old one
deactivated in the same transaction), and a re-screening run of the whole book is queued with it.
Each process keeps an index of the active versions and rebuilds it when they change.
"""

import asyncio
import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.profile.screening.loader import ParsedList
from services.profile.screening.matcher import ListedPerson, ListIndex
from services.profile.screening.models import ScreeningEntry, ScreeningList, ScreeningRun


def entry_fingerprint(person: ListedPerson) -> str:
    content = json.dumps([sorted(person.names), sorted(person.birth_dates), sorted(person.nationalities)])
    return hashlib.sha256(content.encode()).hexdigest()


async def store_version(
    session: AsyncSession, parsed: ParsedList, *, name: str, source: str, list_format: str
) -> ScreeningList:
    """Write a new version of list `name` and make it the active one; queue a book re-screening."""
    # One loader at a time per list: the row lock on the active version (or, for a list's first
    # version, the unique (name, version) constraint) serialises concurrent loads.
    await session.execute(sa.select(ScreeningList.id).where(ScreeningList.name == name).with_for_update())
    version = (
        await session.scalar(sa.select(sa.func.max(ScreeningList.version)).where(ScreeningList.name == name)) or 0
    ) + 1
    stored = ScreeningList(
        name=name,
        version=version,
        source=source,
        list_format=list_format,
        entries=len(parsed.people),
        active=False,
        loaded_at=now(),
    )
    session.add(stored)
    await session.flush()
    rows = [
        {
            "list_id": stored.id,
            "entity_id": p.entity_id,
            "names": list(p.names),
            "birth_dates": list(p.birth_dates),
            "nationalities": list(p.nationalities),
            "topics": list(p.topics),
            "fingerprint": entry_fingerprint(p),
        }
        for p in {p.entity_id: p for p in parsed.people}.values()
    ]
    for start in range(0, len(rows), 5000):
        await session.execute(sa.insert(ScreeningEntry), rows[start : start + 5000])
    await session.execute(
        sa.update(ScreeningList).where(ScreeningList.name == name, ScreeningList.id != stored.id).values(active=False)
    )
    stored.active = True
    session.add(ScreeningRun(list_id=stored.id, status="pending", screened=0, created_at=now()))
    await session.flush()
    return stored


@dataclass
class ActiveList:
    id: int
    name: str
    version: int
    index: ListIndex
    fingerprints: dict[str, str]


class ActiveLists:
    """The active list versions of this process, indexed; rebuilt when a version changes."""

    def __init__(self) -> None:
        self._lists: dict[int, ActiveList] = {}
        self._lock = asyncio.Lock()

    async def current(self, session: AsyncSession) -> list[ActiveList]:
        active = (
            await session.execute(
                sa.select(ScreeningList.id, ScreeningList.name, ScreeningList.version).where(ScreeningList.active)
            )
        ).all()
        wanted = {row.id: row for row in active}
        if set(wanted) != set(self._lists):
            async with self._lock:
                for list_id in set(self._lists) - set(wanted):
                    del self._lists[list_id]
                for list_id in set(wanted) - set(self._lists):
                    self._lists[list_id] = await _build(session, wanted[list_id])
        return [self._lists[i] for i in sorted(self._lists)]


async def _build(session: AsyncSession, row) -> ActiveList:
    result = await session.execute(
        sa.select(
            ScreeningEntry.entity_id,
            ScreeningEntry.names,
            ScreeningEntry.birth_dates,
            ScreeningEntry.nationalities,
            ScreeningEntry.topics,
            ScreeningEntry.fingerprint,
        )
        .where(ScreeningEntry.list_id == row.id)
        .order_by(ScreeningEntry.id)
    )
    people, fingerprints = [], {}
    for entry in result:
        people.append(
            ListedPerson(
                entry.entity_id,
                tuple(entry.names),
                tuple(entry.birth_dates),
                tuple(entry.nationalities),
                tuple(entry.topics),
            )
        )
        fingerprints[entry.entity_id] = entry.fingerprint
    # Building takes seconds for a large list; a thread keeps the event loop answering meanwhile.
    index = await asyncio.to_thread(ListIndex.build, people)
    return ActiveList(row.id, row.name, row.version, index, fingerprints)


# One per process (like the key ring): every request and job of the profile service shares it.
ACTIVE = ActiveLists()

"""Bulk import of customers from CSV or JSON Lines (the bank's core system or a migration).

All or nothing: every row is checked first and every bad row is reported with its line number
and the reason; a file with any bad row writes nothing. Idempotent by the bank's external
reference: rows whose `external_ref` is already known are skipped, so a re-run of the same file
creates nothing new. The whole import commits in one transaction, events and audit included.
The file is read as a stream (spooled to disk past 1 MiB) and written in chunks, so memory stays
flat in the file size. Its events and audit records are held back from the outbox and the audit
log until the import is whole (services/kit/db.py, HeldBack): the relay's and the sealer's scans
do not walk them while it runs. On PostgreSQL it adds its customers to the customer book in one
statement at the end (services/profile/book.py), so other changes of customers do not queue
behind the import for the book's rows.
"""

import asyncio
import contextlib
import csv
import dataclasses
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import CustomerCreatedV1
from services.kit import crypto
from services.kit.clock import now
from services.kit.db import BoundRows, HeldBack, one_of, write_bound
from services.kit.identity import Actor
from services.kit.problems import Problem
from services.profile import book
from services.profile.models import Customer, StageChange, TierChange, audit, outbox
from services.profile.schemas import CustomerCreate, ExternalRef
from services.profile.screening.models import ScreeningRun
from services.profile.service import age_band
from services.profile.settings import ProfileSettings
from services.profile.tiers import tier_for

MAX_REPORTED_ERRORS = 1000
CHUNK = 1000  # rows per write (COPY on PostgreSQL) and per look-up of known customers
PAUSE_EVERY = 100  # rows checked between chances for the writer to go on (a few ms)


class CustomerImportRow(CustomerCreate):
    external_ref: ExternalRef  # required: the key that makes a re-run harmless


_Checked = tuple[int, CustomerImportRow, str]  # line, row, its national ID's blind index


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    skipped_existing: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0

    def fail(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "reason": reason})


class ImportRejected(Problem):
    status = 422
    title = "Import rejected"


class ImportConflict(Problem):
    status = 409
    title = "Import conflict"


def parse(stream: TextIO, media_type: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, row or None, reason when the line cannot be read), one row at a time from a
    text stream, so the file is never held whole."""
    try:
        if "csv" in media_type:
            reader = csv.DictReader(stream)
            for row in reader:
                if None in row:
                    yield reader.line_num, None, "more values than header columns"
                    continue
                # Empty cells are absent values, so optional fields take their defaults.
                yield reader.line_num, {k: v for k, v in row.items() if k and v not in ("", None)}, None
            return
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                yield number, None, "not valid JSON"
                continue
            yield (number, value, None) if isinstance(value, dict) else (number, None, "not a JSON object")
    except UnicodeDecodeError:
        raise ImportRejected("The file is not UTF-8 text.") from None


def _compact(value: str) -> bytes:
    """An 8-byte key for duplicate checks: a file of n rows keeps 2n of these, not its rows.
    (Two different values share a key with probability about n²/2⁶⁵: 3 in 10⁸ at a million rows.)"""
    return hashlib.blake2b(value.encode(), digest_size=8).digest()


def _reason(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'row'}: "
        + ("not a declared field" if e["type"] == "extra_forbidden" else e["msg"])
        for e in error.errors(include_input=False)
    )


def _checked_rows(stream: TextIO, media_type: str, report: ImportReport) -> Iterator[_Checked]:
    """The file's valid rows (line, row, its national ID's blind index); bad rows and rows
    repeating an earlier one in the file are reported instead."""
    keys = crypto.keyring()
    seen_refs: dict[bytes, int] = {}
    seen_ids: dict[bytes, int] = {}
    for line, row, unreadable in parse(stream, media_type):
        report.rows += 1
        if unreadable:
            report.fail(line, unreadable)
            continue
        try:
            customer = CustomerImportRow.model_validate(row)
        except ValidationError as error:
            report.fail(line, _reason(error))
            continue
        index = keys.blind_index(customer.national_id, field="national_id")
        ref_key, id_key = _compact(customer.external_ref), _compact(index)
        if ref_key in seen_refs:
            report.fail(line, f"external_ref repeats line {seen_refs[ref_key]}")
            continue
        if id_key in seen_ids:
            report.fail(line, f"national_id repeats line {seen_ids[id_key]}")
            continue
        seen_refs[ref_key] = line
        seen_ids[id_key] = line
        yield line, customer, index


async def import_customers(
    session: AsyncSession, stream: TextIO, media_type: str, actor: Actor, settings: ProfileSettings
) -> ImportReport:
    """Reads, checks and writes the file in chunks of CHUNK rows inside the caller's transaction;
    once a row fails, checking goes on (to report every bad line) but writing stops, and the
    ImportRejected raised at the end rolls back what was written. Memory stays flat in the file
    size but for two compact keys per row (duplicate checks) and two chunks in flight.

    Reading, checking and binding the file runs beside the writing: each checked chunk is bound
    for its tables (field encryption, blind indexes, events, audit rows: most of the import's
    CPU), then written by a task of its own, started once the one before has finished (so the
    session has one user at a time). The database works on one chunk while the next is read,
    checked and bound, and the writing task itself only sends statements."""
    report = ImportReport()
    moment = now()
    dialect = session.get_bind().dialect
    deferred = await book.defer(session)
    held = _Held(events=outbox.held_back(), records=audit.held_back())
    writing: asyncio.Task | None = None  # the one chunk being written, if any

    async def write(rows: list[_Checked]) -> asyncio.Task:
        # Bound here, while the database writes the chunk before (skipped once the import is doomed).
        tables = None if report.error_count else await _bound(rows, dialect, moment, actor, settings)
        if writing is not None:
            await writing  # in file order, one at a time; raises what the last write raised
        return asyncio.create_task(_check_and_write(session, rows, tables, report, held))

    try:
        chunk: list[_Checked] = []
        for checked, item in enumerate(_checked_rows(stream, media_type, report), start=1):
            chunk.append(item)
            if len(chunk) >= CHUNK:
                writing, chunk = await write(chunk), []
            if checked % PAUSE_EVERY == 0:
                await asyncio.sleep(0)  # lets the write in progress send its next statement
                if writing is not None and writing.done():
                    writing.result()  # a failed write ends the import now
        writing = await write(chunk)
        await writing
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
    report.errors.sort(key=lambda e: e["line"])  # checking and writing each report in line order
    if report.rows == 0:
        raise ImportRejected("The file holds no rows.")
    if report.error_count:
        raise ImportRejected(
            f"{report.error_count} of {report.rows} rows cannot be imported; nothing was written. "
            "Fix the listed lines and send the whole file again.",
            errors=report.errors,
            error_count=report.error_count,
        )
    await held.events.release(session)
    await held.records.release(session)
    if report.created:  # screened by the `rescreen-book` job (as the whole book, in batches)
        session.add(ScreeningRun(list_id=None, status="pending", screened=0, created_at=moment))
    if deferred:  # last: other changes of customers wait for the book's rows from here to the commit
        await book.catch_up(session, moment)
    return report


@dataclass
class _Held:
    """The import's events and audit records, out of the outbox and the audit log (whose
    background scans would walk them at every look) until the import is whole."""

    events: HeldBack
    records: HeldBack


@dataclass
class _Tables:
    """A chunk's rows for each table they go to, bound ahead of their write (one per customer in
    each, in the chunk's order)."""

    customers: BoundRows
    stages: BoundRows
    tiers: BoundRows
    events: BoundRows
    records: BoundRows

    def only(self, keep: list[bool]) -> "_Tables":
        return _Tables(*(getattr(self, f.name).only(keep) for f in dataclasses.fields(self)))


async def _bound(chunk: list[_Checked], dialect: Dialect, moment, actor: Actor, settings: ProfileSettings) -> _Tables:
    """Every row of the chunk as a new customer, bound for its tables; the write drops the rows
    of customers already known. Lets other tasks go on between tables (a few ms each)."""
    keys = crypto.keyring()
    policy, today = settings.tier_policy(), moment.date()
    assigned = actor.id if actor.role in settings.assigned_only_roles else None
    customers, stages, tiers, events = [], [], [], []
    for _, row, index in chunk:
        fields = row.model_dump()
        if assigned is not None:
            fields["relationship_manager_id"] = assigned
        customer_id = str(uuid.uuid4())
        # Imported customers count as active now (last_activity_at), as one created by hand does.
        tier = tier_for(
            fields["assets_under_management"], fields["product_holdings"], moment, policy=policy, moment=moment
        ).value
        customers.append(
            {
                **fields,
                "id": customer_id,
                "version": 1,
                "created_at": moment,
                "updated_at": moment,
                "last_activity_at": moment,
                "national_id_index": index,
                "phone_index": keys.blind_index(row.phone, field="phone"),
                "key_id": keys.active_key_id,
                "tier": tier,
            }
        )
        stages.append(
            {
                "customer_id": customer_id,
                "from_stage": None,
                "to_stage": fields["lifecycle_stage"],
                "at": moment,
                "actor": actor.id,
                "reason": "imported",
            }
        )
        tiers.append({"customer_id": customer_id, "from_tier": None, "to_tier": tier, "at": moment})
        events.append(
            (
                "customer.created",
                CustomerCreatedV1(
                    customer_id=customer_id,
                    assets_under_management=row.assets_under_management,
                    relationship_manager_id=fields.get("relationship_manager_id"),
                    tier=tier,
                    age_band=age_band(row.birth_date, today),
                ),
            )
        )
    bound_customers = BoundRows.of(dialect, Customer.__table__, customers)
    await asyncio.sleep(0)
    bound_stages = BoundRows.of(dialect, StageChange.__table__, stages)
    bound_tiers = BoundRows.of(dialect, TierChange.__table__, tiers)
    await asyncio.sleep(0)
    bound_events = BoundRows.of(dialect, outbox.table, outbox.rows_for(events))
    await asyncio.sleep(0)
    records = audit.rows_for(
        actor=actor.id,
        role=actor.role,
        action="import",
        customer_ids=[c["id"] for c in customers],
        fields=sorted(CustomerImportRow.model_fields),
        reason=actor.reason,
    )
    return _Tables(
        bound_customers, bound_stages, bound_tiers, bound_events, BoundRows.of(dialect, audit.table, records)
    )


async def _check_and_write(
    session: AsyncSession, chunk: list[_Checked], tables: _Tables | None, report: ImportReport, held: _Held
) -> None:
    """Rows already known by external_ref are skipped; a national ID held by another customer
    is an error; the rest are written (with their history, events and audit rows) unless an
    error has already doomed the import (`tables` is None once it was doomed before binding)."""
    if not chunk:
        return
    # While the blind-index key is rotated, a customer not yet re-indexed holds the national ID's
    # hash under the previous key: those are asked for too (none outside a rotation).
    keys = crypto.keyring()
    previous = [keys.previous_blind_indexes(row.national_id, field="national_id") for _, row, _ in chunk]
    existing_refs, taken = await _known(
        session,
        [c.external_ref for _, c, _ in chunk],
        [i for _, _, i in chunk] + [p for hashes in previous for p in hashes],
    )
    keep = [row.external_ref not in existing_refs for _, row, _ in chunk]
    report.skipped_existing += keep.count(False)
    for (line, _, index), earlier, kept in zip(chunk, previous, keep, strict=True):
        if kept and (index in taken or taken.intersection(earlier)):
            report.fail(line, "a customer with this national_id already exists under another external_ref")
    if report.error_count or tables is None or not any(keep):
        return
    if not all(keep):
        tables = tables.only(keep)
    try:
        await write_bound(session, tables.customers)
    except sa.exc.IntegrityError:
        # Checked above, so another transaction took one of these external references or
        # national IDs in the meantime (a concurrent import of the same customers).
        raise ImportConflict(
            "Some of these customers were created by another request during the import; nothing was "
            "written. Send the file again: customers already known by external_ref are then skipped."
        ) from None
    await write_bound(session, tables.stages)
    await write_bound(session, tables.tiers)
    await held.events.add_bound(session, tables.events)
    await held.records.add_bound(session, tables.records)
    report.created += len(tables.customers.rows)


async def _known(session: AsyncSession, refs: list[str], indexes: list[str]) -> tuple[set[str], set[str]]:
    """Which of these external references, and which of these national ID blind indexes, some
    customer already holds: one look-up (one round trip) for both."""
    dialect = session.get_bind().dialect.name
    found = await session.execute(
        sa.select(Customer.external_ref, Customer.national_id_index).where(
            one_of(dialect, Customer.external_ref, refs) | one_of(dialect, Customer.national_id_index, indexes)
        )
    )
    wanted_refs, wanted_indexes = set(refs), set(indexes)
    known_refs: set[str] = set()
    known_indexes: set[str] = set()
    for ref, index in found:
        if ref in wanted_refs:
            known_refs.add(ref)
        if index in wanted_indexes:
            known_indexes.add(index)
    return known_refs, known_indexes

"""Bulk import of customers from CSV or JSON Lines (the bank's core system or a migration).

All or nothing: every row is checked first and every bad row is reported with its line number
and the reason; a file with any bad row writes nothing. Idempotent by the bank's external
reference: rows whose `external_ref` is already known are skipped, so a re-run of the same file
creates nothing new. The whole import commits in one transaction, events and audit included.
The file is read as a stream (spooled to disk past 1 MiB) and written in chunks, so memory stays
flat in the file size.
"""

import csv
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import CustomerCreatedV1
from services.kit import crypto
from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.problems import Problem
from services.profile.models import Customer, StageChange, TierChange, audit, outbox
from services.profile.schemas import CustomerCreate, ExternalRef
from services.profile.screening.models import ScreeningRun
from services.profile.service import _tier, age_band
from services.profile.settings import ProfileSettings

MAX_REPORTED_ERRORS = 1000
CHUNK = 1000  # rows per INSERT round trip


class CustomerImportRow(CustomerCreate):
    external_ref: ExternalRef  # required: the key that makes a re-run harmless


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


async def import_customers(
    session: AsyncSession, stream: TextIO, media_type: str, actor: Actor, settings: ProfileSettings
) -> ImportReport:
    """Reads, checks and writes the file in chunks of CHUNK rows inside the caller's transaction;
    once a row fails, checking goes on (to report every bad line) but writing stops, and the
    ImportRejected raised at the end rolls back what was written. Memory stays flat in the file
    size but for two compact keys per row (duplicate checks)."""
    report = ImportReport()
    keys = crypto.keyring()
    seen_refs: dict[bytes, int] = {}
    seen_ids: dict[bytes, int] = {}
    chunk: list[tuple[int, CustomerImportRow, str]] = []
    moment = now()
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
        chunk.append((line, customer, index))
        if len(chunk) >= CHUNK:
            await _check_and_write(session, chunk, report, moment, actor, settings)
            chunk = []
    await _check_and_write(session, chunk, report, moment, actor, settings)
    if report.rows == 0:
        raise ImportRejected("The file holds no rows.")
    if report.error_count:
        raise ImportRejected(
            f"{report.error_count} of {report.rows} rows cannot be imported; nothing was written. "
            "Fix the listed lines and send the whole file again.",
            errors=report.errors,
            error_count=report.error_count,
        )
    if report.created:  # screened by the `rescreen-book` job (as the whole book, in batches)
        session.add(ScreeningRun(list_id=None, status="pending", screened=0, created_at=moment))
    return report


async def _check_and_write(
    session: AsyncSession,
    chunk: list[tuple[int, CustomerImportRow, str]],
    report: ImportReport,
    moment,
    actor: Actor,
    settings: ProfileSettings,
) -> None:
    """Rows already known by external_ref are skipped; a national ID held by another customer
    is an error; the rest are written (with their history, events and audit rows) unless an
    error has already doomed the import."""
    if not chunk:
        return
    keys = crypto.keyring()
    existing_refs = await _existing(session, Customer.external_ref, [c.external_ref for _, c, _ in chunk])
    fresh = [(line, c, index) for line, c, index in chunk if c.external_ref not in existing_refs]
    report.skipped_existing += len(chunk) - len(fresh)
    taken = await _existing(session, Customer.national_id_index, [index for _, _, index in fresh])
    for line, _, index in fresh:
        if index in taken:
            report.fail(line, "a customer with this national_id already exists under another external_ref")
    if report.error_count or not fresh:
        return
    customers, stages, tiers, events = [], [], [], []
    for _, row, index in fresh:
        fields = row.model_dump()
        if actor.role in settings.assigned_only_roles:
            fields["relationship_manager_id"] = actor.id
        customer_id = str(uuid.uuid4())
        tier = _tier(fields["assets_under_management"], fields["product_holdings"], moment, settings)
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
                    age_band=age_band(row.birth_date),
                ),
            )
        )
    await session.execute(sa.insert(Customer), customers)
    await session.execute(sa.insert(StageChange), stages)
    await session.execute(sa.insert(TierChange), tiers)
    await outbox.emit_many(session, events)
    await audit.record_many(
        session,
        actor=actor.id,
        role=actor.role,
        action="import",
        customer_ids=[c["id"] for c in customers],
        fields=sorted(CustomerImportRow.model_fields),
        reason=actor.reason,
    )
    report.created += len(customers)


async def _existing(session: AsyncSession, column, values: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        if chunk:
            found.update(await session.scalars(sa.select(column).where(column.in_(chunk))))
    return found

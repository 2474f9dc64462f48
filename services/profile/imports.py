"""Bulk import of customers from CSV or JSON Lines (the bank's core system or a migration).

All or nothing: every row is checked first and every bad row is reported with its line number
and the reason; a file with any bad row writes nothing. Idempotent by the bank's external
reference: rows whose `external_ref` is already known are skipped, so a re-run of the same file
creates nothing new. The whole import commits in one transaction, events and audit included.
"""

import csv
import io
import json
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from events.contracts import CustomerCreatedV1
from services.kit.clock import now
from services.kit import crypto
from services.kit.identity import Actor
from services.kit.problems import Problem
from services.profile.models import Customer, StageChange, TierChange, audit, outbox
from services.profile.schemas import CustomerCreate, ExternalRef
from services.profile.service import _tier
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


def parse(content: bytes, media_type: str) -> list[tuple[int, dict | None, str | None]]:
    """(line number, row or None, reason when the line cannot be read)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRejected("The file is not UTF-8 text.") from None
    if "csv" in media_type:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = []
        for row in reader:
            if None in row:
                rows.append((reader.line_num, None, "more values than header columns"))
                continue
            # Empty cells are absent values, so optional fields take their defaults.
            rows.append((reader.line_num, {k: v for k, v in row.items() if k and v not in ("", None)}, None))
        return rows
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            rows.append((number, None, "not valid JSON"))
            continue
        rows.append((number, value, None) if isinstance(value, dict) else (number, None, "not a JSON object"))
    return rows


def _reason(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'row'}: "
        + ("not a declared field" if e["type"] == "extra_forbidden" else e["msg"])
        for e in error.errors(include_input=False)
    )


async def import_customers(
    session: AsyncSession, content: bytes, media_type: str, actor: Actor, settings: ProfileSettings
) -> ImportReport:
    report = ImportReport()
    keys = crypto.keyring()
    valid: list[tuple[int, CustomerImportRow, str]] = []
    seen_refs: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for line, row, unreadable in parse(content, media_type):
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
        if customer.external_ref in seen_refs:
            report.fail(line, f"external_ref repeats line {seen_refs[customer.external_ref]}")
            continue
        if index in seen_ids:
            report.fail(line, f"national_id repeats line {seen_ids[index]}")
            continue
        seen_refs[customer.external_ref] = line
        seen_ids[index] = line
        valid.append((line, customer, index))
    if report.rows == 0:
        raise ImportRejected("The file holds no rows.")

    existing_refs = await _existing(session, Customer.external_ref, [c.external_ref for _, c, _ in valid])
    fresh = [(line, c, index) for line, c, index in valid if c.external_ref not in existing_refs]
    report.skipped_existing = len(valid) - len(fresh)
    taken = await _existing(session, Customer.national_id_index, [index for _, _, index in fresh])
    for line, _, index in fresh:
        if index in taken:
            report.fail(line, "a customer with this national_id already exists under another external_ref")
    if report.error_count:
        raise ImportRejected(
            f"{report.error_count} of {report.rows} rows cannot be imported; nothing was written. "
            "Fix the listed lines and send the whole file again.",
            errors=report.errors,
            error_count=report.error_count,
        )

    moment = now()
    customers, stages, tiers, events = [], [], [], []
    for _, row, index in fresh:
        fields = row.model_dump()
        if actor.role in settings.assigned_only_roles:
            fields["relationship_manager_id"] = actor.id
        customer_id = str(uuid.uuid4())
        tier = _tier(fields["assets_under_management"], fields["product_holdings"], settings)
        customers.append({
            **fields, "id": customer_id, "version": 1, "created_at": moment, "updated_at": moment,
            "national_id_index": index, "phone_index": keys.blind_index(row.phone, field="phone"),
            "key_id": keys.active_key_id, "tier": tier,
        })
        stages.append({"customer_id": customer_id, "from_stage": None, "to_stage": fields["lifecycle_stage"],
                       "at": moment, "actor": actor.id, "reason": "imported"})
        tiers.append({"customer_id": customer_id, "from_tier": None, "to_tier": tier, "at": moment})
        events.append(("customer.created", CustomerCreatedV1(
            customer_id=customer_id, risk_level=row.risk_level, assets_under_management=row.assets_under_management,
            relationship_manager_id=fields.get("relationship_manager_id"),
        )))
    for start in range(0, len(customers), CHUNK):
        await session.execute(sa.insert(Customer), customers[start:start + CHUNK])
        await session.execute(sa.insert(StageChange), stages[start:start + CHUNK])
        await session.execute(sa.insert(TierChange), tiers[start:start + CHUNK])
        await outbox.emit_many(session, events[start:start + CHUNK])
        await audit.record_many(session, actor=actor.id, role=actor.role, action="import",
                                customer_ids=[c["id"] for c in customers[start:start + CHUNK]],
                                fields=sorted(CustomerImportRow.model_fields), reason=actor.reason)
    report.created = len(customers)
    return report


async def _existing(session: AsyncSession, column, values: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(values), CHUNK):
        chunk = values[start:start + CHUNK]
        if chunk:
            found.update(await session.scalars(sa.select(column).where(column.in_(chunk))))
    return found

"""Bulk import in process on PostgreSQL, at a size that takes the COPY path (services.kit.db.
insert_many): what one imported customer implies is all written, encrypted at rest, once."""

import asyncio
import csv
import io
import uuid

import sqlalchemy as sa

from services.kit.db import COPY_MIN_ROWS
from services.profile.models import Customer, StageChange, TierChange, audit, outbox_table
from tests.support import new_customer

# Bulk import is for admins (the access policy: it reports references already on the whole book).
IMPORTER = ("admin", "admin-import")
ROWS = COPY_MIN_ROWS + 50


def csv_file(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def customers(n: int) -> list[dict]:
    batch = uuid.uuid4().hex[:8]
    return [new_customer(external_ref=f"IMP-{batch}-{i:05d}", name=f"Import Person {i}") for i in range(n)]


async def post(profile, content: bytes):
    async with profile.client(*IMPORTER) as http:
        return await http.post("/api/v1/customers/imports", content=content, headers={"content-type": "text/csv"})


async def test_a_bulk_import_writes_each_customer_with_history_event_and_audit_once(service):
    profile = await service("profile")
    rows = customers(ROWS)
    first = await post(profile, csv_file(rows))
    assert first.status_code == 200, first.text
    assert first.json() == {"rows": ROWS, "created": ROWS, "skipped_existing": 0}

    refs = [r["external_ref"] for r in rows]
    async with profile.sessions() as session:
        stored = (await session.execute(sa.select(Customer).where(Customer.external_ref.in_(refs)))).scalars().all()
        ids = [c.id for c in stored]
        raw = (
            await session.execute(
                sa.text("SELECT national_id, phone, name FROM customers WHERE id = :id"), {"id": ids[0]}
            )
        ).one()
        stages = (
            await session.execute(sa.select(StageChange.customer_id).where(StageChange.customer_id.in_(ids)))
        ).all()
        tiers = (await session.execute(sa.select(TierChange.customer_id).where(TierChange.customer_id.in_(ids)))).all()
        audited = (
            await session.execute(
                sa.select(audit.table.c.customer_id).where(
                    audit.table.c.customer_id.in_(ids), audit.table.c.action == "import"
                )
            )
        ).all()
        outbox_rows = (
            await session.execute(sa.select(outbox_table.c.aggregateid).where(outbox_table.c.aggregateid.in_(ids)))
        ).all()
    by_ref = {c.external_ref: c for c in stored}
    assert len(stored) == ROWS
    for row in rows:  # read back through the columns' decryption, field for field
        customer = by_ref[row["external_ref"]]
        assert (customer.national_id, customer.phone, customer.name) == (row["national_id"], row["phone"], row["name"])
        assert customer.relationship_manager_id == row.get("relationship_manager_id") and customer.version == 1
    # At rest the personal fields are sealed, never the plain value.
    assert all(value.startswith(f"{stored[0].key_id}:") for value in raw)
    assert rows[0]["national_id"] not in "".join(raw)
    for found in (stages, tiers, audited, outbox_rows):
        assert sorted(r[0] for r in found) == sorted(ids)
    events = await profile.published("customer.created")
    assert {e.customer_id for e in events} >= set(ids)
    assert {e.payload["tier"] for e in events if e.customer_id == ids[0]} == {by_ref[stored[0].external_ref].tier}

    # Found by the blind index, as a customer created one by one is.
    async with profile.client("admin", "admin-1") as http:
        found = await http.post("/api/v1/customers/search", json={"national_id": rows[7]["national_id"]})
    assert [c["external_ref"] for c in found.json()] == [rows[7]["external_ref"]]

    again = await post(profile, csv_file(rows))
    assert again.json() == {"rows": ROWS, "created": 0, "skipped_existing": ROWS}
    assert len(await profile.published("customer.created")) == len(events)


async def test_a_file_partly_imported_before_writes_only_its_new_customers_each_with_its_own_rows(service):
    """The rows of a chunk are bound for every table before the known ones are dropped
    (services.kit.db.BoundRows.only): what is written for each new customer is still its own."""
    profile = await service("profile")
    rows = customers(ROWS)
    earlier = await post(profile, csv_file(rows[::2]))
    assert earlier.status_code == 200, earlier.text
    answer = await post(profile, csv_file(rows))
    assert answer.json() == {"rows": ROWS, "created": ROWS - len(rows[::2]), "skipped_existing": len(rows[::2])}

    async with profile.sessions() as session:
        stored = (
            (
                await session.execute(
                    sa.select(Customer).where(Customer.external_ref.in_([r["external_ref"] for r in rows]))
                )
            )
            .scalars()
            .all()
        )
        new_ids = {c.id for c in stored if c.external_ref in {r["external_ref"] for r in rows[1::2]}}
        written = {
            name: (await session.execute(sa.select(column).where(column.in_(new_ids | {c.id for c in stored})))).all()
            for name, column in (
                ("stages", StageChange.customer_id),
                ("tiers", TierChange.customer_id),
                ("outbox", outbox_table.c.aggregateid),
            )
        }
        audited = (
            await session.execute(
                sa.select(audit.table.c.customer_id).where(
                    audit.table.c.customer_id.in_(new_ids), audit.table.c.action == "import"
                )
            )
        ).all()
    by_ref = {c.external_ref: c for c in stored}
    assert len(stored) == ROWS and len(new_ids) == ROWS - len(rows[::2])
    for row in rows:  # each customer's sealed fields are its own row's, not a neighbour's
        assert (by_ref[row["external_ref"]].national_id, by_ref[row["external_ref"]].name) == (
            row["national_id"],
            row["name"],
        )
    # One of each per customer: once for those of the first file, once for the new ones.
    for found in written.values():
        assert sorted(r[0] for r in found) == sorted(c.id for c in stored)
    assert sorted(r[0] for r in audited) == sorted(new_ids)


async def test_two_imports_of_the_same_customers_at_once_create_each_customer_once(service):
    profile = await service("profile")
    content = csv_file(customers(ROWS))
    answers = await asyncio.gather(post(profile, content), post(profile, content))
    # The second either waits for the first and skips every row, or meets the first's rows at
    # write time and is refused whole (409, nothing written): never a 500, never a duplicate.
    assert sorted(a.status_code for a in answers) in ([200, 200], [200, 409]), [a.text for a in answers]
    assert sum(a.json().get("created", 0) for a in answers if a.status_code == 200) == ROWS
    refused = [a for a in answers if a.status_code == 409]
    assert all(a.headers["content-type"].startswith("application/problem+json") for a in refused)


async def test_a_bad_row_after_chunks_were_written_leaves_nothing_written(service, monkeypatch):
    from services.profile import imports

    monkeypatch.setattr(imports, "CHUNK", 40)  # several chunks written before the bad rows are met
    profile = await service("profile")
    async with profile.client("admin", "admin-1") as http:
        known = (await http.post("/api/v1/customers", json=new_customer())).json()
    rows = customers(ROWS)
    rows[97]["national_id"] = known["national_id"]  # held by another customer: found at write time
    rows[-1]["email"] = "not-an-email"  # found when checked
    answer = await post(profile, csv_file(rows))
    assert answer.status_code == 422, answer.text
    # Line numbers count the header: row i is on line i + 2.
    assert [(e["line"], e["reason"].split(":")[0]) for e in answer.json()["errors"]] == [
        (99, "a customer with this national_id already exists under another external_ref"),
        (ROWS + 1, "email"),
    ]
    async with profile.sessions() as session:
        written = await session.scalar(
            sa.select(sa.func.count())
            .select_from(Customer)
            .where(Customer.external_ref.in_([r["external_ref"] for r in rows]))
        )
    assert written == 0


async def test_look_ups_by_national_id_are_indexed(service):
    """Search, create and import each look customers up by the national ID's blind index with no
    condition on `duplicate_of`; the partial unique index cannot serve them, so a plain index
    must (else every look-up scans the whole book: an import of n rows costs O(n²))."""
    profile = await service("profile")
    async with profile.engine.connect() as connection:
        await connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            await connection.scalars(sa.text("EXPLAIN SELECT id FROM customers WHERE national_id_index IN ('a', 'b')"))
        )
    assert "Index" in plan and "Seq Scan" not in plan, plan

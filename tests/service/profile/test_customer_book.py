"""The book's sums per day and month (services/profile/book.py), kept by triggers, against a scan
of the customers after every kind of write; and the bank-wide KPIs read from them against the
same figures counted customer by customer."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from events.contracts import RiskAssessmentCompletedV1, new_event
from services.kit import clock
from services.kit.db import COPY_MIN_ROWS
from services.kit.kpi import KpiWindow, count_in_window
from services.profile import imports
from services.profile.book import PLANNED_ONCE_UP_TO_ROWS, TABLE, rebuild_statements
from services.profile.kpis import _CHURNED, _CUSTOMER_MOVES, BREAKDOWNS, _scanned, _summed, _summed_series
from services.profile.models import Customer, StageChange
from services.profile.screening import risk
from tests.service.profile.test_imports import csv_file, customers
from tests.support import new_customer

SUMS = sa.text(
    f"SELECT dimension, period, starts_on, value, customers, assets, high_risk, churned, documents FROM {TABLE} "
    "WHERE customers <> 0 OR assets <> 0 OR high_risk <> 0 OR churned <> 0 OR documents <> 0"
)


async def _book(profile) -> set:
    async with profile.engine.connect() as connection:
        return set(map(tuple, await connection.execute(SUMS)))


async def _rebuilt(profile) -> set:
    """The sums recomputed from the customers, in a transaction rolled back."""
    async with profile.engine.connect() as connection:
        transaction = await connection.begin()
        for statement in rebuild_statements(connection.dialect.name):
            await connection.execute(sa.text(statement))
        rows = set(map(tuple, await connection.execute(SUMS)))
        await transaction.rollback()
    return rows


async def _create(http, **overrides) -> str:
    answer = await http.post("/api/v1/customers", json=new_customer(**overrides))
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


async def _document(http, customer_id: str, expires_on: str) -> None:
    body = {"type": "passport", "document_number": uuid.uuid4().hex[:12], "issuer": "CN", "expires_on": expires_on}
    answer = await http.post(f"/api/v1/customers/{customer_id}/documents", json=body)
    assert answer.status_code == 201, answer.text


async def _churn(http, customer_id: str) -> None:
    for stage in ("onboarding", "active", "churned"):
        answer = await http.post(f"/api/v1/customers/{customer_id}/lifecycle", json={"stage": stage, "reason": "test"})
        assert answer.status_code == 200, answer.text


async def _assess(profile, customer_id: str, level: str) -> None:
    moment = clock.now()
    payload = RiskAssessmentCompletedV1(
        customer_id=customer_id,
        assessment_id=str(uuid.uuid4()),
        risk_level=level,
        lowest_category=False,
        questionnaire_version="test",
        recorded_by_role="customer",
        completed_at=moment,
        valid_until=moment + timedelta(days=365),
    )
    await profile.deliver(new_event("risk_assessment.completed", payload, source="recommendation"))


async def test_the_sums_equal_a_scan_after_every_kind_of_write(service):
    profile = await service("profile")
    async with profile.client("admin") as admin, profile.client("relationship_manager", "rm-book-a") as manager:
        with clock.frozen_at(datetime(2014, 1, 31, 23, 30, tzinfo=UTC)):
            kept = await _create(manager, assets_under_management="1200000.00")
            moved = await _create(manager, assets_under_management="10.00")
            erased = await _create(admin, assets_under_management="5000.00")
            await _assess(profile, kept, "C5")
            await _assess(profile, erased, "C4")
            await _document(manager, moved, "2014-03-15")
            await _document(admin, erased, "2014-02-20")
            await _churn(admin, erased)
        with clock.frozen_at(datetime(2014, 2, 1, 0, 15, tzinfo=UTC)):
            await _create(admin, assets_under_management="7.50")
            assert (await _book(profile)) == (await _rebuilt(profile))

            answer = await manager.patch(f"/api/v1/customers/{moved}", json={"assets_under_management": "9000000.00"})
            assert answer.status_code == 200, answer.text  # assets, and with them the tier
            await _churn(manager, moved)  # his churn move and document follow him to his new manager
            answer = await admin.put(
                f"/api/v1/customers/{moved}/relationship-manager", json={"relationship_manager_id": "rm-book-b"}
            )
            assert answer.status_code == 200, answer.text
            await _assess(profile, kept, "C2")  # out of the high-risk count
            answer = await admin.post(f"/api/v1/customers/{erased}/erasure", json={"reason": "customer asked"})
            assert answer.status_code == 202, answer.text
            rows = customers(COPY_MIN_ROWS + 5)  # the COPY path, by an admin, into one portfolio
            for row in rows:
                row["relationship_manager_id"] = "rm-book-a"
            for row in rows[:3]:
                row["lifecycle_stage"] = "churned"  # churn moves the import adds to the book
            imported = await admin.post(
                "/api/v1/customers/imports", content=csv_file(rows), headers={"content-type": "text/csv"}
            )
            assert imported.status_code == 200, imported.text
        with clock.frozen_at(datetime(2016, 6, 1, tzinfo=UTC)):
            await profile.run_job("retier")  # one UPDATE of many customers' tiers
            # Statements of more rows than PLANNED_ONCE_UP_TO_ROWS, whose book SQL is planned for
            # their size (written by SQL, as an operator's correction would be): churn moves of
            # a whole portfolio in one INSERT, then the portfolio handed to another manager.
            async with profile.engine.begin() as connection:
                moved_out = await connection.execute(
                    sa.insert(StageChange).from_select(
                        ["customer_id", "from_stage", "to_stage", "at", "actor", "reason"],
                        sa.select(
                            Customer.id,
                            sa.literal("active"),
                            sa.literal("churned"),
                            sa.literal(clock.now()),
                            sa.literal("test"),
                            sa.literal("correction"),
                        ).where(Customer.relationship_manager_id == "rm-book-a"),
                    )
                )
                handed_over = await connection.execute(
                    sa.update(Customer)
                    .where(Customer.relationship_manager_id == "rm-book-a")
                    .values(relationship_manager_id="rm-book-c")
                )
            assert min(moved_out.rowcount, handed_over.rowcount) > PLANNED_ONCE_UP_TO_ROWS

    book = await _book(profile)
    assert book == await _rebuilt(profile)
    # The writes above are in it: the erased customer stays in her day with her churn move, her
    # document gone; the moved one is under his new manager, the import under its day.
    days = {(d, v): n for d, p, s, v, n, *_ in book if p == "day" and str(s) == "2014-01-31" and n}
    assert days[("manager", "rm-book-c")] == 1 and days[("manager", "rm-book-b")] == 1
    assert days[("manager", "")] == 1 and days[("risk_level", "C4")] == 1  # the erased customer
    assert days[("risk_level", "")] == 1 and days[("risk_level", "C2")] == 1
    assert sum(n for (d, _), n in days.items() if d == "tier") == 3
    erased_moves = {(d, v): n for d, p, s, v, _, _, _, n, _ in book if p == "day" and str(s) == "2014-01-31" and n}
    assert erased_moves[("stage", "churned")] == 1 and erased_moves[("manager", "")] == 1
    assert not [row for row in book if row[1] == "day" and str(row[2]) == "2014-02-20" and row[8]]
    moves = {(d, v): n for d, p, s, v, _, _, _, n, _ in book if p == "day" and str(s) == "2014-02-01" and n}
    assert moves[("stage", "churned")] == 1 + 3 and moves[("manager", "rm-book-b")] == 1
    documents = {(d, v): n for d, p, s, v, *_, n in book if p == "day" and str(s) == "2014-03-15" and n}
    assert documents[("manager", "rm-book-b")] == 1 and ("manager", "rm-book-a") not in documents
    imports = {v: n for d, p, s, v, n, *_ in book if d == "manager" and p == "day" and str(s) == "2014-02-01"}
    assert imports["rm-book-c"] == COPY_MIN_ROWS + 5 and "rm-book-a" not in imports


async def test_bank_wide_figures_from_the_sums_equal_those_counted_one_by_one(service):
    profile = await service("profile")
    async with profile.client("admin") as admin:
        for moment in (
            datetime(2015, 3, 30, 22, 0, tzinfo=UTC),
            datetime(2015, 3, 31, 23, 59, tzinfo=UTC),
            datetime(2015, 4, 1, 0, 0, tzinfo=UTC),
            datetime(2015, 4, 14, 11, 0, tzinfo=UTC),
            datetime(2015, 4, 30, 6, 0, tzinfo=UTC),
        ):
            with clock.frozen_at(moment):
                customer = await _create(admin, assets_under_management=f"{moment.day * 1000}.25")
                await _document(admin, customer, f"2015-{moment.month + 1:02d}-{moment.day % 28 + 1:02d}")
            with clock.frozen_at(moment + timedelta(hours=1)):
                await _churn(admin, customer)
    scope: list = []  # every customer, as the KPI route counts them
    windows = [
        (datetime(2015, 3, 31, 12, tzinfo=UTC), datetime(2015, 4, 30, 7, tzinfo=UTC)),  # edges inside days
        (datetime(2015, 4, 1, tzinfo=UTC), datetime(2015, 5, 1, tzinfo=UTC)),  # whole days
        (datetime(2015, 4, 14, 10, tzinfo=UTC), datetime(2015, 4, 14, 12, tzinfo=UTC)),  # within one day
        (datetime(2014, 4, 1, 3, tzinfo=UTC), datetime(2015, 4, 1, 0, 0, 1, tzinfo=UTC)),  # a year
    ]
    moves = [*scope, _CHURNED]
    async with profile.sessions() as session:
        for start, end in windows:
            expires_by = (end + timedelta(days=60)).date()
            for by in (None, *BREAKDOWNS):
                window = KpiWindow(start=start, end=end, by=by, bucket="day", breakdowns=tuple(BREAKDOWNS))
                group = BREAKDOWNS[by] if by else None
                scanned = [_counting(rows) for rows in await _scanned(session, window, scope, group, expires_by)]
                summed = [_counting(rows) for rows in await _summed(session, window, scope, expires_by)]
                assert summed == scanned, (start, end, by)
            for bucket in ("day", "week", "month"):
                window = KpiWindow(start=start, end=end, by=None, bucket=bucket)
                _, new = await count_in_window(session, Customer.created_at, window, where=scope)
                _, churned = await count_in_window(session, StageChange.at, window, where=moves, from_=_CUSTOMER_MOVES)
                assert await _summed_series(session, window, scope) == (new, churned), (start, end, bucket)


def _counting(rows) -> list[tuple]:
    """The groups that count somewhere (a group with nothing to count is listed under no KPI)."""
    return sorted((tuple(row) for row in rows if any(row[1:])), key=str)


async def _change_without_waiting(profile, customer_id: str) -> None:
    """Change a customer's assets (their book rows) from a connection of its own, which gives up
    after waiting 2 s for a lock."""
    async with profile.engine.connect() as connection:
        await connection.execute(sa.text("SET lock_timeout = '2s'"))
        await connection.execute(
            sa.update(Customer).where(Customer.id == customer_id).values(assets_under_management=Decimal("250.00"))
        )
        await connection.commit()


async def test_changes_of_customers_do_not_wait_for_an_import_in_progress(service, monkeypatch):
    """An import adds its customers to the book when it ends: until then another transaction
    changes a customer of the same day (the book's same rows) without waiting for it."""
    profile = await service("profile")
    async with profile.client("admin") as admin:
        other = await _create(admin, assets_under_management="100.00")
    write_chunk = imports._check_and_write
    changed: list[str] = []

    async def write_then_change_another_customer(*args) -> None:
        await write_chunk(*args)
        await _change_without_waiting(profile, other)  # while the import's transaction is open
        changed.append(other)

    monkeypatch.setattr(imports, "_check_and_write", write_then_change_another_customer)
    async with profile.client("admin", "admin-book-c") as admin:
        answer = await admin.post(
            "/api/v1/customers/imports",
            content=csv_file(customers(COPY_MIN_ROWS + 5)),
            headers={"content-type": "text/csv"},
        )
    assert answer.status_code == 200, answer.text
    assert changed == [other]
    assert await _book(profile) == await _rebuilt(profile)


async def test_creations_of_customers_do_not_wait_for_one_in_progress(service, monkeypatch):
    """A creation adds its customer to the book as its last statement: while it screens and
    rates the customer, another transaction changes a customer of the same day (the book's same
    rows) without waiting for it."""
    profile = await service("profile")
    rerate = risk.rerate
    changed: list[str] = []

    async def rerate_then_change_another_customer(*args, **kwargs) -> None:
        await rerate(*args, **kwargs)
        await _change_without_waiting(profile, other)  # while the creation's transaction is open
        changed.append(other)

    async with profile.client("admin") as admin:
        with clock.frozen_at(datetime(2015, 3, 2, 9, 0, tzinfo=UTC)):
            other = await _create(admin, assets_under_management="100.00")
            monkeypatch.setattr(risk, "rerate", rerate_then_change_another_customer)
            created = await _create(admin, assets_under_management="300.00")
    assert changed == [other]
    book = await _book(profile)
    assert book == await _rebuilt(profile)
    day = {(d, v): n for d, p, s, v, n, *_ in book if p == "day" and str(s) == "2015-03-02" and n}
    assert sum(n for (d, _), n in day.items() if d == "tier") == 2, created

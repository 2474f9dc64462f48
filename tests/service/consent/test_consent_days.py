"""The consents per day (consent_days, kept by triggers) and the KPIs read from them equal a scan
of the consents after a mix of every kind of write: grants, approvals, rejections, revocations,
expiries, erasure and deletion."""

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from events.contracts import CustomerErasedV1, new_event
from services.consent.kpis import BREAKDOWNS, EXPIRING_WITHIN, ConsentDay, ConsentMonth
from services.consent.models import Consent, ConsentChange
from services.kit import clock

START = datetime(2012, 3, 5, 9, 30, tzinfo=UTC)
COLUMNS = ("granted_at", "revoked_at", "expires_at", *BREAKDOWNS)


def _body(customer_id: str, purpose: str, channel: str, expires_at: datetime | None) -> dict:
    return {
        "customer_id": customer_id,
        "recipient": "partner-days" if purpose == "third_party_sharing" else "bank",
        "recipient_type": "external" if purpose == "third_party_sharing" else "internal",
        "purpose": purpose,
        "data_categories": ["basic"],
        "channel": channel,
        "expires_at": expires_at.isoformat() if expires_at else None,
    }


async def _consents(consent) -> list[dict]:
    async with consent.engine.connect() as connection:
        rows = await connection.execute(sa.select(*(getattr(Consent, c) for c in COLUMNS)))
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def _ended(row: dict) -> datetime | None:
    stops = [t for t in (row["revoked_at"], row["expires_at"]) if t is not None]
    if row["granted_at"] is None or not stops:
        return None
    return max(row["granted_at"], min(stops))


def _scanned_days(rows: list[dict], *, months: bool = False) -> dict[tuple, tuple[int, int, int]]:
    """The counts per day (or month) and breakdown values, recomputed from the consents."""
    counts: Counter[tuple] = Counter()
    for row in rows:
        key = tuple(row[b] for b in BREAKDOWNS)
        for kind, moment in (("granted", row["granted_at"]), ("revoked", row["revoked_at"]), ("ended", _ended(row))):
            if moment is not None:
                period = moment.date().replace(day=1) if months else moment.date()
                counts[(period, *key, kind)] += 1
    return {
        day_key: (counts[(*day_key, "granted")], counts[(*day_key, "revoked")], counts[(*day_key, "ended")])
        for day_key in {k[:-1] for k in counts}
    }


async def _stored_days(consent, months: bool = False) -> dict:
    table: type[ConsentDay] | type[ConsentMonth] = ConsentMonth if months else ConsentDay
    period = ConsentMonth.month if months else ConsentDay.day
    async with consent.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(
                period, table.purpose, table.recipient_type, table.channel, table.granted, table.revoked, table.ended
            )
        )
        return {tuple(row[:4]): tuple(row[4:]) for row in rows if tuple(row[4:]) != (0, 0, 0)}


def _scanned_kpis(rows: list[dict], start: datetime, end: datetime, by: str | None) -> dict[str, tuple]:
    """The KPIs by the definitions, row by row: (value, {breakdown value: count}, {day: count})."""

    def active(row: dict) -> bool:
        return (
            row["granted_at"] is not None
            and row["granted_at"] < end
            and (row["revoked_at"] is None or row["revoked_at"] >= end)
            and (row["expires_at"] is None or row["expires_at"] >= end)
        )

    tests = {
        "active_consents": (active, None),
        "expiring_consents": (
            lambda r: active(r) and r["expires_at"] is not None and r["expires_at"] < end + EXPIRING_WITHIN,
            None,
        ),
        "granted_consents": (lambda r: r["granted_at"] is not None and start <= r["granted_at"] < end, "granted_at"),
        "revoked_consents": (lambda r: r["revoked_at"] is not None and start <= r["revoked_at"] < end, "revoked_at"),
    }
    found = {}
    for name, (test, moment) in tests.items():
        matching = [r for r in rows if test(r)]
        groups = Counter(r[by] for r in matching) if by else Counter()
        series = Counter(r[moment].date() for r in matching) if moment else Counter()
        found[name] = (len(matching), dict(groups), dict(series))
    return found


async def test_consent_days_and_kpis_equal_a_scan_after_every_kind_of_write(service):
    consent = await service("consent")
    customers = [f"cust-days-{uuid.uuid4()}" for _ in range(6)]
    for customer_id in customers:
        await consent.know_customer(customer_id)
    granted: list[str] = []
    plan = [
        ("marketing", "mobile", timedelta(days=400)),
        ("analytics", "web", timedelta(days=3, hours=5)),  # lapses a few days later
        ("marketing", "web", None),
        ("credit_assessment", "mobile", timedelta(days=1)),
    ]
    with clock.frozen_at(START):
        for i, (purpose, channel, valid) in enumerate(plan):
            customer_id = customers[i % 3]
            async with consent.client("customer", customer_id, customer_scope=customer_id) as own:
                answer = await own.post(
                    "/api/v1/consents", json=_body(customer_id, purpose, channel, START + valid if valid else None)
                )
                assert answer.status_code == 201, answer.text
                granted.append(answer.json()["id"])
        # Maker-checker: two requests, one approved a day later, one rejected.
        requested = []
        async with consent.client("admin", "maker-days") as maker:
            for customer_id in customers[3:5]:
                answer = await maker.post(
                    "/api/v1/consent-requests",
                    json=_body(customer_id, "third_party_sharing", "branch", START + timedelta(days=30)),
                )
                assert answer.status_code == 201, answer.text
                requested.append(answer.json()["id"])
    async with consent.client("compliance_officer", "checker-days") as checker:
        with clock.frozen_at(START + timedelta(days=1, hours=2)):
            assert (await checker.post(f"/api/v1/consents/{requested[0]}/approve")).status_code == 200
            assert (await checker.post(f"/api/v1/consents/{requested[1]}/reject")).status_code == 200
    # A revocation before its expiry, the expiry job after two expiries, then an erasure.
    with clock.frozen_at(START + timedelta(days=2, hours=7)):
        async with consent.client("customer", customers[0], customer_scope=customers[0]) as own:
            assert (await own.post(f"/api/v1/consents/{granted[0]}/revoke")).status_code == 200
    with clock.frozen_at(START + timedelta(days=5)):
        assert await consent.run_job("expire-consents") >= 2
    with clock.frozen_at(START + timedelta(days=6, hours=1)):
        await consent.deliver(
            new_event(
                "customer.erased",
                CustomerErasedV1(customer_id=customers[2], erased_at=clock.now()),
                source="profile",
            )
        )
    # A consent deleted, as the retention job deletes ended ones with their history.
    async with consent.sessions() as session, session.begin():
        await session.execute(sa.delete(ConsentChange).where(ConsentChange.consent_id == granted[1]))
        await session.execute(sa.delete(Consent).where(Consent.id == granted[1]))

    rows = await _consents(consent)
    assert await _stored_days(consent) == _scanned_days(rows)
    assert await _stored_days(consent, months=True) == _scanned_days(rows, months=True)

    # Windows ending at midnight and inside a day, starting inside a day, within one day.
    windows = [
        (START - timedelta(days=1), START + timedelta(days=10)),
        (START + timedelta(hours=1), START + timedelta(days=2, hours=8)),
        (START - timedelta(minutes=30), START + timedelta(hours=3)),
        (datetime(2012, 3, 1, tzinfo=UTC), datetime(2012, 4, 1, tzinfo=UTC)),
        (START + timedelta(days=1), START + timedelta(days=6, hours=1, seconds=1)),
    ]
    async with consent.client("admin") as admin:
        for start, end in windows:
            for by in (None, *BREAKDOWNS):
                params = {"from": start.isoformat(), "to": end.isoformat(), **({"by": by} if by else {})}
                answer = await admin.get("/api/v1/kpis/consent", params=params)
                assert answer.status_code == 200, answer.text
                kpis = {k["name"]: k for k in answer.json()["kpis"]}
                for name, (value, groups, series) in _scanned_kpis(rows, start, end, by).items():
                    got = kpis[name]
                    assert (got["value"], got["count"]) == (value, value), (name, start, end, by)
                    assert {g["key"]: g["count"] for g in got["breakdown"]} == groups, (name, start, end, by)
                    if name in ("granted_consents", "revoked_consents"):
                        assert {date.fromisoformat(p["bucket"]): p["count"] for p in got["series"]} == series


async def test_a_write_rolled_back_leaves_the_days_as_they_were(service):
    consent = await service("consent")
    before = await _stored_days(consent)
    async with consent.sessions() as session:
        await session.begin()
        session.add(
            Consent(
                id=str(uuid.uuid4()),
                customer_id=f"cust-days-{uuid.uuid4()}",
                recipient="bank",
                recipient_type="internal",
                purpose="marketing",
                data_categories=["basic"],
                legal_basis="consent",
                channel="web",
                language="en",
                status="active",
                created_at=START,
                granted_at=START,
                expires_at=START + timedelta(days=9),
            )
        )
        await session.flush()
        in_transaction = await session.scalar(
            sa.select(sa.func.sum(ConsentDay.granted)).where(ConsentDay.day == START.date())
        )
        await session.rollback()
    assert in_transaction == sum(v[0] for k, v in before.items() if k[0] == START.date()) + 1
    assert await _stored_days(consent) == before

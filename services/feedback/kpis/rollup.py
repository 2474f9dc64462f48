"""Hourly sums behind the service KPIs, kept in the transaction of every change they count, so
a KPI query reads a few rows per hour instead of every answer and case (see kpis/service.py).

One row per hour, channel, tier and product ('' when unknown). Case sums belong to the hour the
case was opened, answer sums to the hour the answer arrived: the same attribution as a scan of
the items, so both give the same figures.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.feedback.db import Base
from services.kit.db import UTCDateTime

ANSWER_SUMS = (
    "csat_n",
    "csat_satisfied",
    "nps_n",
    "nps_promoters",
    "nps_detractors",
    "ces_n",
    "ces_sum",
    "detractors",
    "in_time",
)
CASE_SUMS = (
    "cases",
    "complaints",
    "breached",
    "answered",
    "first_answer_hours",
    "resolved",
    "resolve_hours",
    "resolved_originals",
    "reopened",
)
HOURS = ("first_answer_hours", "resolve_hours")


class _HourAndGroups:
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    tier: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    product: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class AnswerHourly(_HourAndGroups, Base):
    __tablename__ = "kpi_answers_hourly"

    csat_n: Mapped[int] = mapped_column(sa.BigInteger())
    csat_satisfied: Mapped[int] = mapped_column(sa.BigInteger())
    nps_n: Mapped[int] = mapped_column(sa.BigInteger())
    nps_promoters: Mapped[int] = mapped_column(sa.BigInteger())
    nps_detractors: Mapped[int] = mapped_column(sa.BigInteger())
    ces_n: Mapped[int] = mapped_column(sa.BigInteger())
    ces_sum: Mapped[int] = mapped_column(sa.BigInteger())
    detractors: Mapped[int] = mapped_column(sa.BigInteger())
    # Detractors whose follow-up case was closed in time.
    in_time: Mapped[int] = mapped_column(sa.BigInteger())


class CaseHourly(_HourAndGroups, Base):
    __tablename__ = "kpi_cases_hourly"

    cases: Mapped[int] = mapped_column(sa.BigInteger())
    complaints: Mapped[int] = mapped_column(sa.BigInteger())
    breached: Mapped[int] = mapped_column(sa.BigInteger())
    answered: Mapped[int] = mapped_column(sa.BigInteger())
    first_answer_hours: Mapped[float] = mapped_column(sa.Float())
    resolved: Mapped[int] = mapped_column(sa.BigInteger())
    resolve_hours: Mapped[float] = mapped_column(sa.Float())
    resolved_originals: Mapped[int] = mapped_column(sa.BigInteger())
    reopened: Mapped[int] = mapped_column(sa.BigInteger())


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def _bump(session: AsyncSession, model, sums: tuple[str, ...], item, moment: datetime, deltas: dict) -> None:
    deltas = {name: value for name, value in deltas.items() if value}
    if not deltas:
        return
    key = {"hour": hour_of(moment), "channel": item.channel, "tier": item.tier or "", "product": item.product or ""}
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(model).values({**key, **{name: 0 for name in sums}, **deltas})
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=list(key),
            set_={name: getattr(model, name) + statement.excluded[name] for name in deltas},
        )
    )


async def count_answer(session: AsyncSession, answer, **deltas: int) -> None:
    """Add to the sums of `answer`'s hour and groups; with no deltas, count the answer itself."""
    if not deltas:
        survey, score = answer.survey, answer.score
        deltas = {
            f"{survey}_n": 1,
            "csat_satisfied": int(survey == "csat" and score >= 4),
            "nps_promoters": int(survey == "nps" and score >= 9),
            "nps_detractors": int(survey == "nps" and score <= 6),
            "ces_sum": score if survey == "ces" else 0,
            "detractors": int(answer.detractor),
        }
    await _bump(session, AnswerHourly, ANSWER_SUMS, answer, answer.received_at, deltas)


async def count_case(session: AsyncSession, case, **deltas: float) -> None:
    """Add to the sums of `case`'s opening hour and groups."""
    await _bump(session, CaseHourly, CASE_SUMS, case, case.opened_at, deltas)


def hours_between(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 3600.0


def rebuild_statements(dialect: str) -> list[str]:
    """SQL recomputing both tables from the answers and cases (migrations, bulk loads)."""
    if dialect == "postgresql":

        def hour(column):
            return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"

        def hours(later, earlier):
            return f"extract(epoch from ({later} - {earlier})) / 3600.0"
    else:

        def hour(column):
            return f"strftime('%Y-%m-%d %H:00:00.000000', {column})"

        def hours(later, earlier):
            return f"(julianday({later}) - julianday({earlier})) * 24.0"

    def count(condition):
        return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    original = "c.reopened_from IS NULL"
    reopened = "EXISTS (SELECT 1 FROM cases r WHERE r.reopened_from = c.id)"
    answer_sums = [
        count("a.survey = 'csat'"),
        count("a.survey = 'csat' AND a.score >= 4"),
        count("a.survey = 'nps'"),
        count("a.survey = 'nps' AND a.score >= 9"),
        count("a.survey = 'nps' AND a.score <= 6"),
        count("a.survey = 'ces'"),
        "sum(CASE WHEN a.survey = 'ces' THEN a.score ELSE 0 END)",
        count("a.detractor"),
        count("f.id IS NOT NULL AND f.closed_at IS NOT NULL AND NOT f.sla_breached"),
    ]
    case_sums = [
        "count(*)",
        count(f"c.kind = 'complaint' AND {original}"),
        count("c.sla_breached"),
        count("c.first_answer_at IS NOT NULL"),
        f"coalesce(sum({hours('c.first_answer_at', 'c.opened_at')}), 0)",
        count("c.resolved_at IS NOT NULL"),
        f"coalesce(sum({hours('c.resolved_at', 'c.opened_at')}), 0)",
        count(f"c.resolved_at IS NOT NULL AND {original}"),
        count(f"c.resolved_at IS NOT NULL AND {original} AND {reopened}"),
    ]
    answer_key = f"{hour('a.received_at')}, a.channel, coalesce(a.tier, ''), coalesce(a.product, '')"
    case_key = f"{hour('c.opened_at')}, c.channel, coalesce(c.tier, ''), coalesce(c.product, '')"
    return [
        "DELETE FROM kpi_answers_hourly",
        "DELETE FROM kpi_cases_hourly",
        f"INSERT INTO kpi_answers_hourly (hour, channel, tier, product, {', '.join(ANSWER_SUMS)})"
        f" SELECT {answer_key}, {', '.join(answer_sums)} FROM feedback a"
        " LEFT JOIN cases f ON a.detractor AND f.answer_id = a.id AND f.kind = 'follow_up' AND f.reopened_from IS NULL"
        f" GROUP BY {answer_key}",
        f"INSERT INTO kpi_cases_hourly (hour, channel, tier, product, {', '.join(CASE_SUMS)})"
        f" SELECT {case_key}, {', '.join(case_sums)} FROM cases c GROUP BY {case_key}",
    ]

"""Hourly and daily sums behind the service KPIs, kept in the transaction of every change they
count, so a KPI query reads a few rows per day (and per hour at a window's edges) instead of
every answer and case (see kpis/service.py).

Hourly: one row per hour, channel, tier and product ('' when unknown). Daily: one row per UTC
day and breakdown value, i.e. per (day, `dimension`, `value`): the day's total under ('', ''),
and its sums per channel, per tier and per product ('channel', 'web'), ... A window's days are
read with the rows of its breakdown only: at a million answers a year the hourly rows are nearly
as many as the answers (hours x channels x tiers x products), while a year holds 365 daily totals
and 365 x (number of channels) daily rows by channel.

Case sums belong to the hour the case was opened, answer sums to the hour the answer arrived:
the same attribution as a scan of the items, so both give the same figures.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from events.store import upsert_insert
from services.feedback.db import Base
from services.feedback.declarations import ANSWER_SUM_NAMES, CASE_SUM_NAMES
from services.kit.db import UTCDateTime

ANSWER_SUMS, CASE_SUMS = ANSWER_SUM_NAMES, CASE_SUM_NAMES  # the catalogue declares them
HOURS = ("first_answer_hours", "resolve_hours")


class _Groups:
    channel: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    tier: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    product: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class _AnswerSums:
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


class _CaseSums:
    cases: Mapped[int] = mapped_column(sa.BigInteger())
    complaints: Mapped[int] = mapped_column(sa.BigInteger())
    breached: Mapped[int] = mapped_column(sa.BigInteger())
    answered: Mapped[int] = mapped_column(sa.BigInteger())
    first_answer_hours: Mapped[float] = mapped_column(sa.Float())
    resolved: Mapped[int] = mapped_column(sa.BigInteger())
    resolve_hours: Mapped[float] = mapped_column(sa.Float())
    resolved_originals: Mapped[int] = mapped_column(sa.BigInteger())
    reopened: Mapped[int] = mapped_column(sa.BigInteger())


class AnswerHourly(_AnswerSums, _Groups, Base):
    __tablename__ = "kpi_answers_hourly"

    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True, sort_order=-1)


class CaseHourly(_CaseSums, _Groups, Base):
    __tablename__ = "kpi_cases_hourly"

    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True, sort_order=-1)


class _DayAndBreakdown:
    day: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True, sort_order=-3)  # midnight UTC
    # '' (the day's total), 'channel', 'tier' or 'product'; `value` is the group's ('' if unknown).
    dimension: Mapped[str] = mapped_column(sa.String(16), primary_key=True, sort_order=-2)
    value: Mapped[str] = mapped_column(sa.String(64), primary_key=True, sort_order=-1)


class AnswerDaily(_AnswerSums, _DayAndBreakdown, Base):
    __tablename__ = "kpi_answers_daily"


class CaseDaily(_CaseSums, _DayAndBreakdown, Base):
    __tablename__ = "kpi_cases_daily"


DIMENSIONS = ("channel", "tier", "product")


def sums_columns(period: str, names: tuple[str, ...]) -> list[sa.Column]:
    """The columns of a sums table as its migration creates them: the primary key (the hour and
    the groups, or the day and a breakdown value), then `names`."""
    key: list[sa.Column]
    if period == "hour":
        key = [sa.Column("hour", sa.DateTime(timezone=True), primary_key=True)]
        key += [sa.Column(name, sa.String(64 if name == "product" else 16), primary_key=True) for name in DIMENSIONS]
    else:
        key = [
            sa.Column("day", sa.DateTime(timezone=True), primary_key=True),
            sa.Column("dimension", sa.String(16), primary_key=True),
            sa.Column("value", sa.String(64), primary_key=True),
        ]
    return [*key, *[sa.Column(n, sa.Float() if n in HOURS else sa.BigInteger(), nullable=False) for n in names]]


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def _bump(session: AsyncSession, models, sums: tuple[str, ...], item, moment: datetime, deltas: dict) -> None:
    """Add `deltas` to the hourly row of `item`'s groups at `moment`, and to the daily rows of its
    day: the total and one per breakdown value."""
    deltas = {name: value for name, value in deltas.items() if value}
    if not deltas:
        return
    groups = {"channel": item.channel, "tier": item.tier or "", "product": item.product or ""}
    hourly, daily = models
    day = day_of(moment)
    keys = [(hourly, {"hour": hour_of(moment), **groups})]
    keys += [(daily, {"day": day, "dimension": d, "value": groups.get(d, "")}) for d in ("", *DIMENSIONS)]
    for model, key in keys:
        statement = upsert_insert(session, model).values({**key, **{name: 0 for name in sums}, **deltas})
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
    await _bump(session, (AnswerHourly, AnswerDaily), ANSWER_SUMS, answer, answer.received_at, deltas)


async def count_case(session: AsyncSession, case, **deltas: float) -> None:
    """Add to the sums of `case`'s opening hour and groups."""
    await _bump(session, (CaseHourly, CaseDaily), CASE_SUMS, case, case.opened_at, deltas)


def hours_between(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 3600.0


def rebuild_statements(dialect: str) -> list[str]:
    """SQL recomputing every sums table from the answers and cases (bulk loads)."""
    return hourly_statements(dialect) + daily_statements(dialect)


def daily_statements(dialect: str) -> list[str]:
    """SQL recomputing the daily sums from the hourly ones."""
    if dialect == "postgresql":
        day = "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    else:
        day = "substr(hour, 1, 10) || ' 00:00:00.000000'"
    statements = []
    for table, names in (("kpi_answers", ANSWER_SUMS), ("kpi_cases", CASE_SUMS)):
        statements.append(f"DELETE FROM {table}_daily")
        for dimension in ("", *DIMENSIONS):
            value = dimension or "''"
            statements.append(
                f"INSERT INTO {table}_daily (day, dimension, value, {', '.join(names)})"
                f" SELECT {day}, '{dimension}', {value}, {', '.join(f'sum({name})' for name in names)}"
                f" FROM {table}_hourly GROUP BY {day}{f', {dimension}' if dimension else ''}"
            )
    return statements


def hourly_statements(dialect: str) -> list[str]:
    """SQL recomputing the hourly sums from the answers and cases."""
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

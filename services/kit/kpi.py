"""The one shape every KPI route answers in, and the query every KPI route takes.

    GET /api/v1/kpis/<area>?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&by=channel&bucket=week

Each service computes its own KPIs over its own data (and read models it keeps from events);
the gateway's dashboard reads them all in this shape.
"""

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel, Field

from services.kit.clock import now
from services.kit.problems import Problem

Unit = Literal["count", "ratio", "score", "hours", "per_1000", "currency", "index"]
Bucket = Literal["day", "week", "month"]


class KpiGroup(BaseModel):
    key: str = Field(description="The breakdown value, e.g. a channel code or a tier.")
    value: float | None = Field(description="The KPI over this group's part of the window; null when undefined.")
    count: int = Field(ge=0, description="How many items the value is computed over.")


class KpiPoint(BaseModel):
    bucket: date = Field(description="First day of the bucket (day, ISO week or month).")
    value: float | None
    count: int = Field(ge=0)


class Kpi(BaseModel):
    name: str = Field(description="Stable machine name, e.g. `nps`, `sla_breach_rate`.")
    value: float | None = Field(description="The KPI over the whole window; null when undefined (no data).")
    unit: Unit
    count: int = Field(ge=0, description="How many items the value is computed over.")
    breakdown: list[KpiGroup] = Field(default_factory=list, description="One entry per value of `by`, if asked.")
    series: list[KpiPoint] = Field(default_factory=list, description="The KPI per bucket across the window.")
    drill: str | None = Field(default=None, description="API path listing the items behind the number.")


class KpiReport(BaseModel):
    area: str = Field(description="The service area, e.g. `service`, `churn`.")
    window_from: datetime
    window_to: datetime
    by: str | None
    bucket: Bucket
    breakdowns: list[str] = Field(default_factory=list, description="The values `by` may take on this route.")
    kpis: list[Kpi]

    @classmethod
    def of(cls, area: str, window: "KpiWindow", kpis: list[Kpi]) -> "KpiReport":
        return cls(
            area=area,
            window_from=window.start,
            window_to=window.end,
            by=window.by,
            bucket=window.bucket,
            breakdowns=list(window.breakdowns),
            kpis=kpis,
        )


class KpiWindow(BaseModel):
    start: datetime
    end: datetime
    by: str | None
    bucket: Bucket
    breakdowns: tuple[str, ...] = ()


class InvalidKpiQuery(Problem):
    status = 422
    title = "Invalid KPI query"


def kpi_query(*breakdowns: str):
    """A dependency parsing the window, bucket and breakdown; `by` must be one of `breakdowns`."""

    def parse(
        start: Annotated[
            datetime | None, Query(alias="from", description="Window start (default: 30 days ago).")
        ] = None,
        end: Annotated[datetime | None, Query(alias="to", description="Window end, exclusive (default: now).")] = None,
        by: Annotated[str | None, Query(description=f"Breakdown: one of {', '.join(breakdowns) or 'none'}.")] = None,
        bucket: Annotated[Bucket, Query(description="Trend bucket.")] = "day",
    ) -> KpiWindow:
        end = end or now()
        start = start or end - timedelta(days=30)
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidKpiQuery("`from` and `to` need a time zone, e.g. 2026-11-01T00:00:00Z.")
        if start >= end:
            raise InvalidKpiQuery("`from` must be before `to`.")
        if end - start > timedelta(days=3660):
            raise InvalidKpiQuery("The window may span at most ten years.")
        if by is not None and by not in breakdowns:
            raise InvalidKpiQuery(f"`by` must be one of: {', '.join(breakdowns) or 'none for this route'}.")
        return KpiWindow(start=start, end=end, by=by, bucket=bucket, breakdowns=breakdowns)

    return Depends(parse)


def bucket_start(column, bucket: Bucket, dialect: str):
    """SQL for the first day of `column`'s bucket (a date string on SQLite), for GROUP BY."""
    if dialect == "postgresql":
        return sa.func.date(sa.func.date_trunc(bucket, sa.func.timezone("UTC", column)))
    if bucket == "day":
        return sa.func.date(column)
    if bucket == "week":  # ISO weeks start on Monday
        return sa.func.date(column, "-6 days", "weekday 1")
    return sa.func.strftime("%Y-%m-01", column)


def bucket_of(day: date, bucket: Bucket) -> date:
    """The first day of `day`'s bucket (the same rule as `bucket_start`, in Python)."""
    if bucket == "week":
        return day - timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def as_date(value) -> date:
    """A bucket value as the database returns it (date, timestamp or ISO text) as a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def ratio(numerator: float, denominator: float) -> float | None:
    return None if not denominator else numerator / denominator


def totals_kpi(
    name: str, unit: Unit, values: dict, *, counts: dict | None = None, series=None, drill: str | None = None
) -> Kpi:
    """A KPI from totals as `add_to` keeps them ({None: total, group value: subtotal, ...}), each
    figure counted over `counts` (totals of the same shape; the values themselves by default)."""
    counts = values if counts is None else counts
    return Kpi(
        name=name,
        unit=unit,
        value=float(values.get(None, 0)),
        count=int(counts.get(None, 0)),
        breakdown=[
            KpiGroup(key=str(k), value=float(v), count=int(counts.get(k, 0)))
            for k, v in values.items()
            if k is not None
        ],
        series=series or [],
        drill=drill,
    )


def ratio_kpi(name: str, values: dict, denominators: dict) -> Kpi:
    """A ratio KPI from ratios per group ({None: overall, group value: its ratio}), each counted
    over its denominator (totals of the same shape)."""
    return Kpi(
        name=name,
        unit="ratio",
        value=values.get(None),
        count=int(denominators.get(None, 0)),
        breakdown=[
            KpiGroup(key=str(k), value=v, count=int(denominators.get(k, 0))) for k, v in values.items() if k is not None
        ],
    )


def add_to(totals: dict, key, value) -> None:
    """Add one group's `value` to `totals` ({None: total, group value: subtotal, ...}): to the
    total always, and under the group's own key when it has one."""
    totals[None] = totals.get(None, 0) + value
    if key is not None:
        totals[key] = totals.get(key, 0) + value


async def count_in_window(session, column, window: KpiWindow, *, where=(), group=None, from_=None):
    """Rows whose `column` falls in the window: ({None: total, group value: subtotal, ...}, one
    KpiPoint per bucket), counted by the database per bucket and, with a group, per group value
    (two small groupings rather than one per bucket and group). Groups and buckets without a row
    are left out."""
    bucket = bucket_start(column, window.bucket, session.get_bind().dialect.name)
    query = sa.select(sa.func.count()).where(*where, column >= window.start, column < window.end)
    if from_ is not None:
        query = query.select_from(from_)
    totals: dict = {None: 0}
    per_bucket: dict[date, int] = {}
    for n, day in await session.execute(query.add_columns(bucket).group_by(bucket)):
        totals[None] += n
        per_bucket[as_date(day)] = per_bucket.get(as_date(day), 0) + n
    if group is not None:
        for n, key in await session.execute(query.add_columns(group).group_by(group)):
            if key is not None:
                totals[key] = n
    return totals, points(per_bucket, window.bucket)


def points(counts: dict[date, int], bucket: Bucket) -> list[KpiPoint]:
    """Counts per day (or already per bucket) as one KpiPoint per `bucket`, in order; buckets
    counting nothing are left out."""
    per_bucket: dict[date, int] = {}
    for day, n in counts.items():
        per_bucket[bucket_of(day, bucket)] = per_bucket.get(bucket_of(day, bucket), 0) + n
    return [KpiPoint(bucket=day, value=float(n), count=n) for day, n in sorted(per_bucket.items()) if n]

from datetime import UTC, date, datetime

from services.kit.kpi import as_date, bucket_of


def test_buckets_start_on_the_day_the_iso_week_and_the_month():
    day = datetime(2026, 11, 28, 23, 59, tzinfo=UTC).date()  # a Saturday
    assert bucket_of(day, "day") == date(2026, 11, 28)
    assert bucket_of(day, "week") == date(2026, 11, 23)
    assert bucket_of(day, "month") == date(2026, 11, 1)


def test_bucket_values_from_either_database_read_as_dates():
    assert as_date(datetime(2026, 11, 23, tzinfo=UTC)) == date(2026, 11, 23)  # PostgreSQL date_trunc
    assert as_date("2026-11-23") == date(2026, 11, 23)  # SQLite text
    assert as_date(date(2026, 11, 23)) == date(2026, 11, 23)

from datetime import UTC, date, datetime

from services.kit.kpi import bucket_start


def test_buckets_start_on_the_day_the_iso_week_and_the_month():
    moment = datetime(2026, 11, 28, 23, 59, tzinfo=UTC)  # a Saturday
    assert bucket_start(moment, "day") == date(2026, 11, 28)
    assert bucket_start(moment, "week") == date(2026, 11, 23)
    assert bucket_start(moment, "month") == date(2026, 11, 1)

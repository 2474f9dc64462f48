"""The churn database's declarative base and messaging tables; each domain package adds its tables."""

from sqlalchemy.orm import DeclarativeBase

from events.outbox import Outbox
from events.store import add_messaging_tables
from services.kit.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


outbox_table, inbox_table = add_messaging_tables(Base.metadata)
outbox = Outbox(outbox_table, source="churn")

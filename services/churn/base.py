"""The churn database's declarative base and messaging tables; each domain package adds its tables."""

from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase

from events.outbox import Outbox
from events.store import add_messaging_tables
from services.kit.db import new_metadata
from services.kit.retention import add_legal_holds_table


class Base(DeclarativeBase):
    metadata = new_metadata()
    if TYPE_CHECKING:  # every model maps a table (the default type is any FromClause)
        __table__: ClassVar[sa.Table]


outbox_table, inbox_table = add_messaging_tables(Base.metadata)
outbox = Outbox(outbox_table, source="churn")
legal_holds = add_legal_holds_table(Base.metadata)

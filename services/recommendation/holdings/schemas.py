from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class HoldingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    holding_id: str
    product_code: str
    amount: Decimal
    source: str = Field(description="`corebanking` (from core banking's events) or `platform` (a sale made here).")
    check_id: str | None
    opened_at: datetime
    closed_at: datetime | None


class HoldingList(BaseModel):
    customer_id: str
    items: list[HoldingOut]


class SaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check_id: str = Field(description="The suitability check (pass or warn) this sale follows.", max_length=36)

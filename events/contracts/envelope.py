"""The envelope every event travels in, whatever its type."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """Common metadata around an event's payload. Serialized as JSON; the Kafka key is customer_id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(description="Unique event id; consumers de-duplicate on it.")
    type: str = Field(description="Event type, e.g. `customer.created`.", examples=["customer.created"])
    version: int = Field(ge=1, description="Version of the payload schema for this type.")
    source: str = Field(description="Component that emitted the event, e.g. `profile`.")
    time: datetime = Field(description="When the change happened (UTC).")
    customer_id: str = Field(description="The customer concerned; also the Kafka message key (partition key).")
    trace_id: str | None = Field(default=None, description="Id of the request or event that caused this one.")
    traceparent: str | None = Field(
        default=None,
        description="W3C trace context of the change that caused the event (also the `traceparent` header).",
    )
    payload: dict[str, Any] = Field(description="The type- and version-specific body; see the contracts.")

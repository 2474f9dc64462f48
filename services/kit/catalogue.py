"""The data catalogue (R2.1): every field every component stores, declared once, with its data
category, sensitivity, purpose, whether it is encrypted at rest, whether it identifies a person,
and what erasure does to it. Retention is per category, from each component's configuration.

The declarations drive the mechanisms instead of restating them:
- encryption: a model asks `catalogue.column_type(table, field, plain)` for a column's type and
  gets an encrypted one exactly when the field is declared `encrypted` (so `crm rotate-keys`,
  which re-encrypts every declared encrypted column, covers it too: services/kit/rotation.py);
- erasure: `catalogue.erased_values(table)` is what erasure writes over a row (`destroy` fields);
- masking and partner sharing: the gateway reads `sensitivity` and `identifying` over HTTP;
- the record of processing activities (docs/record-of-processing.md) is generated from it.

Each component serves its own catalogue at `GET /api/v1/data-declarations`; the gateway merges
them. A unit test lists every column of every component's models and finds each declared.
"""

from collections.abc import Iterable
from enum import StrEnum

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.kit.crypto import EncryptedDate, EncryptedText


class Category(StrEnum):
    BASIC = "basic"  # identity and contact data
    BUSINESS = "business"  # accounts, holdings, products, consents, cases
    RISK = "risk"  # risk assessments, screening
    BEHAVIOUR = "behaviour"  # activity, interactions, feedback, derived behavioural features
    OPERATIONAL = "operational"  # plumbing about records (ids, times, events, audit): no personal content


class Sensitivity(StrEnum):
    INTERNAL = "internal"  # usable inside the bank without masking
    CONFIDENTIAL = "confidential"  # personal data: masked unless the role needs it in clear
    RESTRICTED = "restricted"  # identifiers: masked, encrypted, looked up only by blind index


class Erasure(StrEnum):
    """What erasing the customer does to the field."""

    DESTROY = "destroy"  # set to null: the value is gone
    DELETE_ROW = "delete_row"  # the whole row is deleted
    PSEUDONYMISE = "pseudonymise"  # the customer id is replaced by a keyed pseudonym
    KEEP = "keep"  # kept: an anonymous aggregate once the identifiers are gone, or a legal record


class FieldDeclaration(BaseModel):
    component: str = ""
    table: str = ""
    name: str
    category: Category
    sensitivity: Sensitivity = Sensitivity.INTERNAL
    encrypted: bool = False
    # Names a person or links records to one (directly or through another system): never leaves
    # for a partner, whatever the consent (data is shared pseudonymised).
    identifying: bool = False
    erasure: Erasure = Erasure.KEEP
    # A keyed hash (blind index) of this field of the same table: re-computed from it when the
    # blind-index key is rotated (services/kit/rotation.py).
    blind_index_of: str | None = None
    purpose: str = ""
    description: str
    retention_days: int | None = Field(
        None,
        description="How long the category is kept by this component (configuration); null: as long as the "
        "record it belongs to.",
    )


def field(name: str, category: Category, description: str, **declared) -> FieldDeclaration:
    return FieldDeclaration(name=name, category=category, description=description, **declared)


class TableDeclaration(BaseModel):
    name: str
    purpose: str
    # When the retention clock of the table's rows starts (human-readable, for the record).
    retention_from: str
    fields: list[FieldDeclaration]


def table(name: str, *, purpose: str, retention_from: str, fields: Iterable[FieldDeclaration]) -> TableDeclaration:
    return TableDeclaration(name=name, purpose=purpose, retention_from=retention_from, fields=list(fields))


OPS = Category.OPERATIONAL

# Plumbing every component keeps (events/store.py, services/kit/audit.py), declared once here.
OUTBOX = table(
    "outbox",
    purpose="Transactional outbox: events waiting for and after publication.",
    retention_from="publication (purged after the configured safe period)",
    fields=[
        field("position", OPS, "Commit order."),
        field("id", OPS, "Event id."),
        field("aggregatetype", OPS, "Subject of the event (customer, consent, ...)."),
        field("aggregateid", OPS, "Customer id (random, not personal data by itself).", identifying=True),
        field("type", OPS, "Event type and version."),
        field("payload", OPS, "The event: ids, codes and categories only, never names, contact data or free text."),
        field("created_at", OPS, "When the event was staged."),
        field("sent_at", OPS, "When the broker took it."),
    ],
)
INBOX = table(
    "inbox",
    purpose="Idempotent consumer: ids of events already applied.",
    retention_from="handling (purged after the configured safe period)",
    fields=[
        field("event_id", OPS, "Id of an applied event."),
        field("event_type", OPS, "Its type."),
        field("handled_at", OPS, "When it was applied."),
    ],
)
AUDIT_LOG = table(
    "audit_log",
    purpose="Proof of who accessed or changed customer data (R2.3).",
    retention_from="never erased (append-only legal record; field names and random ids only)",
    fields=[
        field("id", OPS, "Insertion order."),
        field("at", OPS, "When."),
        field("actor", OPS, "Who acted (staff, customer or job id).", identifying=True),
        field("role", OPS, "Their role."),
        field("action", OPS, "What they did."),
        field("customer_id", OPS, "Whose data.", identifying=True),
        field("fields", OPS, "Names of the fields involved, never their values."),
        field("reason", OPS, "Why, where the role must say.", sensitivity=Sensitivity.CONFIDENTIAL),
        field("outcome", OPS, "Result."),
        field("request_id", OPS, "The request that caused it."),
        field("chain_position", OPS, "Position in the hash chain."),
        field("prev_hash", OPS, "Hash of the previous record."),
        field("hash", OPS, "Hash of this record."),
    ],
)
LEGAL_HOLDS = table(
    "legal_holds",
    purpose="Customers whose data must not be erased (litigation, investigation).",
    retention_from="release of the hold",
    fields=[
        field("customer_id", OPS, "The customer on hold.", identifying=True),
        field("reference", OPS, "The case reference (a code, never free text)."),
        field("placed_at", OPS, "When the hold was placed."),
    ],
)
MESSAGING = (OUTBOX, INBOX, LEGAL_HOLDS)
# services/kit/known_customers.py: which customers exist, for components that take a customer id.
KNOWN_CUSTOMERS = table(
    "known_customers",
    purpose="Refuse ids of customers that do not exist or were erased.",
    retention_from="kept as long as the component keeps data about the customer",
    fields=[
        field("customer_id", OPS, "A customer profile announced.", identifying=True),
        field("erased_at", OPS, "When the customer was erased (their id is refused from then on)."),
    ],
)


class Catalogue:
    """One component's declarations: its own tables plus the shared plumbing it keeps."""

    def __init__(self, component: str, tables: Iterable[TableDeclaration], *, shared: Iterable[TableDeclaration] = ()):
        self.component = component
        self.tables: dict[str, TableDeclaration] = {}
        for declared in [*tables, *shared]:
            if declared.name in self.tables:
                raise ValueError(f"{component}: table {declared.name} declared twice")
            names = [f.name for f in declared.fields]
            if len(names) != len(set(names)):
                raise ValueError(f"{component}.{declared.name}: a field is declared twice")
            self.tables[declared.name] = declared.model_copy(
                update={
                    "fields": [
                        f.model_copy(
                            update={
                                "component": component,
                                "table": declared.name,
                                "purpose": f.purpose or declared.purpose,
                            }
                        )
                        for f in declared.fields
                    ]
                }
            )

    def fields(self, table_name: str | None = None) -> list[FieldDeclaration]:
        tables = self.tables.values() if table_name is None else [self.tables[table_name]]
        return [f for t in tables for f in t.fields]

    def field(self, table_name: str, name: str) -> FieldDeclaration:
        declared = self.tables.get(table_name)
        found = next((f for f in declared.fields if f.name == name), None) if declared else None
        if found is None:
            raise KeyError(f"{self.component}: {table_name}.{name} is not declared in the data catalogue")
        return found

    def column_type(self, table_name: str, name: str, plain: sa.types.TypeEngine) -> sa.types.TypeEngine:
        """The column's type: encrypted at rest exactly when the catalogue declares it so."""
        if not self.field(table_name, name).encrypted:
            return plain
        return EncryptedDate(name) if isinstance(plain, sa.Date) else EncryptedText(name)

    def encrypted(self, table_name: str) -> list[str]:
        return [f.name for f in self.fields(table_name) if f.encrypted]

    def blind_indexes(self, table_name: str) -> dict[str, str]:
        """The table's blind-index columns, each with the field it hashes."""
        return {f.name: f.blind_index_of for f in self.fields(table_name) if f.blind_index_of}

    def erased_values(self, table_name: str) -> dict[str, None]:
        """What erasure writes over a row of `table_name`: every `destroy` field set to null."""
        return {f.name: None for f in self.fields(table_name) if f.erasure is Erasure.DESTROY}

    def served(self, retention_days: dict[str, int] | None = None) -> list[FieldDeclaration]:
        days = retention_days or {}
        return [f.model_copy(update={"retention_days": days.get(f.category)}) for f in self.fields()]

    def router(self) -> APIRouter:
        """`GET /api/v1/data-declarations`: this component's fields, with the retention in force."""
        router = APIRouter(prefix="/api/v1/data-declarations", tags=["data catalogue"])

        @router.get("", response_model=list[FieldDeclaration])
        async def data_declarations(request: Request) -> list[FieldDeclaration]:
            """Every stored field of this component: category, sensitivity, purpose, retention (R2.1)."""
            settings = request.app.state.settings
            return self.served(getattr(settings, "retention_days", None))

        return router


def undeclared_columns(catalogue: Catalogue, metadata: sa.MetaData) -> list[str]:
    """`table.column` of every column in `metadata` the catalogue does not declare."""
    missing = []
    for t in metadata.sorted_tables:
        declared = {f.name for f in catalogue.tables[t.name].fields} if t.name in catalogue.tables else set()
        missing += [f"{t.name}.{c.name}" for c in t.columns if c.name not in declared]
    return missing

"""Pieces the feedback service's domain packages share: who may see which customer's items."""

import sqlalchemy as sa
from fastapi import Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback.customers.models import known_customers
from services.feedback.settings import FeedbackSettings
from services.kit.identity import Actor
from services.kit.problems import NotFound


def settings_of(request: Request) -> FeedbackSettings:
    return request.app.state.settings


class Page(BaseModel):
    next_cursor: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class Scope:
    """Which customers' items `actor` may see: a customer only their own (the id the gateway
    passes in X-Customer-Scope), a relationship manager only their customers' (the manager the
    profile service's events name), other staff roles every customer's."""

    def __init__(self, actor: Actor, settings: FeedbackSettings):
        self.actor = actor
        self.self_scoped = actor.role in settings.self_scoped_roles
        self.assigned_only = actor.role in settings.assigned_only_roles

    def restrict(self, query: sa.Select, customer_column) -> sa.Select:
        if self.self_scoped:
            scope = self.actor.customer_scope
            return query.where(customer_column == scope if scope else sa.false())
        if self.assigned_only:
            managed = sa.select(known_customers.c.customer_id).where(
                known_customers.c.relationship_manager_id == self.actor.id
            )
            return query.where(customer_column.in_(managed))
        return query

    async def may_see(self, session: AsyncSession, customer_id: str) -> bool:
        if self.self_scoped:
            return self.actor.customer_scope == customer_id
        if self.assigned_only:
            manager = await session.scalar(
                sa.select(known_customers.c.relationship_manager_id).where(known_customers.c.customer_id == customer_id)
            )
            return manager is not None and manager == self.actor.id
        return True

    async def require(self, session: AsyncSession, customer_id: str, what: str) -> None:
        """As if the item did not exist when the caller may not see it (no probing for ids)."""
        if not await self.may_see(session, customer_id):
            raise NotFound(f"No {what} has this id.")

    async def require_for_new(self, session: AsyncSession, customer_id: str) -> None:
        """For a new item naming its customer in the request: the gateway has checked a manager
        against the profile service already; here a customer this service has not heard of yet
        (its creation event still on the way) is let through, any other manager refused."""
        if self.assigned_only:
            manager = await session.scalar(
                sa.select(known_customers.c.relationship_manager_id).where(known_customers.c.customer_id == customer_id)
            )
            if manager is not None and manager != self.actor.id:
                raise NotFound("No customer has this id.")
            return
        await self.require(session, customer_id, "customer")

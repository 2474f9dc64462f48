"""Product management: every change is a new product version, numbered across the catalogue."""

from dataclasses import dataclass

import sqlalchemy as sa
from cachetools import LRUCache
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import now
from services.kit.identity import Actor
from services.kit.problems import Conflict, NotFound
from services.recommendation.base import audit
from services.recommendation.facts import product_facts
from services.recommendation.products.models import Product, ProductVersion
from services.recommendation.products.schemas import ProductOut
from services.recommendation.proof import codec
from services.recommendation.rules import ProductFacts


async def catalogue_version(session: AsyncSession) -> int:
    query = sa.select(sa.func.coalesce(sa.func.max(ProductVersion.catalogue_version), 0))
    return (await session.execute(query)).scalar_one()


@dataclass(frozen=True)
class Listed:
    facts: ProductFacts
    out: ProductOut


# catalogue version -> its products on sale; only the newest version read is kept.
_on_sale: LRUCache[int, dict[str, Listed]] = LRUCache(maxsize=1)


async def on_sale(session: AsyncSession) -> tuple[int, dict[str, Listed]]:
    """The products on sale as of the current catalogue version, read once per version and kept
    in the process: every change bumps the version, so no replica serves a stale catalogue."""
    version = await catalogue_version(session)
    if version in _on_sale:
        return version, _on_sale[version]
    rows = await session.scalars(sa.select(Product).where(Product.status == "on_sale").order_by(Product.code))
    listed = {p.code: Listed(product_facts(p), ProductOut.model_validate(p)) for p in rows}
    if await catalogue_version(session) == version:  # no change committed in between: keep it
        _on_sale[version] = listed  # displaces the older version
    return version, listed


async def get(session: AsyncSession, code: str, *, for_update: bool = False) -> Product:
    product = await session.get(Product, code, with_for_update=for_update)
    if product is None:
        raise NotFound(f"No product has the code {code}; list them with GET /api/v1/products.")
    return product


async def record_version(session: AsyncSession, product: Product, change: str, actor: Actor) -> None:
    """Store the product as it now is under the next catalogue version, and audit who changed it.
    Two concurrent changes cannot take the same catalogue version (unique): one gets a 409."""
    product.catalogue_version = await catalogue_version(session) + 1
    product.updated_at = now()
    data = {**codec.dump(product_facts(product)), "title": product.title, "description": product.description}
    session.add(
        ProductVersion(
            code=product.code,
            version=product.version,
            catalogue_version=product.catalogue_version,
            data=data,
            change=change,
            changed_by=actor.id,
            changed_by_role=actor.role,
            changed_at=product.updated_at,
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("Another product change was saved at the same moment; send this one again.") from None
    await audit.record(
        session,
        actor=actor.id,
        role=actor.role,
        action=f"product.{change}",
        customer_id=None,
        fields=[product.code],
        reason=actor.reason,
    )


async def add(session: AsyncSession, fields: dict, actor: Actor) -> Product:
    if await session.get(Product, fields["code"]) is not None:
        raise Conflict(f"A product with the code {fields['code']} exists; change it with PATCH instead.")
    product = Product(**fields, status="on_sale", version=1, catalogue_version=0, updated_at=now())
    session.add(product)
    await record_version(session, product, "added", actor)
    return product


async def change(
    session: AsyncSession, product: Product, changes: dict, actor: Actor, kind: str = "changed"
) -> Product:
    changes = {k: v for k, v in changes.items() if getattr(product, k) != v}
    if changes:
        for name, value in changes.items():
            setattr(product, name, value)
        product.version += 1
        await record_version(session, product, kind, actor)
    return product

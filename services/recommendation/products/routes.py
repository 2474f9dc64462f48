from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request

from events.contracts.terms import ProductRiskLevel
from services.kit.db import SessionDep
from services.kit.identity import ActorDep
from services.kit.params import PathId
from services.kit.problems import PROBLEM_RESPONSES
from services.recommendation.access import PRODUCT_MANAGERS, require_role
from services.recommendation.products import service
from services.recommendation.products.models import Product
from services.recommendation.products.schemas import (
    ProductChange,
    ProductIn,
    ProductList,
    ProductOut,
    ProductType,
    RerateOut,
    RiskRatingIn,
    Status,
)
from services.recommendation.proof.models import RecommendationItem
from services.recommendation.suitability.service import rematch_product

router = APIRouter(prefix="/api/v1/products", responses=PROBLEM_RESPONSES, tags=["products"])


@router.get("", response_model=ProductList)
async def list_products(
    session: SessionDep,
    risk_level: Annotated[ProductRiskLevel | None, Query(description="Only products of this risk level.")] = None,
    product_type: ProductType | None = None,
    status: Status = "on_sale",
) -> ProductList:
    query = sa.select(Product).where(Product.status == status).order_by(Product.risk_level, Product.code)
    if risk_level is not None:
        query = query.where(Product.risk_level == risk_level)
    if product_type is not None:
        query = query.where(Product.product_type == product_type)
    return ProductList(items=(await session.scalars(query)).all())


@router.post("", response_model=ProductOut, status_code=201)
async def add_product(body: ProductIn, session: SessionDep, actor: ActorDep) -> Product:
    require_role(actor, PRODUCT_MANAGERS, "add products")
    async with session.begin():
        return await service.add(session, body.model_dump(), actor)


@router.patch("/{code}", response_model=ProductOut)
async def change_product(code: PathId, body: ProductChange, session: SessionDep, actor: ActorDep) -> Product:
    require_role(actor, PRODUCT_MANAGERS, "change products")
    async with session.begin():
        product = await service.get(session, code, for_update=True)
        return await service.change(
            session, product, body.model_dump(exclude_unset=True, exclude={"risk_level"}), actor
        )


@router.post("/{code}/risk-rating", response_model=RerateOut)
async def rerate_product(
    code: PathId, body: RiskRatingIn, session: SessionDep, actor: ActorDep, request: Request
) -> RerateOut:
    """Re-rate a product; every holder and every open recommendation of it is re-matched in the
    same transaction, and each that no longer fits is announced (`suitability.mismatch_detected`)."""
    require_role(actor, PRODUCT_MANAGERS, "re-rate products")
    async with session.begin():
        product = await service.get(session, code, for_update=True)
        previous = product.risk_level
        await service.change(session, product, {"risk_level": body.risk_level}, actor, kind="rerated")
        holdings, recommendations, mismatches = await rematch_product(session, request.app.state.settings, product)
        return RerateOut(
            product=ProductOut.model_validate(product),
            previous_risk_level=previous,
            holdings_checked=holdings,
            recommendations_checked=recommendations,
            mismatches=mismatches,
        )


@router.post("/{code}/withdrawal", response_model=ProductOut)
async def withdraw_product(code: PathId, session: SessionDep, actor: ActorDep) -> Product:
    """Withdraw from sale: no longer sold or recommended; open recommendations of it close."""
    require_role(actor, PRODUCT_MANAGERS, "withdraw products")
    async with session.begin():
        product = await service.get(session, code, for_update=True)
        await service.change(session, product, {"status": "withdrawn"}, actor, kind="withdrawn")
        await session.execute(
            sa.update(RecommendationItem).where(RecommendationItem.product_code == code).values(open=False)
        )
        return product

"""The ceiling of this stack, for `make bench`: a minimal FastAPI app (uvicorn, uvloop, one
worker) that reads the same customer row by key through SQLAlchemy async and asyncpg, with
nothing else (no identity, audit, decryption, metrics or logging). Every hot path is printed
as a ratio of it, measured in the same run.

    BASELINE_DATABASE_URL=postgresql+asyncpg://... \
        python -m uvicorn tests.baseline_app:app --loop uvloop --port 8100 --no-access-log
"""

import os
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException
from sqlalchemy.ext.asyncio import create_async_engine

customers = sa.table(
    "customers",
    sa.column("id"),
    sa.column("name"),
    sa.column("national_id"),
    sa.column("phone"),
    sa.column("email"),
    sa.column("birth_date"),
    sa.column("address"),
    sa.column("assets_under_management"),
    sa.column("risk_level"),
    sa.column("tier"),
    sa.column("lifecycle_stage"),
    sa.column("relationship_manager_id"),
    sa.column("version"),
)


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.engine = create_async_engine(os.environ["BASELINE_DATABASE_URL"], pool_size=20, max_overflow=10)
    yield
    await app.state.engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/customers/{customer_id}")
async def read(customer_id: str) -> dict:
    async with app.state.engine.connect() as connection:
        row = (await connection.execute(sa.select(customers).where(customers.c.id == customer_id))).first()
    if row is None:
        raise HTTPException(404)
    return {key: str(value) if value is not None else None for key, value in row._mapping.items()}

"""The ceiling of a hop in front of a service on this stack, for `make bench`: a minimal FastAPI
app (uvicorn, uvloop, one worker) that passes a customer read on to profile over a pooled
aiohttp session, with the caller's credential, and returns profile's answer as it came, with
nothing else (no authentication, policy, masking, audit, metrics or logging). The gateway's
read is printed as a ratio of it, measured in the same run.

    BASELINE_UPSTREAM_URL=http://127.0.0.1:8001 \
        python -m uvicorn tests.baseline_proxy:app --loop uvloop --port 8101 --no-access-log
"""

import os
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI, Request, Response

CREDENTIAL = "x-caller-credential"


@asynccontextmanager
async def lifespan(app: FastAPI):
    # The gateway's pool (gateway/upstream.py): keep-alive connections, answers passed through.
    app.state.upstream = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    yield
    await app.state.upstream.close()


app = FastAPI(lifespan=lifespan)


@app.get("/api/v1/customers/{customer_id}")
async def read(customer_id: str, request: Request) -> Response:
    url = f"{os.environ['BASELINE_UPSTREAM_URL']}/api/v1/customers/{customer_id}"
    headers = {CREDENTIAL: request.headers.get(CREDENTIAL, "")}
    async with request.app.state.upstream.get(url, headers=headers) as answer:
        body = await answer.read()
        return Response(body, status_code=answer.status, media_type=answer.headers.get("content-type"))

"""The ceiling of a hop in front of a service on this stack, for `make bench`: a minimal FastAPI
app (uvicorn, uvloop, one worker) that passes a customer read on to profile over the gateway's
pooled connections (gateway/upstream.py, its default transport), with the caller's credential,
and returns profile's answer as it came, with nothing else (no authentication, policy, masking,
audit, metrics or logging). The gateway's read is printed as a ratio of it, measured in the
same run.

    BASELINE_UPSTREAM_URL=http://127.0.0.1:8001 \
        python -m uvicorn tests.baseline_proxy:app --loop uvloop --port 8101 --no-access-log
"""

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from gateway.upstream import open_upstream

CREDENTIAL = "x-caller-credential"


@asynccontextmanager
async def lifespan(app: FastAPI):
    # The gateway's pool, as the gateway opens it by default: kept-alive connections.
    app.state.upstream = open_upstream("http11", pool_size=100, timeout_seconds=10.0)
    yield
    await app.state.upstream.close()


app = FastAPI(lifespan=lifespan)


@app.get("/api/v1/customers/{customer_id}")
async def read(customer_id: str, request: Request) -> Response:
    url = f"{os.environ['BASELINE_UPSTREAM_URL']}/api/v1/customers/{customer_id}"
    headers = {CREDENTIAL: request.headers.get(CREDENTIAL, "")}
    answer = await request.app.state.upstream.request("GET", url, headers=headers, body=b"")
    return Response(answer.body, status_code=answer.status, media_type=answer.headers.get("content-type"))

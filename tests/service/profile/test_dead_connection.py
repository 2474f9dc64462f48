"""Pools without a ping per checkout: connections that died while pooled (here, ended by the
server as a restart or failover would) cost one request a 503; the pool is then renewed."""

import asyncpg

from tests.support import new_customer


async def test_dead_pooled_connections_fail_one_request_then_the_pool_is_renewed(service):
    profile = await service("profile")
    async with profile.client("admin", "admin-1") as http:
        created = await http.post("/api/v1/customers", json=new_customer())
        assert created.status_code == 201, created.text
        path = f"/api/v1/customers/{created.json()['id']}"
        assert (await http.get(path)).status_code == 200  # pooled connections now exist

        url = profile.engine.url
        dba = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, database="postgres")
        try:
            ended = await dba.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1", url.database
            )
        finally:
            await dba.close()
        assert ended >= 1

        answers = [(await http.get(path)) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 200, 200], [a.text for a in answers]
    assert answers[0].headers["retry-after"] == "1"

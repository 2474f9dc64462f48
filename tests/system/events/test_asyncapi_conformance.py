"""What the running system publishes is what events/contracts/asyncapi.yaml says (the session
also checks every published event at its end, tests/system/conftest.py; that the check catches
a bad event is shown in tests/unit/events/test_asyncapi_check.py)."""

from tests.support import AsyncApiConformance, eventually, onboard_through_gateway


async def test_published_events_match_the_asyncapi_document(system, client):
    await onboard_through_gateway(client, system, "rm-asyncapi")

    async def checked():
        seen = await AsyncApiConformance().check_broker(system.bootstrap_servers)
        assert {"customer_created_v1", "consent_granted_v1", "complaint_opened_v1"} <= set(seen), seen
        return seen

    await eventually(checked, timeout=60)

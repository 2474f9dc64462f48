"""Free text (comments, descriptions, notes) is sealed at rest and re-sealed by key rotation, which
the data catalogue drives (every field it declares encrypted)."""

import json

import sqlalchemy as sa

from services.components import spec_of
from services.kit import crypto
from services.kit.rotation import rotate_component
from tests.service.feedback.conftest import case_body, known_customer

OLD, NEW, BLIND = crypto.new_key(), crypto.new_key(), crypto.new_key()


async def _stored(feedback) -> list[str]:
    async with feedback.engine.connect() as connection:
        rows = await connection.execute(
            sa.text(
                "SELECT description FROM cases WHERE description IS NOT NULL UNION ALL "
                "SELECT body FROM case_notes WHERE body IS NOT NULL UNION ALL "
                "SELECT comment FROM feedback WHERE comment IS NOT NULL"
            )
        )
        return [row[0] for row in rows]


async def test_rotation_reseals_every_free_text_under_the_new_key(service, monkeypatch):
    feedback = await service(
        "feedback",
        FEEDBACK_ENCRYPTION_KEYS=json.dumps({"old": OLD}),
        FEEDBACK_ACTIVE_KEY_ID="old",
        FEEDBACK_BLIND_INDEX_KEY=BLIND,
    )
    # Free text other tests sealed under the development key would not open with these keys.
    async with feedback.engine.begin() as connection:
        for table, column in (("cases", "description"), ("case_notes", "body"), ("feedback", "comment")):
            await connection.execute(sa.text(f"UPDATE {table} SET {column} = NULL"))
    customer_id = await known_customer(feedback)
    async with feedback.client("service_agent", "agent-7") as agent:
        case_id = (await agent.post("/api/v1/cases", json=case_body(customer_id))).json()["id"]
        await agent.post(f"/api/v1/cases/{case_id}/notes", json={"text": "Spoke to Wang Fang"})
        await agent.post(
            "/api/v1/feedback",
            json={
                "customer_id": customer_id,
                "survey": "csat",
                "score": 4,
                "channel": "web",
                "comment": "Thanks to 13800138000",
            },
        )
    before = await _stored(feedback)
    assert len(before) == 3 and all(value.startswith("old:") for value in before)
    assert not any("13800138000" in value or "Wang" in value for value in before)

    env = {
        "FEEDBACK_ENCRYPTION_KEYS": json.dumps({"old": OLD, "new": NEW}),
        "FEEDBACK_ACTIVE_KEY_ID": "new",
        "FEEDBACK_BLIND_INDEX_KEY": BLIND,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = spec_of("feedback")  # as `crm rotate-keys feedback` reads it
    assert await rotate_component(spec, batch_size=2) == ({"cases": 1, "case_notes": 1, "feedback": 1}, {})
    rotated, _ = await rotate_component(spec)
    assert sum(rotated.values()) == 0
    after = await _stored(feedback)
    assert len(after) == 3 and all(value.startswith("new:") for value in after)

    renewed = await service("feedback", **env)
    async with renewed.client("service_agent", "agent-7") as agent:
        case = (await agent.get(f"/api/v1/cases/{case_id}")).json()
        notes = (await agent.get(f"/api/v1/cases/{case_id}/notes")).json()
    assert case["case_description"].startswith("Charged twice") and notes[0]["note_text"] == "Spoke to Wang Fang"

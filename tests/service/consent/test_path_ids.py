"""A consent id no column can hold is refused (422) before the database is asked."""

import pytest


@pytest.mark.parametrize("consent_id", ["x" * 65, "a\x00b"])
async def test_a_consent_id_no_column_can_hold_is_a_422(service, consent_id):
    consent = await service("consent")
    async with consent.client("compliance_officer", "co-1") as http:
        answer = await http.get("/api/v1/consents/" + consent_id.replace("\x00", "%00"))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")

"""Screening through the gateway: a pinyin variant of a listed Han-character name stays in
onboarding with an alert; one officer cannot clear it alone; clearing lets the transition
through; a new list version (loaded with `crm screening load`) re-screens the book and raises a
new hit. Also `crm screening match` on a file of names."""

import csv
import json
import uuid

import httpx
import pytest

from tests.support import eventually, new_customer

REASON = {"X-Access-Reason": "sanctions screening"}


def ftm_file(path, *people: tuple[str, str, str]) -> str:
    with path.open("w", encoding="utf-8") as out:
        for entity_id, name, born in people:
            out.write(
                json.dumps(
                    {
                        "id": entity_id,
                        "schema": "Person",
                        "properties": {
                            "name": [name],
                            "birthDate": [born],
                            "nationality": ["cn"],
                            "topics": ["sanction"],
                        },
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return str(path)


@pytest.fixture
async def gateway(system):
    async with httpx.AsyncClient(base_url=system.url("gateway"), timeout=30) as http:
        yield http


async def onboard(gateway, system, name: str, born: str) -> str:
    answer = await gateway.post(
        "/api/v1/customers",
        headers=system.headers("relationship_manager"),
        json=new_customer(name=name, birth_date=born, nationality="CN", lifecycle_stage="onboarding"),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


async def rescreened(gateway, system, list_name: str, version: int) -> None:
    """Wait until the profile's job has re-screened the whole book for that list version."""

    async def done():
        answer = await gateway.get(
            "/api/v1/screening/lists", headers=system.headers("compliance_officer", "co-1", **REASON)
        )
        [mine] = [v for v in answer.json() if v["name"] == list_name and v["version"] == version]
        assert mine["rescreening"] == "done"

    await eventually(done, timeout=30)


async def alerts_of(gateway, system, customer_id: str, officer="co-1") -> list[dict]:
    answer = await gateway.get(
        "/api/v1/screening/alerts",
        params={"customer_id": customer_id},
        headers=system.headers("compliance_officer", officer, **REASON),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_screening_holds_onboarding_until_two_officers_clear_and_a_new_list_version_rescreens(
    gateway, system, tmp_path
):
    list_name = f"sanctions-{uuid.uuid4().hex[:6]}"
    system.run_cli(
        "screening",
        "load",
        "--list",
        ftm_file(tmp_path / "v1.jsonl", ("ent-1", "龙海涛", "1970-02-11")),
        "--format",
        "ftm",
        "--name",
        list_name,
    )
    await rescreened(gateway, system, list_name, 1)

    customer = await onboard(gateway, system, "Lóng Hǎitāo", "1970-02-11")  # pinyin with tones
    bystander = await onboard(gateway, system, "Jiang Wenli", "1982-07-30")
    [alert] = await alerts_of(gateway, system, customer)
    assert alert["entity_id"] == "ent-1" and alert["status"] == "open"
    assert await alerts_of(gateway, system, bystander) == []

    # Managers and agents do not see the queue.
    for role in ("relationship_manager", "service_agent", "customer"):
        assert (await gateway.get("/api/v1/screening/alerts", headers=system.headers(role))).status_code == 403

    activate = {"stage": "active", "reason": "kyc complete"}
    refused = await gateway.post(
        f"/api/v1/customers/{customer}/lifecycle", json=activate, headers=system.headers("relationship_manager")
    )
    assert refused.status_code == 409
    assert refused.json()["reason_code"] == "SCREENING_HIT_OPEN"
    assert "ent-1" not in refused.text and list_name not in refused.text

    decision = {"outcome": "false_positive", "reason": "different person: birth place and passport differ"}
    path = f"/api/v1/screening/alerts/{alert['id']}/decisions"
    first = await gateway.post(path, json=decision, headers=system.headers("compliance_officer", "co-1", **REASON))
    assert first.status_code == 200 and first.json()["status"] == "confirming"
    alone = await gateway.post(path, json=decision, headers=system.headers("compliance_officer", "co-1", **REASON))
    assert alone.status_code == 409
    still = await gateway.post(
        f"/api/v1/customers/{customer}/lifecycle", json=activate, headers=system.headers("relationship_manager")
    )
    assert still.status_code == 409

    second = await gateway.post(path, json=decision, headers=system.headers("compliance_officer", "co-2", **REASON))
    assert second.status_code == 200 and second.json()["status"] == "false_positive"
    through = await gateway.post(
        f"/api/v1/customers/{customer}/lifecycle", json=activate, headers=system.headers("relationship_manager")
    )
    assert through.status_code == 200 and through.json()["lifecycle_stage"] == "active"

    # Version 2 keeps ent-1 unchanged and adds someone close to the bystander: the book is
    # re-screened by the profile service's job; only the new hit is raised.
    system.run_cli(
        "screening",
        "load",
        "--list",
        ftm_file(tmp_path / "v2.jsonl", ("ent-1", "龙海涛", "1970-02-11"), ("ent-2", "江文丽", "1982-07-30")),
        "--format",
        "ftm",
        "--name",
        list_name,
    )

    async def new_hit():
        found = await alerts_of(gateway, system, bystander)
        assert len(found) == 1
        return found[0]

    await rescreened(gateway, system, list_name, 2)
    hit = await new_hit()
    assert hit["entity_id"] == "ent-2" and hit["trigger"] == "list_version" and hit["list_version"] == 2
    assert await alerts_of(gateway, system, customer) == []  # the false positive is remembered
    versions = await gateway.get(
        "/api/v1/screening/lists", headers=system.headers("compliance_officer", "co-1", **REASON)
    )
    mine = [v for v in versions.json() if v["name"] == list_name]
    assert [(v["version"], v["active"]) for v in mine] == [(2, True), (1, False)]


def test_crm_screening_match_writes_a_decision_for_every_row(system, tmp_path):
    list_name = f"peps-{uuid.uuid4().hex[:6]}"
    system.run_cli(
        "screening",
        "load",
        "--list",
        ftm_file(tmp_path / "peps.jsonl", ("pep-9", "欧阳振国", "1958-04-02")),
        "--format",
        "ftm",
        "--name",
        list_name,
    )
    names = tmp_path / "names.csv"
    names.write_text(
        "id,name,birth_date,nationality\n1,Ouyang Zhenguo,1958-04-02,cn\n2,OUYANG ZHEN GUO,,\n"
        "3,Maria Fernanda Lopes,1990-01-01,br\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    system.run_cli("screening", "match", "--names", str(names), "--out", str(out))
    with out.open() as result:
        rows = {row["id"]: row for row in csv.DictReader(result)}
    assert list(rows["1"]) == ["id", "entity_id", "score", "decision"]
    assert rows["1"]["entity_id"] == "pep-9" and rows["1"]["decision"] == "match"
    assert rows["2"]["entity_id"] == "pep-9" and rows["2"]["decision"] in ("match", "review")
    assert rows["3"]["entity_id"] == "" and rows["3"]["decision"] == "clear"

"""The shared domain terms: one definition each, whose values are the wire format of events and
APIs (changing one breaks every consumer, so the values are pinned here)."""

import json

import pytest

from events.contracts import CustomerLifecycleChangedV1, CustomerTierChangedV1, RiskAssessmentCompletedV1, asyncapi
from events.contracts.terms import (
    ChurnBand,
    ConsentHistoryStatus,
    ConsentStatus,
    ProductRiskLevel,
    RiskLevel,
    Stage,
    Tier,
)
from services.components import COMPONENTS
from tests.support import openapi_document

WIRE_VALUES = {
    RiskLevel: ["C1", "C2", "C3", "C4", "C5"],
    ProductRiskLevel: ["R1", "R2", "R3", "R4", "R5"],
    Tier: ["high_net_worth", "affluent", "mass", "potential"],
    Stage: ["prospect", "onboarding", "active", "dormant", "churned"],
    ConsentStatus: ["requested", "active", "rejected", "revoked", "expired"],
    ConsentHistoryStatus: ["requested", "approved", "active", "rejected", "revoked", "expired"],
    ChurnBand: ["low", "medium", "high"],
}


@pytest.mark.parametrize("term", WIRE_VALUES, ids=lambda term: term.__name__)
def test_the_wire_values_of_each_term_stay_as_published(term):
    assert [member.value for member in term] == WIRE_VALUES[term]


def test_every_consent_status_is_also_a_history_status():
    assert {s.value for s in ConsentStatus} < {s.value for s in ConsentHistoryStatus}


def test_payloads_carry_the_terms_as_plain_strings():
    payloads = [
        CustomerTierChangedV1(customer_id="c-1", previous_tier=None, tier=Tier.AFFLUENT),
        CustomerLifecycleChangedV1(customer_id="c-1", previous_stage="prospect", stage=Stage.ONBOARDING),
    ]
    assert [json.loads(p.model_dump_json()) for p in payloads] == [
        {"customer_id": "c-1", "previous_tier": None, "tier": "affluent"},
        {"customer_id": "c-1", "previous_stage": "prospect", "stage": "onboarding"},
    ]
    with pytest.raises(ValueError):
        RiskAssessmentCompletedV1.model_validate({"risk_level": "C6"})


def test_the_asyncapi_document_describes_each_term_once_by_reference():
    document = asyncapi.document()
    schemas = document["components"]["schemas"]
    for term in (RiskLevel, Tier, Stage, ChurnBand):
        assert schemas[term.__name__]["enum"] == WIRE_VALUES[term]
    # No payload keeps a local definition that a reader of the document could not resolve.
    assert "$defs" not in json.dumps(schemas)


def test_every_service_publishes_a_term_under_its_name_with_its_values():
    for component in sorted(set(COMPONENTS) - {"gateway"}):
        schemas = openapi_document(component).get("components", {}).get("schemas", {})
        for term, values in WIRE_VALUES.items():
            if term.__name__ in schemas:
                assert schemas[term.__name__]["enum"] == values, (component, term.__name__)

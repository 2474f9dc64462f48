"""The `masked` claim of a caller credential: the fields the gateway masks in the caller's answer,
which a service recording the access leaves out of the fields released in clear."""

import base64
import json
import time

import jwt
import pytest

from services.kit.identity import AUDIENCE, ISSUER, Actor, sign_credential, verify_credential
from services.kit.problems import Unauthorized

KEY = "m" * 44
RETURNED = ["name", "national_id", "phone", "segment"]


def test_a_caller_the_gateway_masks_for_receives_the_rest_in_clear():
    actor = verify_credential(KEY, sign_credential(KEY, "service_agent", "agent-1", masked=("name", "national_id")))
    assert actor.masked == frozenset({"name", "national_id"})
    assert actor.released_in_clear(RETURNED) == ["phone", "segment"]


def test_an_empty_list_masks_nothing_and_no_claim_means_no_masking_known():
    nothing_masked = verify_credential(KEY, sign_credential(KEY, "compliance_officer", "o-1", masked=()))
    assert nothing_masked.masked == frozenset()
    unknown = verify_credential(KEY, sign_credential(KEY, "gateway", "gateway"))
    assert unknown.masked is None
    assert nothing_masked.released_in_clear(RETURNED) == unknown.released_in_clear(RETURNED) == RETURNED


def test_the_claim_is_signed_with_the_rest():
    token = sign_credential(KEY, "service_agent", "agent-2", masked=("name",))
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, KEY, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    # Claim everything in clear, keeping the gateway's signature of the original claims.
    edited = base64.urlsafe_b64encode(json.dumps({**claims, "masked": []}).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthorized):
        verify_credential(KEY, f"{header}.{edited}.{signature}")
    assert verify_credential(KEY, token).masked == frozenset({"name"})


@pytest.mark.parametrize("masked", ["name", [1, 2], {"name": True}])
def test_a_malformed_claim_is_refused(masked):
    issued = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": issued, "exp": issued + 60, "sub": "a", "role": "admin"}
    verify_credential(KEY, jwt.encode(claims, KEY, algorithm="HS256"))  # valid without the claim
    with pytest.raises(Unauthorized):
        verify_credential(KEY, jwt.encode({**claims, "masked": masked}, KEY, algorithm="HS256"))


def test_an_actor_made_in_process_masks_nothing():
    assert Actor("job:x", "system", None, None).released_in_clear(RETURNED) == RETURNED

"""Consent receipts: the Kantara Consent Receipt v1.1 fields (ISO/IEC 29184 notice record)."""

from services.consent.models import Consent
from services.consent.schemas import ConsentReceipt, PiiController, PurposeReceipt, ServiceReceipt
from services.consent.settings import ConsentSettings

# Kantara purpose categories; sharing outside the bank takes the third-party variant.
_PURPOSE_CATEGORIES = {
    "marketing": ("Marketing", "Marketing Third Parties"),
    "credit_assessment": ("Core Function", "3rd Party Sharing for Core Function"),
    "risk_control": ("Protecting Our Interests", "3rd Party Sharing for Core Function"),
    "third_party_sharing": ("3rd Party Sharing for Core Function", "3rd Party Sharing for Core Function"),
    "analytics": ("Improve Performance", "3rd Party Sharing for Core Function"),
}
# Sensitive personal information (PIPL art. 28, GB/T 35273): identity numbers (basic),
# financial accounts and assets (business), credit and risk standing (risk).
SENSITIVE_CATEGORIES = ("basic", "business", "risk")


def receipt(consent: Consent, settings: ConsentSettings) -> ConsentReceipt:
    external = consent.recipient_type == "external"
    if consent.expires_at is None:
        termination = "Until the customer revokes it."
    else:
        termination = f"At {consent.expires_at.isoformat()}, or earlier when the customer revokes it."
    spi = [c for c in consent.data_categories if c in SENSITIVE_CATEGORIES]
    purpose = PurposeReceipt(
        purpose=consent.purpose,
        purposeCategory=[_PURPOSE_CATEGORIES[consent.purpose][external]],
        piiCategory=consent.data_categories,
        termination=termination,
        thirdPartyDisclosure=external,
        thirdPartyName=consent.recipient if external else None,
    )
    return ConsentReceipt(
        jurisdiction=settings.jurisdiction,
        consentTimestamp=int((consent.granted_at or consent.created_at).timestamp()),
        collectionMethod=consent.channel,
        consentReceiptID=consent.id,
        language=consent.language,
        piiPrincipalId=consent.customer_id,
        piiControllers=[PiiController(piiController=settings.controller_name, contact=settings.controller_contact)],
        policyUrl=settings.policy_url,
        services=[ServiceReceipt(service=consent.recipient, purposes=[purpose])],
        sensitive=bool(spi),
        spiCat=spi,
        notice_text_sha256=consent.notice_text_sha256,
        legal_basis=consent.legal_basis,
        status=consent.current_status,
    )

"""The data catalogue (R2.1): every customer field the platform stores, declared once with its
category and sensitivity. Requests naming an undeclared field are refused
("minimum necessary"); the catalogue is served over HTTP so the gateway's masking and other
teams read the same truth.
"""

from enum import StrEnum

from pydantic import BaseModel


class Category(StrEnum):
    BASIC = "basic"
    BUSINESS = "business"
    RISK = "risk"
    BEHAVIOUR = "behaviour"


class Sensitivity(StrEnum):
    INTERNAL = "internal"  # usable inside the bank without masking
    CONFIDENTIAL = "confidential"  # personal data: masked unless the role needs it in clear
    RESTRICTED = "restricted"  # identifiers: masked, encrypted, looked up only by blind index


class FieldDeclaration(BaseModel):
    name: str
    category: Category
    sensitivity: Sensitivity
    encrypted: bool
    # Names a person or links records to one (directly or through another system): never leaves
    # for a partner, whatever the consent (data is shared pseudonymised).
    identifying: bool = False
    description: str


FIELDS: tuple[FieldDeclaration, ...] = (
    FieldDeclaration(name="name", identifying=True, category=Category.BASIC, sensitivity=Sensitivity.CONFIDENTIAL, encrypted=True,
                     description="Full legal name."),
    FieldDeclaration(name="national_id", identifying=True, category=Category.BASIC, sensitivity=Sensitivity.RESTRICTED, encrypted=True,
                     description="National identity number."),
    FieldDeclaration(name="phone", identifying=True, category=Category.BASIC, sensitivity=Sensitivity.RESTRICTED, encrypted=True,
                     description="Mobile phone number."),
    FieldDeclaration(name="email", identifying=True, category=Category.BASIC, sensitivity=Sensitivity.CONFIDENTIAL, encrypted=True,
                     description="E-mail address."),
    FieldDeclaration(name="birth_date", identifying=True, category=Category.BASIC, sensitivity=Sensitivity.CONFIDENTIAL, encrypted=True,
                     description="Date of birth (suitability checks for elderly customers)."),
    FieldDeclaration(name="address", identifying=True, category=Category.BASIC, sensitivity=Sensitivity.CONFIDENTIAL, encrypted=True,
                     description="Residential address."),
    FieldDeclaration(name="nationality", identifying=True, category=Category.RISK, sensitivity=Sensitivity.CONFIDENTIAL,
                     encrypted=True, description="Nationality, ISO 3166 alpha-2 (sanctions screening, AML risk)."),
    FieldDeclaration(name="residence_country", identifying=True, category=Category.RISK, sensitivity=Sensitivity.CONFIDENTIAL,
                     encrypted=True, description="Country of residence, ISO 3166 alpha-2 (AML risk)."),
    FieldDeclaration(name="occupation", identifying=True, category=Category.RISK, sensitivity=Sensitivity.CONFIDENTIAL, encrypted=True,
                     description="Occupation code, e.g. salaried, money_services, casino (AML risk)."),
    FieldDeclaration(name="onboarding_channel", category=Category.RISK, sensitivity=Sensitivity.INTERNAL,
                     encrypted=False, description="How the relationship began: branch, online, agent, partner (AML risk)."),
    FieldDeclaration(name="cash_intensity", category=Category.RISK, sensitivity=Sensitivity.INTERNAL,
                     encrypted=False, description="Expected share of cash in the customer's business: low, medium, high (AML risk)."),
    FieldDeclaration(name="assets_under_management", category=Category.BUSINESS, sensitivity=Sensitivity.INTERNAL,
                     encrypted=False, description="Assets held with the bank, reporting currency."),
    FieldDeclaration(name="product_holdings", category=Category.BUSINESS, sensitivity=Sensitivity.INTERNAL,
                     encrypted=False, description="Number of products held (tiering)."),
    FieldDeclaration(name="external_ref", identifying=True, category=Category.BUSINESS, sensitivity=Sensitivity.INTERNAL,
                     encrypted=False, description="The bank's core-banking reference."),
    FieldDeclaration(name="lifecycle_stage", category=Category.BEHAVIOUR, sensitivity=Sensitivity.INTERNAL,
                     encrypted=False, description="Prospect, onboarding, active, dormant or churned."),
    FieldDeclaration(name="relationship_manager_id", identifying=True, category=Category.BUSINESS, sensitivity=Sensitivity.INTERNAL,
                     encrypted=False, description="The assigned relationship manager."),
    FieldDeclaration(name="tier", category=Category.BUSINESS, sensitivity=Sensitivity.INTERNAL, encrypted=False,
                     description="High-net-worth, affluent, mass or potential (derived from assets and holdings)."),
    FieldDeclaration(name="risk_level", category=Category.RISK, sensitivity=Sensitivity.INTERNAL, encrypted=False,
                     description="Risk assessment C1 (most cautious) to C5."),
)
BY_NAME = {field.name: field for field in FIELDS}

"""The bank's shared domain terms, one definition each: event payloads, service APIs, models and
rules all take them from here. Each is a string enum whose values are the wire format, so an
event, a JSON body or a database row carries the same plain strings as before; a value changes
only with a new contract version."""

from enum import StrEnum


class RiskLevel(StrEnum):
    """A customer's risk tolerance from the risk assessment, C1 (most cautious) to C5."""

    C1 = "C1"
    C2 = "C2"
    C3 = "C3"
    C4 = "C4"
    C5 = "C5"


class ProductRiskLevel(StrEnum):
    """A product's risk rating, R1 (lowest) to R5; a product suits customers of level C<n> up to R<n>."""

    R1 = "R1"
    R2 = "R2"
    R3 = "R3"
    R4 = "R4"
    R5 = "R5"


class Tier(StrEnum):
    """The customer's tier (from assets, holdings and activity), which sets the service plan."""

    HIGH_NET_WORTH = "high_net_worth"
    AFFLUENT = "affluent"
    MASS = "mass"
    POTENTIAL = "potential"


class Stage(StrEnum):
    """The customer's lifecycle stage."""

    PROSPECT = "prospect"
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    DORMANT = "dormant"
    CHURNED = "churned"


class ConsentStatus(StrEnum):
    """A data-sharing consent's state: requested (awaiting a compliance officer), active,
    rejected, revoked or expired."""

    REQUESTED = "requested"
    ACTIVE = "active"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ConsentHistoryStatus(StrEnum):
    """A status in a consent's history: a ConsentStatus, or `approved`, which appears only there
    (an approved consent is active at once)."""

    REQUESTED = ConsentStatus.REQUESTED.value
    APPROVED = "approved"
    ACTIVE = ConsentStatus.ACTIVE.value
    REJECTED = ConsentStatus.REJECTED.value
    REVOKED = ConsentStatus.REVOKED.value
    EXPIRED = ConsentStatus.EXPIRED.value


class ChurnBand(StrEnum):
    """A customer's churn-risk band from the churn score, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

"""Who may do what here, checked again behind the gateway (which checks it first)."""

from services.kit.identity import Actor
from services.kit.problems import Forbidden, NotFound

PRODUCT_MANAGERS = frozenset({"product_manager"})
# Who may answer the questionnaire or propose a sale: the customer themselves, or their manager.
CUSTOMER_OR_MANAGER = frozenset({"customer", "relationship_manager"})


def require_role(actor: Actor, allowed: frozenset[str], what: str) -> None:
    if actor.role not in allowed:
        raise Forbidden(f"The role '{actor.role}' may not {what}; allowed: {', '.join(sorted(allowed))}.")


def own_customer(actor: Actor, customer_id: str) -> None:
    """A customer acts only for themselves; any other id looks as if it did not exist."""
    if actor.role == "customer" and actor.id != customer_id:
        raise NotFound("No customer has this id.")

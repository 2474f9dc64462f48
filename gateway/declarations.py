"""The gateway's part of the data catalogue (services/kit/catalogue.py): its access audit."""

from services.kit.catalogue import AUDIT_LOG, Catalogue

CATALOGUE = Catalogue("gateway", [], shared=[AUDIT_LOG])

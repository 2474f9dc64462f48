"""Every table of the churn database (for migrations and the app): one import registers them all."""

from services.churn.base import Base, inbox_table, legal_holds, outbox, outbox_table
from services.churn.features.models import CustomerFeatures
from services.churn.features.value import ValueBasis
from services.churn.playbooks.models import Intervention, RetentionTask
from services.churn.points.models import PointsAccount, PointsMovement

__all__ = [
    "Base",
    "CustomerFeatures",
    "Intervention",
    "PointsAccount",
    "PointsMovement",
    "RetentionTask",
    "ValueBasis",
    "inbox_table",
    "legal_holds",
    "outbox",
    "outbox_table",
]

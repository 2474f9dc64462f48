"""Every table of the feedback database (one metadata for the app and its migrations)."""

from services.feedback.cases.models import Case, CaseNote
from services.feedback.customers.models import known_customers
from services.feedback.db import Base, inbox_table, legal_holds, outbox, outbox_table
from services.feedback.kpis.rollup import AnswerDaily, AnswerHourly, CaseDaily, CaseHourly
from services.feedback.sla.models import SlaClock
from services.feedback.surveys.models import SurveyAnswer, SurveyInvitation

__all__ = [
    "AnswerDaily",
    "AnswerHourly",
    "Base",
    "Case",
    "CaseDaily",
    "CaseHourly",
    "CaseNote",
    "SlaClock",
    "SurveyAnswer",
    "SurveyInvitation",
    "inbox_table",
    "known_customers",
    "legal_holds",
    "outbox",
    "outbox_table",
]

"""Key rotation of the feedback service's free text: answer comments, case descriptions, notes.

Run after adding the new key to FEEDBACK_ENCRYPTION_KEYS and making it FEEDBACK_ACTIVE_KEY_ID
(every replica first, so new writes use it); remove the old key once this reports 0 left.
"""

import asyncio

from services.feedback.cases.models import Case, CaseNote
from services.feedback.settings import FeedbackSettings
from services.feedback.surveys.models import SurveyAnswer
from services.kit import crypto, db
from services.kit.rotation import reseal_column

ENCRYPTED = (SurveyAnswer.comment, Case.description, CaseNote.body)


async def rotate(settings: FeedbackSettings, batch_size: int = 500) -> int:
    crypto.install(settings.keyring())
    engine = db.create_engine(settings.database_url)
    sessions = db.session_factory(engine)
    rotated = 0
    try:
        for column in ENCRYPTED:
            while True:
                async with sessions() as session, session.begin():
                    resealed = await reseal_column(session, column, batch_size)
                if not resealed:
                    break
                rotated += resealed
        return rotated
    finally:
        await engine.dispose()


def main() -> None:
    rotated = asyncio.run(rotate(FeedbackSettings()))
    print(f"feedback: {rotated} free-text values re-encrypted under the active key")

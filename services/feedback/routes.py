import uuid

from fastapi import APIRouter, status

from events.contracts import ComplaintOpenedV1, FeedbackReceivedV1
from services.kit.clock import now
from services.feedback.models import Complaint, Feedback, known_customers, outbox
from services.feedback.schemas import ComplaintCreate, ComplaintOut, FeedbackCreate, FeedbackOut
from services.kit.db import SessionDep
from services.kit.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


@router.post("/feedback", tags=["feedback"], status_code=status.HTTP_201_CREATED, response_model=FeedbackOut)
async def record_feedback(body: FeedbackCreate, session: SessionDep) -> Feedback:
    async with session.begin():
        await known_customers.require(session, body.customer_id)
        feedback = Feedback(id=str(uuid.uuid4()), received_at=now(), **body.model_dump())
        session.add(feedback)
        await session.flush()
        event = FeedbackReceivedV1(
            feedback_id=feedback.id,
            customer_id=feedback.customer_id,
            survey=feedback.survey,
            score=feedback.score,
            channel=feedback.channel,
        )
        await outbox.emit(session, "feedback.received", event)
    return feedback


@router.post("/complaints", tags=["complaints"], status_code=status.HTTP_201_CREATED, response_model=ComplaintOut)
async def open_complaint(body: ComplaintCreate, session: SessionDep) -> Complaint:
    async with session.begin():
        await known_customers.require(session, body.customer_id)
        complaint = Complaint(id=str(uuid.uuid4()), status="open", opened_at=now(), **body.model_dump())
        session.add(complaint)
        await session.flush()
        event = ComplaintOpenedV1(
            complaint_id=complaint.id,
            customer_id=complaint.customer_id,
            category=complaint.category,
            channel=complaint.channel,
        )
        await outbox.emit(session, "complaint.opened", event)
    return complaint

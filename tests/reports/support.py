"""Builders for the report tests: responses and invitations at chosen moments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from app.extensions import db
from app.surveys import services as surveys
from app.surveys.models import Response, SurveyInvitation
from app.tenancy import tenant_context
from tests.support.data import make_invitation


def respond(app, tenant_id: int, contact_id: int, scores: tuple[int, ...] | int, at: datetime,
            source: str = "hosted") -> int:
    """Answer a fresh invitation with each of ``scores`` in turn (more than one: the answer is amended), then
    move the response and its invitation to ``at``; returns the response id."""
    scores = (scores,) if isinstance(scores, int) else scores
    token = make_invitation(app, tenant_id, contact_id)
    with app.app_context():
        invitation = surveys.find_invitation(token)
        with tenant_context(tenant_id):
            for score in scores:
                response = surveys.record_answer(invitation, score, None)
                db.session.commit()
            response_id, invitation_id = response.id, invitation.id
            db.session.execute(update(Response).where(Response.id == response_id)
                               .values(created_at=at, source=source))
            db.session.execute(update(SurveyInvitation).where(SurveyInvitation.id == invitation_id)
                               .values(created_at=at))
            db.session.commit()
        db.session.remove()
    return response_id


def unanswered_invitation(app, tenant_id: int, contact_id: int, at: datetime) -> None:
    """An invitation sent at ``at`` and never answered (its link lasts the usual lifetime from then)."""
    make_invitation(app, tenant_id, contact_id)
    with app.app_context(), tenant_context(tenant_id):
        latest = db.session.execute(db.select(SurveyInvitation).order_by(SurveyInvitation.id.desc())).scalars().first()
        latest.created_at = at
        latest.expires_at = at + surveys.INVITATION_LIFETIME
        db.session.commit()
        db.session.remove()


def roll_up(app) -> None:
    """Run the sweep's report rollup, as the worker would."""
    from app.reports.rollup import roll_up as sweep_rollups

    with app.app_context():
        sweep_rollups()
        db.session.remove()

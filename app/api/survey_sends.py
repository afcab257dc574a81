"""``/api/v1/survey-sends``: send the survey to chosen contacts or to a recipient role, with the send page's
rules (app.surveys.services: the verified-sender gate, the throttle window, one invitation per contact)."""
from __future__ import annotations

from flask import g, request
from sqlalchemy import select

from app.api import schemas
from app.api.core import ApiError, actor, audit_change, bp, get_or_404, iso, responses, spec, writes
from app.contacts.models import RecipientRole
from app.extensions import db
from app.surveys import services
from app.surveys.models import SurveySend

MAX_CONTACTS = 1000


def serialise(send: SurveySend) -> dict:
    return {"id": send.id, "status": send.status, "role": send.role.name if send.role else None,
            "contact_ids": send.contact_ids, "total": send.total, "queued": send.queued,
            "skipped_throttled": send.skipped_throttled, "throttle_days": send.throttle_days,
            "created_at": iso(send.created_at), "finished_at": iso(send.finished_at)}


def _throttled_detail(days: int) -> str:
    return f"Surveyed in the last {days} days (Settings → Survey throttling)."


@bp.post("/survey-sends")
@spec.validate(json=schemas.SurveySendCreate, resp=responses(schemas.SurveySendResult, 201, write=True),
               tags=["Survey sends"])
@writes
def create_survey_send():
    """Send the survey to contact_ids or to everyone holding role. The answer says how many it will email and
    who is skipped and why (not found; surveyed within the throttle window). The emails go out in the
    background: read the send to follow it."""
    body = request.context.json
    if (body.contact_ids is None) == (body.role is None):
        raise ApiError(422, "invalid", "Give either contact_ids or role.", "contact_ids")
    survey, user = services.default_survey(), actor()
    skipped = []
    if body.role is not None:
        role = db.session.execute(select(RecipientRole).where(
            RecipientRole.name == body.role.strip(), RecipientRole.retired_at.is_(None))).scalar_one_or_none()
        if role is None:
            raise ApiError(422, "unknown_role", "No active recipient role has this name.", "role")
        plan = services.plan_role_send(role)
        if not plan.recipient_count + plan.throttled_count:
            raise ApiError(422, "no_recipients", f"No contact has the role {role.name} yet.", "role")
        send = services.send_survey(tenant=g.tenant, survey=survey, sent_by=user, role=role,
                                    total=plan.recipient_count + plan.throttled_count)
        if plan.throttled_count:
            skipped.append({"reason": "throttled", "count": plan.throttled_count, "contact_ids": None,
                            "detail": _throttled_detail(plan.throttle_days)})
    else:
        wanted = sorted(set(body.contact_ids))
        contacts = services.contacts_by_ids(wanted)
        found = {contact.id for contact in contacts}
        missing = [contact_id for contact_id in wanted if contact_id not in found]
        if missing:
            skipped.append({"reason": "not_found", "count": len(missing), "contact_ids": missing,
                            "detail": "No contact of this organisation has these ids."})
        if not contacts:
            raise ApiError(422, "no_recipients", "None of these contacts exist.", "contact_ids")
        plan = services.plan_send(contacts)
        throttled = sorted(services.recently_surveyed(sorted(found), plan.throttle_days))
        send = services.send_survey(tenant=g.tenant, survey=survey, sent_by=user, contacts=contacts,
                                    total=len(contacts))
        if throttled:
            skipped.append({"reason": "throttled", "count": len(throttled), "contact_ids": throttled,
                            "detail": _throttled_detail(plan.throttle_days)})
    audit_change(f"Survey send {send.id} started", {"to_send": [None, plan.recipient_count]})
    return {"send": serialise(send), "to_send": plan.recipient_count, "skipped": skipped}, 201


@bp.get("/survey-sends/<int:send_id>")
@spec.validate(resp=responses(schemas.SurveySend, reads_id=True), tags=["Survey sends"])
def get_survey_send(send_id: int):
    """Read a send: its state and how many were emailed and skipped so far."""
    return serialise(get_or_404(SurveySend, send_id)), 200

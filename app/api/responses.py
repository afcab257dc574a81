"""``/api/v1/responses``: the answers recorded, with the ticket each opened."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from datetime import timezone

from app.api import schemas
from app.api.core import ApiError, audit_change, bp, get_or_404, iso, page, responses, spec, writes
from app.extensions import db
from app.ingestion.answers import ExternalAnswer, InvalidAnswer, UnmatchedContact, record_external_answer
from app.surveys.models import Response
from app.tickets.models import Ticket


def serialise(row) -> dict:
    response, ticket_id = row
    return {"id": response.id, "contact_id": response.contact_id, "survey_id": response.survey_id,
            "score": response.score, "band": response.band, "comment": response.comment, "source": response.source,
            "ticket_id": ticket_id, "created_at": iso(response.created_at), "updated_at": iso(response.updated_at)}


def _with_ticket():
    return select(Response, Ticket.id).outerjoin(Ticket, Ticket.response_id == Response.id)


@bp.get("/responses")
@spec.validate(query=schemas.ResponseQuery, resp=responses(schemas.ResponseList), tags=["Responses"])
def list_responses():
    """List responses, oldest first, filtered by contact, band, source or last change."""
    query = request.context.query
    statement = _with_ticket()
    if query.contact_id is not None:
        statement = statement.where(Response.contact_id == query.contact_id)
    if query.band is not None:
        statement = statement.where(Response.band == query.band)
    if query.source is not None:
        statement = statement.where(Response.source == query.source)
    if query.updated_since is not None:
        statement = statement.where(Response.updated_at >= query.updated_since)
    return page(statement, [Response.id], serialise, query)


@bp.get("/responses/<int:response_id>")
@spec.validate(resp=responses(schemas.Response, reads_id=True), tags=["Responses"])
def get_response(response_id: int):
    """Read a response."""
    response = get_or_404(Response, response_id)
    ticket_id = db.session.execute(select(Ticket.id).where(Ticket.response_id == response.id)).scalar_one_or_none()
    return serialise((response, ticket_id)), 200


@bp.post("/responses")
@spec.validate(json=schemas.ResponseCreate, resp=responses(schemas.Response, 201, write=True, also=(200,)),
               tags=["Responses"])
@writes
def create_response():
    """Record an answer collected elsewhere, through the same service as the integrations: the contact is
    matched by email, else external id (created, with its account, when unknown and an email is given); the
    answer is kept once per (source, external_id) — 201 when recorded, 200 when sending it again amended or
    changed nothing — and a detractor opens a ticket like any other answer."""
    body = request.context.json
    if body.source == "hosted":
        raise ApiError(422, "invalid", "“hosted” is Turnaround's own survey page: name the tool the answer came "
                       "from.", "source")
    answered_at = body.answered_at
    if answered_at is not None and answered_at.tzinfo is None:
        answered_at = answered_at.replace(tzinfo=timezone.utc)
    answer = ExternalAnswer(source=body.source, external_id=body.external_id, score=body.score, email=body.email,
                            contact_external_id=body.contact_external_id, name=body.name,
                            account_name=body.account, account_external_id=body.account_external_id,
                            comment=body.comment, answered_at=answered_at)
    try:
        recorded = record_external_answer(answer)
    except UnmatchedContact as error:
        raise ApiError(422, "unmatched_contact", str(error), "contact_external_id") from error
    except InvalidAnswer as error:
        raise ApiError(422, "invalid", str(error), None) from error
    audit_change(f"Response {recorded.response_id} from {body.source} {recorded.outcome}",
                 {"external_id": [None, body.external_id], "score": [None, body.score]})
    row = db.session.execute(_with_ticket().where(Response.id == recorded.response_id)).one()
    return serialise(row), 201 if recorded.outcome == "created" else 200

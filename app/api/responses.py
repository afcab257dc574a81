"""``/api/v1/responses``: the answers recorded, with the ticket each opened."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from app.api import schemas
from app.extensions import db
from app.api.core import bp, get_or_404, iso, page, responses, spec
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

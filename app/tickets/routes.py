from flask import Blueprint

bp = Blueprint("tickets", __name__, url_prefix="/t/<tenant_slug>")


@bp.get("/")
def board():
    return "board"


@bp.get("/tickets/<int:ticket_id>")
def show(ticket_id):
    return "ticket"

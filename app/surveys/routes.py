from flask import Blueprint

bp = Blueprint("surveys", __name__, url_prefix="/t/<tenant_slug>/surveys")
public_bp = Blueprint("survey_public", __name__, url_prefix="/s")


@bp.get("/send")
def send():
    return "send"


@public_bp.get("/<token>")
def answer(token):
    return "answer"

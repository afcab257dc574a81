from flask import Blueprint

public_bp = Blueprint("survey_public", __name__, url_prefix="/s")


@public_bp.get("/<token>")
def answer(token):
    return "answer"

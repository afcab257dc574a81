from flask import Blueprint

bp = Blueprint("surveys", __name__, url_prefix="/t/<tenant_slug>/surveys")


@bp.get("/send")
def send():
    return "send"

from flask import Blueprint

bp = Blueprint("emails", __name__, url_prefix="/t/<tenant_slug>/emails")


@bp.get("/")
def index():
    return "emails"

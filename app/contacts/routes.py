from flask import Blueprint

bp = Blueprint("contacts", __name__, url_prefix="/t/<tenant_slug>/contacts")


@bp.get("/")
def index():
    return "contacts"

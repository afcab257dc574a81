"""Importing contacts and accounts, or past responses, from a CSV file (admins and managers): upload, map the
columns and preview, start, follow the progress, download the rejected rows."""
from __future__ import annotations

from flask import Blueprint, Response, g, redirect, request, stream_with_context, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.imports import services
from app.imports.forms import MappingForm, UploadForm
from app.imports.models import ContactImport
from app.imports.reading import MAX_BYTES, check_size
from app.extensions import db
from app.rules import RuleError
from app.tenancy import MANAGING_ROLES, get_or_404, require_role, tenant_context
from app.views import place_error, refused, render_page, saved, wants_fragment

bp = Blueprint("imports", __name__, url_prefix="/t/<tenant_slug>/imports")

INDEX_PAGE = "imports/index.html"
SHOW_PAGE = "imports/show.html"
MAPPING_FRAGMENT = "imports/_mapping.html"
PROGRESS_FRAGMENT = "imports/_progress.html"
# The most a request here may carry: a file a little over the import limit still arrives, so its size can be
# said next to the field; anything larger is cut off before it is read.
REQUEST_LIMIT = MAX_BYTES + 12 * 1024 * 1024
TOO_LARGE = "This file is larger than 20 MB, the largest file that can be imported. Split it into smaller files."


@bp.url_value_preprocessor
def _limit_request_size(endpoint, values):
    # Runs before every before_request function (the CSRF check reads the form): the limit must be set first.
    request.max_content_length = REQUEST_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    # Raised before the tenant is resolved (by the CSRF check reading the form): the upload page says why.
    return redirect(url_for("imports.index", tenant_slug=g.get("tenant_slug", ""), refused="too_large"), 303)


def _index_context(form: UploadForm) -> dict:
    return {"form": form, "imports": services.recent_imports(), "summary": services.summary}


@bp.route("/", methods=["GET", "POST"])
@require_role(*MANAGING_ROLES)
def index():
    form = UploadForm()
    if request.method == "GET":
        if request.args.get("refused") == "too_large":
            form.file.errors = [TOO_LARGE]
        return render_page(INDEX_PAGE, **_index_context(form))
    if form.validate_on_submit():
        upload = form.file.data
        upload.stream.seek(0, 2)
        size = upload.stream.tell()
        upload.stream.seek(0)
        try:
            check_size(size)  # before reading it into memory
            imported = services.upload(filename=upload.filename or "", data=upload.read(),
                                       by=current_user._get_current_object(), kind=form.kind.data)
        except RuleError as error:
            place_error(form, error, "file")
        else:
            return saved(None, url_for("imports.show", import_id=imported.id))
    return refused(INDEX_PAGE, None, lambda: _index_context(form))


def _mapping_form_class(imported: ContactImport) -> type[MappingForm]:
    return MappingForm.for_fields(imported.kind, services.fields_of(imported.kind))


def _show_context(imported: ContactImport, form: MappingForm | None = None, problem: str | None = None) -> dict:
    context = {"imported": imported, "summary": services.summary, "problem": problem}
    if imported.status == "draft":
        form_class = _mapping_form_class(imported)
        preview = services.preview(imported)
        context.update(form=form or form_class(headers=imported.headers, data=form_class.initial(imported)),
                       preview=preview, preview_fields=services.mapped_fields(imported),
                       preview_blank_lines=services.blank_lines_among(preview))
    return context


@bp.route("/<int:import_id>", methods=["GET", "POST"])
@require_role(*MANAGING_ROLES)
def show(import_id: int):
    """A draft import's mapping and preview; once started, its progress (for htmx, the fragment that polls
    itself until the import is done)."""
    imported = get_or_404(ContactImport, import_id)
    if request.method == "GET":
        fragment = PROGRESS_FRAGMENT if imported.status != "draft" else MAPPING_FRAGMENT
        return render_page(SHOW_PAGE, fragment, **_show_context(imported))
    here = url_for("imports.show", import_id=imported.id)

    def progress():
        return render_page(SHOW_PAGE, PROGRESS_FRAGMENT, **_show_context(imported))

    if imported.status != "draft":
        return saved(None, here, progress)  # already started: show how far it has got
    form = _mapping_form_class(imported)(headers=imported.headers)
    problem = None
    if form.validate_on_submit():
        try:
            if imported.kind == "responses":
                services.set_mapping(imported, form.chosen(), ticket_days=form.ticket_days_chosen())
            else:
                services.set_mapping(imported, form.chosen(), form.mode.data)
            if request.form.get("action") == "run":
                if not services.start(imported):
                    db.session.rollback()
                    db.session.refresh(imported)
                    return saved(None, here, progress)
                rows = f"{imported.total_rows:,} row{'s' if imported.total_rows != 1 else ''}"
                # htmx swaps in the progress, which says as much; a flash would wait for the next whole page.
                message = None if wants_fragment() else f"Importing {rows} from {imported.filename}."
                return saved(message, here, progress, "info")
        except RuleError as error:
            problem = place_error(form, error)
        else:
            return saved(None, here, lambda: render_page(SHOW_PAGE, MAPPING_FRAGMENT, **_show_context(imported)))

    def context():
        return _show_context(get_or_404(ContactImport, import_id), form, problem)

    return refused(SHOW_PAGE, MAPPING_FRAGMENT, context)


@bp.get("/<int:import_id>/rejected.csv")
@require_role(*MANAGING_ROLES)
def rejected(import_id: int):
    """The rejected rows of an import with the reason for each, as CSV, streamed a page at a time."""
    imported = get_or_404(ContactImport, import_id)
    stem = imported.filename.rsplit(".", 1)[0] or imported.kind
    safe = "".join(c if c.isalnum() or c in "-_ " else "_" for c in stem)[:80].strip() or imported.kind
    tenant_id, headers = imported.tenant_id, list(imported.headers)

    def rows():
        # The body is written after the view returns, when the request's tenant is no longer set.
        with tenant_context(tenant_id):
            yield from services.rejected_csv(import_id, headers)

    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{safe} - rejected rows.csv"'})

"""Settings section: the wording of every email sent on the organisation's behalf.

Each template has an editor with the merge fields it allows and a live preview with sample values.
The preview's HTML is never put into the settings page: it is kept briefly in Redis under a digest and
served by its own route into a sandboxed iframe, under a CSP that allows no script and no requests.
"""
from __future__ import annotations

import hashlib

import redis
from flask import abort, flash, make_response, redirect, request, url_for
from flask_login import current_user

from app import emailtemplates
from app.confirm import confirm_page
from app.jobs import redis_connection
from app.rules import RuleError
from app.settings.forms_messages import EmailTemplateForm
from app.settings.routes import bp, change_settings, view_settings
from app.settings.services import get_settings
from app.tenancy import Role, current_membership, current_tenant, current_tenant_id
from app.views import place_error, refused, render_page, saved, wants_fragment

PAGE = "settings/email_template.html"
WORKSPACE = "settings/_email_template_editor.html"
PREVIEW = "settings/_email_template_preview.html"
PREVIEW_TTL_SECONDS = 30 * 60
# The preview document may style itself inline (emails do) but may run nothing, load nothing and go nowhere.
PREVIEW_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"


def _spec(key: str) -> emailtemplates.Spec:
    spec = emailtemplates.SPECS.get(key)
    if spec is None:
        abort(404)
    return spec


def _preview_key(key: str, token: str) -> str:
    return f"turnaround:template-preview:{current_tenant_id()}:{current_user.id}:{key}:{token}"


def _keep_preview(key: str, html: str) -> str | None:
    """Keep a draft's HTML for the preview frame; its digest names it. None when Redis is unavailable."""
    token = hashlib.sha256(html.encode()).hexdigest()[:32]
    try:
        redis_connection().set(_preview_key(key, token), html.encode(), ex=PREVIEW_TTL_SECONDS)
    except redis.RedisError:
        return None
    return token


def _preview(key: str, subject: str | None = None, body: str | None = None) -> dict:
    """What the preview region shows: a draft (when given) or the current wording, with sample values."""
    draft = subject is not None or body is not None
    rendered = emailtemplates.preview(key, subject, body, organisation=current_tenant.name)
    frame_url = url_for("settings.email_template_preview_html", key=key)
    if draft:
        token = _keep_preview(key, rendered.html)
        frame_url = url_for("settings.email_template_preview_html", key=key, draft=token) if token else None
    problems = [message for message in (emailtemplates.unknown_fields_message(subject or "", key),
                                        emailtemplates.unknown_fields_message(body or "", key)) if message]
    return {
        "subject": rendered.subject, "text": rendered.text, "frame_url": frame_url, "problems": problems,
        "cleaned": draft and emailtemplates.clean_for_storage(body or "")[1],
    }


def _stored_form(key: str) -> EmailTemplateForm:
    subject, body, _ = emailtemplates.current(key)
    return EmailTemplateForm(key, formdata=None, subject=subject, body=body)


def _context(key: str, form: EmailTemplateForm, preview: dict | None = None) -> dict:
    spec = _spec(key)
    _, _, customised = emailtemplates.current(key)
    samples = emailtemplates.sample_values(current_tenant.name)
    fields = [(name, samples.get(name, "the score buttons, 0 to 10"),
               emailtemplates.FIELD_HELP.get(name, "")) for name in spec.fields]
    phi_safe_replaces = key == "manager_alert" and get_settings().phi_safe_alerts
    return {"key": key, "spec": spec, "form": form, "customised": customised, "fields": fields,
            "preview": preview or _preview(key), "can_edit": current_membership.role == Role.ADMIN,
            "phi_safe_replaces": phi_safe_replaces}


def _workspace(key: str):
    """The editor region with the stored wording (the whole page for a plain request)."""
    return render_page(PAGE, WORKSPACE, **_context(key, _stored_form(key)))


@bp.get("/email-templates")
@view_settings
def email_templates():
    customised = emailtemplates.customised_keys()
    return render_page("settings/email_templates.html", specs=emailtemplates.SPECS, customised=customised)


@bp.get("/email-templates/<key>")
@view_settings
def email_template(key: str):
    _spec(key)
    return render_page(PAGE, WORKSPACE, **_context(key, _stored_form(key)))


@bp.post("/email-templates/<key>")
@change_settings
def email_template_save(key: str):
    spec = _spec(key)
    form = EmailTemplateForm(key)
    if form.validate_on_submit():
        try:
            result = emailtemplates.save(key, form.subject.data, form.body.data)
        except RuleError as error:
            place_error(form, error)
        else:
            if result.changed:
                message = f"Saved the {spec.label.lower()} email."
                if result.cleaned:
                    message += " HTML that emails may not carry (scripts, event handlers, unsafe links) was removed."
            else:
                message = f"No changes to save for the {spec.label.lower()} email."
            return saved(message, url_for("settings.email_template", key=key), lambda: _workspace(key),
                         "success" if result.changed else "info")
    return refused(PAGE, WORKSPACE,
                   lambda: _context(key, form, _preview(key, form.subject.data or "", form.body.data or "")))


@bp.post("/email-templates/<key>/preview")
@change_settings
def email_template_preview(key: str):
    """The preview of the draft being typed (nothing is saved): the preview region for htmx, else the page."""
    _spec(key)
    form = EmailTemplateForm(key)
    preview = _preview(key, form.subject.data or "", form.body.data or "")
    if wants_fragment():
        return render_page(PAGE, PREVIEW, preview=preview, spec=_spec(key), key=key)
    return render_page(PAGE, **_context(key, form, preview))


@bp.get("/email-templates/<key>/preview.html")
@view_settings
def email_template_preview_html(key: str):
    """The HTML of a preview, for the editor's sandboxed frame only: a kept draft, or the current wording."""
    _spec(key)
    token = request.args.get("draft")
    if token:
        try:
            html = redis_connection().get(_preview_key(key, token))
        except redis.RedisError:
            html = None
        if html is None:
            html, status = ("<!doctype html><title>Preview expired</title>"
                            "<p>This preview has expired. Change the draft to see it again.</p>"), 404
        else:
            html, status = html.decode(), 200
    else:
        html, status = emailtemplates.preview(key, organisation=current_tenant.name).html, 200
    response = make_response(html, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/email-templates/<key>/reset")
@change_settings
def email_template_reset_confirm(key: str):
    spec = _spec(key)
    if not emailtemplates.current(key)[2]:
        flash(f"The {spec.label.lower()} email already uses the default wording.", "info")
        return redirect(url_for("settings.email_template", key=key), 303)
    return confirm_page(
        title=f"Reset {spec.label} · Email templates",
        question=f"Go back to the default wording of the {spec.label.lower()} email?",
        consequence="Your organisation's own subject and body for this email are deleted; the next one goes out "
                    "with the default wording. To keep a copy, copy it from the editor first.",
        action=url_for("settings.email_template_reset", key=key), button="Reset to default",
        cancel=url_for("settings.email_template", key=key))


@bp.post("/email-templates/<key>/reset")
@change_settings
def email_template_reset(key: str):
    spec = _spec(key)
    if emailtemplates.reset(key):
        message, category = f"The {spec.label.lower()} email is back to the default wording.", "success"
    else:
        message, category = f"The {spec.label.lower()} email already uses the default wording.", "info"
    return saved(message, url_for("settings.email_template", key=key), lambda: _workspace(key), category)

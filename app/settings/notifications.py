"""Settings section: notification lists (who is told about which ticket event) and PHI-safe alerts.

Admins add, change and delete lists; managers may look. Every page works as a plain form (303 and a
flash) and through htmx (the region is re-rendered in place); a refused form comes back with 422.
"""
from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from app.confirm import confirm_page
from app.extensions import db
from app.notifications import lists as notification_lists
from app.rules import RuleError
from app.settings.forms_messages import NotificationListForm, PhiSafeForm
from app.settings.models import NOTIFICATION_EVENTS, NotificationList
from app.settings.routes import bp, change_settings, view_settings
from app.settings.services import get_settings
from app.tenancy import get_or_404
from app.views import paginate, place_error, refused, render_page, saved

LISTS_PER_PAGE = 20
PAGE = "settings/notifications.html"
LIST_PAGE = "settings/notification_list.html"
LISTS_FRAGMENT = "settings/_notification_lists.html"
PHI_FRAGMENT = "settings/_notification_phi.html"
LIST_FRAGMENT = "settings/_notification_list_form.html"


def _list_form(nl: NotificationList | None = None, *, submitted: bool = False) -> NotificationListForm:
    """The add or edit form: the submitted values, or a fresh one filled from ``nl``."""
    if submitted:
        form = NotificationListForm()
    elif nl is not None:
        form = NotificationListForm(formdata=None, data={
            "name": nl.name, "events": list(nl.events or []), "roles": list(nl.roles or []),
            "member_ids": [int(i) for i in nl.member_ids or []], "addresses": "\n".join(nl.addresses or []),
        })
    else:
        form = NotificationListForm(formdata=None, data={"events": ["ticket_opened"]})
    form.set_members(notification_lists.active_members())
    return form


def _page_context(form: NotificationListForm, phi_form: PhiSafeForm | None = None) -> dict:
    statement = select(NotificationList).order_by(NotificationList.name, NotificationList.id)
    lists = paginate(statement, per_page=LISTS_PER_PAGE)
    if not lists.items and lists.page > 1:  # the last list of the last page was deleted: show the page before
        lists = db.paginate(statement, page=max(lists.pages, 1), per_page=LISTS_PER_PAGE, error_out=False)
    settings = get_settings()
    return {
        "lists": lists,
        "names": notification_lists.member_names(lists.items),
        "unheard": notification_lists.unheard_events(),
        "events": NOTIFICATION_EVENTS,
        "phi_safe": settings.phi_safe_alerts,
        "alert_external_id": settings.alert_external_id,
        "phi_form": phi_form or PhiSafeForm(formdata=None, phi_safe_alerts=settings.phi_safe_alerts,
                                            alert_external_id=settings.alert_external_id),
        "form": form,
    }


def _lists_region():
    """The page's lists region with a blank add form (the whole page for a plain request)."""
    return render_page(PAGE, LISTS_FRAGMENT, **_page_context(_list_form()))


def _list_context(nl: NotificationList, form: NotificationListForm) -> dict:
    return {"nl": nl, "form": form, "names": notification_lists.member_names([nl]), "events": NOTIFICATION_EVENTS}


@bp.get("/notifications")
@view_settings
def notifications():
    return _lists_region()


@bp.post("/notifications/phi-safe")
@change_settings
def notifications_phi_safe():
    form = PhiSafeForm()
    if not form.validate_on_submit():
        return refused(PAGE, PHI_FRAGMENT, lambda: _page_context(_list_form(), phi_form=form))
    on, with_id = bool(form.phi_safe_alerts.data), bool(form.alert_external_id.data)
    phi_changed = notification_lists.set_phi_safe_alerts(on)
    id_changed = notification_lists.set_alert_external_id(with_id)
    carried = " and the contact's external id" if with_id else ""
    if phi_changed:
        message, category = (f"PHI-safe alerts are on: alerts carry only the ticket reference, band, why it opened, "
                             f"due time and a sign-in link{carried}." if on else
                             "PHI-safe alerts are off: alerts include the contact's details and comment."), "success"
    elif id_changed:
        message, category = (f"PHI-safe alerts {'now carry' if with_id else 'no longer carry'} the contact's "
                             "external id."), "success"
    else:
        message, category = f"PHI-safe alerts were already {'on' if on else 'off'}.", "info"
    return saved(message, url_for("settings.notifications"),
                 lambda: render_page(PAGE, PHI_FRAGMENT, **_page_context(_list_form())), category)


@bp.post("/notifications/lists")
@change_settings
def notification_list_add():
    form = _list_form(submitted=True)
    if form.validate_on_submit():
        try:
            nl = notification_lists.create_list(name=form.name.data, events=form.events.data, roles=form.roles.data,
                                    member_ids=form.member_ids.data or [], addresses=form.address_list)
        except RuleError as error:
            place_error(form, error)
        else:
            return saved(f"Added the list “{nl.name}”.", url_for("settings.notifications"), _lists_region)
    return refused(PAGE, LISTS_FRAGMENT, lambda: _page_context(form))


@bp.get("/notifications/lists/<int:notification_list_id>")
@view_settings
def notification_list(notification_list_id: int):
    nl = get_or_404(NotificationList, notification_list_id)
    return render_page(LIST_PAGE, LIST_FRAGMENT, **_list_context(nl, _list_form(nl)))


@bp.post("/notifications/lists/<int:notification_list_id>")
@change_settings
def notification_list_update(notification_list_id: int):
    nl = get_or_404(NotificationList, notification_list_id)
    form = _list_form(nl, submitted=True)
    if form.validate_on_submit():
        try:
            changed = notification_lists.update_list(nl, name=form.name.data, events=form.events.data, roles=form.roles.data,
                                         member_ids=form.member_ids.data or [], addresses=form.address_list)
        except RuleError as error:
            place_error(form, error)
        else:
            message = (f"Saved the list “{nl.name}”." if changed
                       else f"No changes to save for the list “{nl.name}”.")
            return saved(message, url_for("settings.notifications"),
                         lambda: render_page(LIST_PAGE, LIST_FRAGMENT, **_list_context(nl, _list_form(nl))),
                         "success" if changed else "info")
    return refused(LIST_PAGE, LIST_FRAGMENT, lambda: _list_context(nl, form))


@bp.get("/notifications/lists/<int:notification_list_id>/delete")
@change_settings
def notification_list_delete_confirm(notification_list_id: int):
    nl = get_or_404(NotificationList, notification_list_id)
    return confirm_page(
        title=f"Delete {nl.name} · Notification lists", question=f"Delete the list “{nl.name}”?",
        consequence="Its people stop getting these emails. The list cannot be brought back; you would add it again.",
        action=url_for("settings.notification_list_delete", notification_list_id=nl.id),
        button=f"Delete list {nl.name}", cancel=url_for("settings.notifications"))


@bp.post("/notifications/lists/<int:notification_list_id>/delete")
@change_settings
def notification_list_delete(notification_list_id: int):
    nl = get_or_404(NotificationList, notification_list_id)
    name = nl.name
    notification_lists.delete_list(nl)
    return saved(f"Deleted the list “{name}”.", url_for("settings.notifications"), _lists_region)

"""Settings section: account-team functions. Admins add, rename, retire and bring back the functions members
hold on an account's team (business analyst, BPA, manager, director, account manager…). Managers may look.

A retired function stays on the team members who hold it but is no longer offered. Emails name the people
whose function is called Manager or Director in ``{account.managers}`` and ``{account.directors}``.
"""
from __future__ import annotations

from flask import request, url_for

from app.customers.forms import FunctionForm
from app.customers.models import AccountFunction
from app.rules import RuleError
from app.settings import services
from app.settings.routes import bp, change_settings, view_settings
from app.tenancy import Role, current_membership, get_or_404
from app.views import paginate, place_error, refused, render_page, saved

PAGE = "settings/account_functions.html"
FRAGMENT = "settings/_account_functions.html"
PER_PAGE = 25


def _rename_form(function: AccountFunction, formdata=None) -> FunctionForm:
    initial = {"data": {"name": function.name}} if formdata is None else {}
    form = FunctionForm(prefix=f"function-{function.id}", formdata=formdata, **initial)
    form.name.label.text = f"New name for {function.name}"
    return form


def _context(add_form: FunctionForm | None = None, failed: tuple[int, FunctionForm] | None = None) -> dict:
    pagination = paginate(services.account_functions_statement(), per_page=PER_PAGE)
    rename_forms = {function.id: _rename_form(function) for function in pagination.items}
    if failed is not None:
        rename_forms[failed[0]] = failed[1]
    return {
        "pagination": pagination, "counts": services.function_member_counts(),
        "add_form": add_form or FunctionForm(prefix="new", formdata=None), "rename_forms": rename_forms,
        "can_change": current_membership.role == Role.ADMIN,
    }


def _saved(message: str):
    return saved(message, url_for("settings.account_functions", page=request.args.get("page", type=int)),
                 lambda: render_page(PAGE, FRAGMENT, **_context()))


def _refused(**context):
    return refused(PAGE, FRAGMENT, lambda: _context(**context))


@bp.get("/account_functions")
@view_settings
def account_functions():
    return render_page(PAGE, FRAGMENT, **_context())


@bp.post("/account_functions")
@change_settings
def add_account_function():
    form = FunctionForm(prefix="new")
    if form.validate_on_submit():
        try:
            function = services.add_account_function(form.name.data)
        except RuleError as error:
            place_error(form, error)
        else:
            return _saved(f"Added the function {function.name}.")
    return _refused(add_form=form)


@bp.post("/account_functions/<int:function_id>/rename")
@change_settings
def rename_account_function(function_id: int):
    function = get_or_404(AccountFunction, function_id)
    form = _rename_form(function, formdata=request.form)
    if form.validate_on_submit():
        before = function.name
        try:
            services.rename_account_function(function, form.name.data)
        except RuleError as error:
            place_error(form, error)
        else:
            return _saved(f"Renamed {before} to {function.name}.")
    return _refused(failed=(function.id, form))


@bp.post("/account_functions/<int:function_id>/retire")
@change_settings
def retire_account_function(function_id: int):
    function = get_or_404(AccountFunction, function_id)
    services.set_account_function_retired(function, True)
    return _saved(f"Retired {function.name}. Team members keep it, but it is no longer offered.")


@bp.post("/account_functions/<int:function_id>/restore")
@change_settings
def restore_account_function(function_id: int):
    function = get_or_404(AccountFunction, function_id)
    services.set_account_function_retired(function, False)
    return _saved(f"{function.name} is offered again.")

"""Driving an import as a person does: upload a file, post the mapping, start it, run the worker."""
from __future__ import annotations

import io
import re

from rq import SimpleWorker
from sqlalchemy import select

from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.imports.models import ContactImport
from app.jobs import QUEUE_DEFAULT, get_queue, redis_connection
from app.tenancy import tenant_context

HEADER = "Name,Email,Phone,Company,Company ID,Roles,Patient ID\n"


def upload(client, org, content: str | bytes, filename: str = "contacts.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(f"/t/{org['slug']}/imports/", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def uploaded_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(re.search(r"/imports/(\d+)$", response.headers["Location"]).group(1))


GUESSED = {"name": "0", "email": "1", "phone": "2", "account": "3", "account_external_id": "4", "roles": "5",
           "external_id": "6"}


def post_mapping(client, org, import_id: int, action: str = "preview", mode: str = "update", **mapping):
    data = {**GUESSED, **mapping, "mode": mode, "action": action}
    return client.post(f"/t/{org['slug']}/imports/{import_id}", data=data)


def run_worker(app) -> None:
    with app.app_context():
        SimpleWorker([get_queue(QUEUE_DEFAULT)], connection=redis_connection()).work(burst=True, with_scheduler=False)
        db.session.remove()


def import_file(client, app, org, content: str, mode: str = "update", **mapping) -> int:
    """Upload, map and start ``content``, run the job; returns the import's id."""
    import_id = uploaded_id(upload(client, org, content))
    response = post_mapping(client, org, import_id, "run", mode, **mapping)
    assert response.status_code == 303, response.get_data(as_text=True)
    run_worker(app)
    return import_id


def state(app, tenant_id: int, import_id: int) -> dict:
    with app.app_context(), tenant_context(tenant_id):
        imported = db.session.get(ContactImport, import_id)
        result = {key: getattr(imported, key) for key in
                  ("status", "position", "total_rows", "created", "updated", "skipped", "rejected",
                   "accounts_created")}
        db.session.remove()
    return result


def contacts(app, tenant_id: int) -> dict[str, dict]:
    """Every contact of the tenant by email: name, phone, external id, account name, role names."""
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(Contact).order_by(Contact.id)).scalars().all()
        result = {c.email: {"name": c.name, "phone": c.phone, "external_id": c.external_id,
                            "account": c.account.name if c.account else None,
                            "roles": sorted(r.name for r in c.roles), "updated_at": c.updated_at} for c in rows}
        db.session.remove()
    return result


def accounts(app, tenant_id: int) -> dict[str, str | None]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(CustomerAccount.name, CustomerAccount.external_id)).all()
        db.session.remove()
    return dict(rows)


def make_import(app, tenant_id: int, content: str = HEADER + "Ann Able,ann@client.example,,,,,\n") -> int:
    """A draft import of ``content`` in the tenant, as its upload leaves it; returns its id."""
    from app.imports import services

    with app.app_context(), tenant_context(tenant_id):
        imported = services.upload(filename="contacts.csv", data=content.encode(), by=None)
        db.session.commit()
        import_id = imported.id
        db.session.remove()
    return import_id

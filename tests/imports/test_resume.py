"""A large import runs in the worker in batches of a fixed number of statements; a worker killed mid-way
resumes where it stopped without writing anything twice; the sweep hands a lost import back; the page
shows its progress."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select, update

from app.contacts.models import Contact, contact_role
from app.customers.models import CustomerAccount
from app.extensions import db
from app.imports import running
from app.imports.models import ContactImport, ImportRejection
from app.jobs import clear_queues, sweep
from app.tenancy import scoped_by_hand, tenant_context
from app.timeutil import utcnow
from tests.imports.helpers import HEADER, post_mapping, run_worker, state, upload, uploaded_id
from tests.support.data import login
from tests.support.leased import kill_after_one_batch
from tests.support.tickets import count_queries


def _big_file(count: int, bad_every: int = 100) -> str:
    lines = [HEADER]
    for n in range(count):
        email = f"not-an-email-{n}" if n % bad_every == bad_every - 1 else f"person{n}@client.example"
        lines.append(f"Person {n},{email},555-{n:04d},Practice {n % 50},PR-{n % 50},NPS Recipient,EXT-{n}\n")
    return "".join(lines)


def _start(client, app, org, content: str) -> int:
    login(client, app, org["manager"])
    import_id = uploaded_id(upload(client, org, content))
    assert post_mapping(client, org, import_id, "run").status_code == 303
    return import_id


def _written(app, tenant_id: int) -> tuple[int, int, int, int]:
    with app.app_context(), tenant_context(tenant_id):
        counts = (db.session.execute(select(func.count(Contact.id))).scalar_one(),
                  db.session.execute(select(func.count(func.distinct(Contact.email)))).scalar_one(),
                  db.session.execute(select(func.count(CustomerAccount.id))).scalar_one(),
                  db.session.execute(scoped_by_hand(select(func.count()).select_from(contact_role)
                                                    .where(contact_role.c.tenant_id == tenant_id))).scalar_one())
        rejections = db.session.execute(select(func.count(ImportRejection.id))).scalar_one()
        db.session.remove()
    return (*counts, rejections)


def _progress(client, org, import_id: int) -> str:
    return client.get(f"/t/{org['slug']}/imports/{import_id}", headers={"HX-Request": "true"}).get_data(
        as_text=True)


def test_a_2500_row_import_runs_in_the_worker_with_a_fixed_number_of_statements_per_batch(client, app, org):
    import_id = _start(client, app, org, _big_file(2500))
    assert _written(app, org["tenant_id"])[0] == 0, "the request only records the import"
    with count_queries(app) as statements:
        run_worker(app)
    assert state(app, org["tenant_id"], import_id) == {
        "status": "done", "position": 2500, "total_rows": 2500, "created": 2475, "updated": 0, "skipped": 0,
        "rejected": 25, "accounts_created": 50}
    assert _written(app, org["tenant_id"]) == (2475, 2475, 50, 2475, 25)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO CONTACT ")]
    assert len(inserts) == 3, "one INSERT per batch of 1,000"
    assert len(statements) <= 60, len(statements)
    page = _progress(client, org, import_id)
    assert "Import finished: 2,475 contacts created" in page and "hx-trigger" not in page
    assert "Download the 25 rejected rows" in page


def test_statements_per_batch_do_not_grow_with_the_batch(client, app, org):
    counts = []
    for size in (100, 200):  # 6 and 3 full batches, then one that finds nothing left
        login(client, app, org["manager"])
        import_id = uploaded_id(upload(client, org, _big_file(600)))
        post_mapping(client, org, import_id, "run", mode="update")
        with app.app_context():
            clear_queues()
        with count_queries(app) as statements:
            with app.app_context():
                assert running.run_import(import_id, size) == "done"
        counts.append(len(statements))
    per_batch = (counts[0] - counts[1]) / 3  # setup + per batch × 7, and × 4
    setup = counts[1] - 4 * per_batch
    assert per_batch <= 14 and setup <= 12, (counts, per_batch, setup)


def test_an_import_whose_worker_died_resumes_where_it_stopped_without_duplicates(client, app, org, monkeypatch):
    content = _big_file(2500) + "Late Twin,person5@client.example,,,,,\n"
    import_id = _start(client, app, org, content)

    kill_after_one_batch(app, monkeypatch, running, running.run_import, import_id)
    assert state(app, org["tenant_id"], import_id)["position"] == 1000
    assert _written(app, org["tenant_id"])[:2] == (990, 990)

    progress = _progress(client, org, import_id)
    assert "Imported 1,000 of 2,501 rows" in progress
    assert re.search(r'<progress[^>]*value="1000" max="2501"', progress)
    assert 'hx-trigger="every 1s"' in progress and ">Refresh</a>" in progress

    with app.app_context():
        assert sweep()["imports"] == 0, "the dead worker's lease has not run out yet"
        db.session.execute(update(ContactImport).where(ContactImport.id == import_id)
                           .values(lease_until=utcnow() - timedelta(seconds=1)).execution_options(all_tenants=True))
        db.session.commit()
        assert sweep()["imports"] == 1
        db.session.remove()
    run_worker(app)
    assert state(app, org["tenant_id"], import_id) == {
        "status": "done", "position": 2501, "total_rows": 2501, "created": 2475, "updated": 0, "skipped": 0,
        "rejected": 26, "accounts_created": 50}
    assert _written(app, org["tenant_id"]) == (2475, 2475, 50, 2475, 26)
    download = client.get(f"/t/{org['slug']}/imports/{import_id}/rejected.csv").get_data(as_text=True)
    assert "Duplicate in file: the same email address as row 7." in download, "remembered from the first batch"


def test_a_queued_import_whose_job_redis_lost_is_handed_over_again_by_the_sweep(client, app, org):
    import_id = _start(client, app, org, _big_file(30))
    with app.app_context():
        assert sweep()["imports"] == 0, "its job is still waiting in Redis"
        clear_queues()
        assert sweep()["imports"] == 0, "not yet stale"
        db.session.execute(update(ContactImport).where(ContactImport.id == import_id)
                           .values(enqueued_at=utcnow() - timedelta(minutes=5)).execution_options(all_tenants=True))
        db.session.commit()
        assert sweep()["imports"] == 1
        assert sweep()["imports"] == 0, "handed over once"
        db.session.remove()
    run_worker(app)
    run_worker(app)
    assert state(app, org["tenant_id"], import_id)["created"] == 30
    assert _written(app, org["tenant_id"])[0] == 30


def test_the_sweep_deletes_uploads_left_unstarted_for_a_week(client, app, org):
    from tests.imports.helpers import make_import

    old, recent = make_import(app, org["tenant_id"]), make_import(app, org["tenant_id"])
    with app.app_context():
        db.session.execute(update(ContactImport).where(ContactImport.id == old)
                           .values(created_at=utcnow() - timedelta(days=8)).execution_options(all_tenants=True))
        db.session.commit()
        sweep()
        db.session.remove()
    login(client, app, org["manager"])
    assert client.get(f"/t/{org['slug']}/imports/{old}").status_code == 404
    assert client.get(f"/t/{org['slug']}/imports/{recent}").status_code == 200

"""Running an import: a job works through the stored file in batches of :data:`BATCH_SIZE` rows.

Each batch is one transaction of a fixed number of statements, whatever its size: lock the import and read its
place; read the contacts the batch's rows match (by email, else external ID) and the roles they hold; read
the accounts the rows name (by external ID, else name) and insert the missing ones (``ON CONFLICT DO
NOTHING``, then read back any another writer added first); insert the new contacts (one ``INSERT … ON
CONFLICT DO NOTHING``); update the changed ones (one ``UPDATE … FROM``); replace the roles of the contacts
written (one ``DELETE``, one ``INSERT``); record the rejected rows; move the import's place and counts
forward. On PostgreSQL each statement takes the batch as one array per column (``unnest``), so its size
does not grow with the batch, and lookups probe the indexes once per key. The file is read as a stream
from the stored bytes; only one batch of rows is held.

A batch commits whole or not at all, so a job killed mid-way resumes at the first row not committed (the
rows before it are read again only to remember their email addresses and external IDs, for the duplicate
check). Writing nothing that is already there is the rule for every row, so running the same file again
changes nothing: contacts already as the file says are counted as skipped. The job holds the import under
a lease it renews each batch; :func:`sweep_imports` hands it to the worker again when its job was lost.

A file of past responses (``kind`` ``responses``) runs under the same job, lease, batches and bookkeeping; a
batch's rows are recorded together by :func:`app.ingestion.answers.record_external_answers` (the one place
answers from outside are recorded), a group of one per row, inside the batch's transaction, with no ticket
unless the import allows tickets and the answer is recent enough, so nothing is emailed for history.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from flask import current_app
from sqlalchemy import (ARRAY, ColumnElement, Integer, Select, String, bindparam, cast, column, delete, func, literal,
                        or_, select, true, union, update, values)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import undefer

from app.contacts.models import Contact, RecipientRole, contact_role
from app.customers.models import CustomerAccount
from app.extensions import db
from app.imports.models import ContactImport, ImportRejection
from app.imports import responses
from app.imports.reading import MODES, Checker, DataRows, Row, data_rows
from app.ingestion.answers import InvalidAnswer, record_external_answers
from app.jobs import JobSpec, enqueue_now, job
from app.leased import lock_for_batch, lost_work, run_leased
from app.settings.models import AuditEntry
from app.tenancy import scoped_by_hand, unscoped
from app.timeutil import utcnow

BATCH_SIZE = 1000
LEASE = timedelta(minutes=2)
IMPORT_JOB = JobSpec(timeout=3600)
DRAFT_LIFETIME = timedelta(days=7)
# More than any organisation has: the bound only keeps each contact's role lookup a subquery of its own.
ROLES_PER_CONTACT = 1000
AUDIT_AREA = "contact_imports"


def active_roles_by_name() -> dict[str, int]:
    """The organisation's recipient roles that may be given, ``{lower-cased name: id}``."""
    rows = db.session.execute(select(RecipientRole.id, RecipientRole.name).where(RecipientRole.retired_at.is_(None)))
    return {name.lower(): role_id for role_id, name in rows}


def job_id(import_id: int) -> str:
    """One RQ job id per import: the sweep asks Redis whether that job is still waiting or running."""
    return f"{current_app.config['QUEUE_PREFIX']}-contact-import-{import_id}"


def enqueue_imports(import_ids: list[int]) -> None:
    for import_id in import_ids:
        enqueue_now(run_import, import_id, job_id=job_id(import_id))


@job(IMPORT_JOB)
def run_import(import_id: int, batch_size: int = BATCH_SIZE) -> str:
    """Work through an import, batch after batch, to the end of its file.

    Returns ``done``, or ``skipped`` when another job holds the import or it is already finished.
    """
    def step(run: _Run) -> bool:
        return (_run_response_batch if run.kind == "responses" else _run_batch)(run, batch_size)

    return run_leased(ContactImport, import_id, lease=LEASE, prepare=_prepare_run, step=step, what="Import")


def sweep_imports(stale_after: int | None = None) -> int:
    """Hand imports whose job was lost back to the worker; returns how many (see
    :func:`app.leased.lost_work`). Each resumes at its first row not yet committed. Also deletes uploads
    left unstarted for :data:`DRAFT_LIFETIME`, so abandoned files do not stay in the database."""
    db.session.execute(unscoped(delete(ContactImport).where(ContactImport.status == "draft",
                                                            ContactImport.created_at < utcnow() - DRAFT_LIFETIME)),
                       execution_options={"synchronize_session": False})
    db.session.commit()
    lost = lost_work(ContactImport, job_id, stale_after)
    enqueue_imports(lost)
    return len(lost)


@dataclass
class _Run:
    """One run's reader over the stored file, positioned at the import's place, and what every batch needs."""

    import_id: int
    tenant_id: int
    mode: str
    mapping: dict
    content: bytes
    delimiter: str
    roles: dict[str, int]
    kind: str = "contacts"
    # Past responses only: the extra survey questions, the organisation's timezone, and the earliest answer
    # time that may open a ticket (None: none may).
    questions: list = field(default_factory=list)
    zone: object = None
    tickets_since: datetime | None = None
    position: int = 0
    checker: Checker | responses.ResponseChecker = field(init=False)
    rows: DataRows = field(init=False)

    def seek(self, position: int) -> None:
        """Read the file again up to ``position``, remembering each skipped row's keys for the duplicate check."""
        if self.kind == "responses":
            self.checker = responses.ResponseChecker(self.mapping, self.questions, self.zone)
        else:
            self.checker = Checker(self.mapping, self.roles)
        self.rows = data_rows(self.content, self.delimiter, start=position, on_skipped=self.checker.remember)
        self.position = position


def _prepare_run(import_id: int, tenant_id: int) -> _Run:
    imported = db.session.execute(
        select(ContactImport).where(ContactImport.id == import_id).options(undefer(ContactImport.content))
    ).scalar_one()
    run = _Run(import_id=import_id, tenant_id=tenant_id, mode=imported.mode if imported.mode in MODES else "update",
               mapping=dict(imported.mapping), content=imported.content, delimiter=imported.delimiter,
               roles=active_roles_by_name(), kind=imported.kind)
    if run.kind == "responses":
        run.questions = responses.questions()
        run.zone = responses.organisation_zone()
        run.tickets_since = responses.ticket_window_start(imported.ticket_days, utcnow())
    run.seek(imported.position)
    db.session.expunge_all()
    return run


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _dialect():
    return postgresql if _postgres() else sqlite


def _array(items: list, type_) -> ColumnElement:
    return bindparam(None, items, type_=ARRAY(type_))


def _among(column_: ColumnElement, items) -> ColumnElement:
    """``column IN (items)``; on PostgreSQL ``column IN (SELECT unnest(array))``, one parameter: for a batch's
    1,000 values an IN list costs more to build and parse than the lookup itself, and ``= ANY(array)`` compares
    each row with every item where this hashes them."""
    items = list(items)
    if _postgres():
        return column_.in_(select(func.unnest(_array(items, column_.type))))
    return column_.in_(items)


def _lookup(key_column: ColumnElement, keys, columns, per_key: int) -> Select:
    """PostgreSQL: up to ``per_key`` rows for each of ``keys`` in ``key_column``, found by one index lookup per key (a LATERAL subquery), whatever the table's statistics
    say: a table an import has just filled has none yet, and the planner would rather read all of it."""
    wanted = func.unnest(_array(list(keys), key_column.type)).table_valued("key").render_derived(name="wanted")
    found = select(*columns).where(key_column == wanted.c.key).limit(per_key).lateral("found")
    return select(*found.c).select_from(wanted).join(found, true())


def _find(columns, *lookups: tuple[ColumnElement, set, int]) -> list:
    """Rows of ``columns`` whose key column holds one of its keys, for each ``(key column, keys, per key)``
    lookup, in id order (the first column): on PostgreSQL by :func:`_lookup`, elsewhere with IN lists."""
    lookups = tuple((key_column, keys, per_key) for key_column, keys, per_key in lookups if keys)
    if not lookups:
        return []
    if _postgres():
        statements = [_lookup(key_column, keys, columns, per_key) for key_column, keys, per_key in lookups]
        found = db.session.execute(union(*statements) if len(statements) > 1 else statements[0]).all()
    else:
        found = db.session.execute(
            select(*columns).where(or_(*[key_column.in_(keys) for key_column, keys, _ in lookups]))).all()
    return sorted(found, key=lambda row: row[0])


def _columns(rows: list[dict], types: dict, name: str):
    """``rows`` (dicts with the keys of ``types``) as a selectable named ``name`` with those columns: on
    PostgreSQL ``unnest`` of one array per column (a parameter per column, however many rows), elsewhere a
    VALUES list."""
    keys = list(types)
    if _postgres():
        return func.unnest(*[_array([row[key] for row in rows], types[key]) for key in keys]).table_valued(
            *keys).render_derived(name=name)
    return values(*[column(key, types[key]) for key in keys], name=name).data(
        [tuple(row[key] for key in keys) for row in rows])


def _insert(table, rows: list[dict], *, conflict: list[str], returning=(), constants: dict | None = None):
    """Insert ``rows`` into ``table`` in one statement, skipping those that conflict on ``conflict``, with
    ``constants`` added to every row; returns the ``returning`` columns of the rows inserted."""
    constants = constants or {}
    source = _columns(rows, {key: table.c[key].type for key in rows[0]}, "incoming")
    statement = _dialect().insert(table).from_select(
        [*rows[0], *constants],
        select(*source.c, *[literal(value, table.c[key].type) for key, value in constants.items()]),
    ).on_conflict_do_nothing(index_elements=conflict)
    if not returning:
        db.session.execute(scoped_by_hand(statement))
        return []
    return db.session.execute(scoped_by_hand(statement.returning(*returning))).all()


@dataclass
class _Existing:
    id: int
    name: str
    email: str
    phone: str | None
    account_id: int | None
    external_id: str | None
    role_ids: frozenset[int] = frozenset()


def _matching_contacts(rows: list[Row], tenant_id: int, active_role_ids: set[int]) -> tuple[dict, dict]:
    """The contacts the rows match, by email and by external ID (a list: external IDs need not be unique),
    with the active roles each holds: two statements."""
    emails = {row.email for row in rows}
    external_ids = {row.external_id for row in rows if row.external_id}
    by_email: dict[str, _Existing] = {}
    by_external: dict[str, list[_Existing]] = {}
    if not rows:
        return by_email, by_external
    # Two contacts per external ID are enough to tell that it is shared.
    found = _find((Contact.id, Contact.name, Contact.email, Contact.phone, Contact.account_id, Contact.external_id),
                  (Contact.email, emails, 1), (Contact.external_id, external_ids, 2))
    contacts = {row.id: _Existing(*row) for row in found}
    if contacts:
        held: dict[int, set[int]] = {}
        columns = (contact_role.c.contact_id, contact_role.c.role_id, contact_role.c.tenant_id)
        if _postgres():
            # The tenant is checked outside the per-contact lookup (whose LIMIT keeps it there), so the
            # planner probes the primary key by contact rather than also reading the tenant's whole index.
            statement = _lookup(contact_role.c.contact_id, contacts, columns, ROLES_PER_CONTACT)
            statement = statement.where(statement.selected_columns.tenant_id == tenant_id)
        else:
            statement = select(*columns).where(contact_role.c.tenant_id == tenant_id,
                                               contact_role.c.contact_id.in_(contacts))
        for contact_id, role_id, _ in db.session.execute(scoped_by_hand(statement)):
            if role_id in active_role_ids:
                held.setdefault(contact_id, set()).add(role_id)
        for contact_id, role_ids in held.items():
            contacts[contact_id].role_ids = frozenset(role_ids)
    for contact in contacts.values():
        by_email[contact.email] = contact
        if contact.external_id:
            by_external.setdefault(contact.external_id, []).append(contact)
    return by_email, by_external


def _accounts(rows: list[Row], tenant_id: int) -> tuple[dict, dict, int]:
    """The accounts the rows name, ``({external id: id}, {name: id}, how many were created)``: matched by
    external ID, else by name, else created with the row's name and external ID. At most three statements."""
    external_ids = {row.account_external_id for row in rows if row.account_external_id}
    names = {row.account for row in rows if row.account}
    by_external: dict[str, int] = {}
    by_name: dict[str, int] = {}
    if not (external_ids or names):
        return by_external, by_name, 0

    columns = (CustomerAccount.id, CustomerAccount.name, CustomerAccount.external_id)

    def read(*lookups) -> None:
        for account_id, name, external_id in _find(columns, *lookups):
            by_name.setdefault(name, account_id)
            if external_id:
                by_external.setdefault(external_id, account_id)

    read((CustomerAccount.external_id, external_ids, 1), (CustomerAccount.name, names, 1))
    missing: dict[str, str | None] = {}
    for row in rows:
        if row.account_external_id in by_external or not row.account or row.account in by_name:
            continue
        missing.setdefault(row.account, row.account_external_id)
    if not missing:
        return by_external, by_name, 0
    now = utcnow()
    table = CustomerAccount.__table__
    created = _insert(table, [{"name": name, "external_id": external_id} for name, external_id in missing.items()],
                      conflict=["tenant_id", "name"], returning=(table.c.id, table.c.name, table.c.external_id),
                      constants={"tenant_id": tenant_id, "status": "active", "created_at": now, "updated_at": now})
    for account_id, name, external_id in created:
        by_name[name] = account_id
        if external_id:
            by_external.setdefault(external_id, account_id)
    raced = set(missing) - {name for _, name, _ in created}
    if raced:  # added by someone else since the first read
        read((CustomerAccount.name, raced, 1))
    return by_external, by_name, len(created)


@dataclass
class _Outcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    accounts_created: int = 0
    tickets_opened: int = 0
    rejections: list = field(default_factory=list)

    def reject(self, row_number: int, row_values: list[str], reason: str) -> None:
        self.rejections.append((row_number, row_values, reason))


EXISTS = "A contact with this email address or external ID already exists (this import only adds new contacts)."


def _next_checked_batch(run: _Run, batch_size: int):
    """:func:`_next_batch` with its rows checked: ``(import, batch, done, outcome, rows that pass)``, each
    other row rejected in ``outcome`` with its problems; None when there is nothing to do."""
    taken = _next_batch(run, batch_size)
    if taken is None:
        return None
    imported, batch, done = taken
    outcome, checked = _Outcome(), []
    for _, number, row_values in batch:
        row, problems = run.checker.check(number, row_values)
        if row is None:
            outcome.reject(number, row_values, " ".join(problems))
        else:
            checked.append(row)
    return imported, batch, done, outcome, checked


def _next_batch(run: _Run, batch_size: int):
    """Lock the import and read its next rows: ``(import, rows, whether the file ends with them)``, or None
    (rolled back) when the import is no longer running."""
    imported = lock_for_batch(ContactImport, run.import_id)
    if imported.status != "running":
        db.session.rollback()
        return None
    if imported.position != run.position:
        run.seek(imported.position)
    batch = list(islice(run.rows, batch_size))
    return imported, batch, len(batch) < batch_size


def _run_batch(run: _Run, batch_size: int) -> bool:
    """Import the next batch of rows in one transaction; returns whether the file is done."""
    taken = _next_checked_batch(run, batch_size)
    if taken is None:
        return True
    imported, batch, done, outcome, checked = taken

    active_role_ids = set(run.roles.values())
    by_email, by_external = _matching_contacts(checked, run.tenant_id, active_role_ids)
    to_write: list[tuple[Row, _Existing | None]] = []
    claimed: dict[int, int] = {}
    for row in checked:
        existing = by_email.get(row.email)
        if existing is None and row.external_id:
            matches = by_external.get(row.external_id, [])
            if len(matches) > 1:
                outcome.reject(row.number, row.values,
                               f"More than one contact has the external ID “{row.external_id}”.")
                continue
            existing = matches[0] if matches else None
        if existing is not None:
            if existing.id in claimed:
                outcome.reject(row.number, row.values, f"Matches the same contact as row {claimed[existing.id]}.")
                continue
            claimed[existing.id] = row.number
            if run.mode == "create":
                outcome.reject(row.number, row.values, EXISTS)
                continue
            if run.mode == "skip":
                outcome.skipped += 1
                continue
        to_write.append((row, existing))

    accounts_by_external, accounts_by_name, accounts_created = _accounts([row for row, _ in to_write], run.tenant_id)
    now = utcnow()
    inserts, updates, role_sets = [], [], {}
    for row, existing in to_write:
        account_id = None
        if row.account_external_id and row.account_external_id in accounts_by_external:
            account_id = accounts_by_external[row.account_external_id]
        elif row.account:
            account_id = accounts_by_name.get(row.account)
        elif row.account_external_id:
            outcome.reject(row.number, row.values, f"No account has the external ID “{row.account_external_id}”; "
                                                   "add the account's name to the row to create it.")
            continue
        if existing is None:
            inserts.append({"name": row.name, "email": row.email, "phone": row.phone, "account_id": account_id,
                            "external_id": row.external_id})
            if row.role_ids:
                role_sets[row.email] = row.role_ids
            continue
        # An empty cell leaves the contact's value as it is.
        new = {"name": row.name or existing.name, "email": row.email, "phone": row.phone or existing.phone,
               "account_id": account_id or existing.account_id,
               "external_id": row.external_id or existing.external_id}
        roles_change = row.role_ids is not None and row.role_ids != existing.role_ids
        if all(new[key] == getattr(existing, key) for key in new) and not roles_change:
            outcome.skipped += 1
            continue
        updates.append({"contact_id": existing.id, **new})
        if roles_change:
            role_sets[existing.id] = row.role_ids
        outcome.updated += 1

    table = Contact.__table__
    created_ids: dict[str, int] = {}
    if inserts:
        created_ids = dict(_insert(table, inserts, conflict=["tenant_id", "email"],
                                   returning=(table.c.email, table.c.id),
                                   constants={"tenant_id": run.tenant_id, "created_at": now, "updated_at": now}))
    outcome.created = len(created_ids)
    outcome.skipped += len(inserts) - len(created_ids)  # added by someone else since this batch read
    if updates:
        changed = _columns(updates, {"contact_id": Integer(), "name": String(), "email": String(), "phone": String(),
                                     "account_id": Integer(), "external_id": String()}, "changed")
        db.session.execute(
            update(Contact).where(Contact.id == changed.c.contact_id)
            .values(name=changed.c.name, email=changed.c.email, phone=cast(changed.c.phone, String),
                    account_id=cast(changed.c.account_id, Integer),
                    external_id=cast(changed.c.external_id, String), updated_at=now),
            execution_options={"synchronize_session": False},
        )
    _write_roles(run.tenant_id, role_sets, created_ids, active_role_ids)
    outcome.accounts_created = accounts_created
    return _finish_batch(run, imported, batch, done, outcome, "Imported contacts",
                         ("created", "updated", "skipped", "rejected", "accounts_created"))


def _finish_batch(run: _Run, imported: ContactImport, batch: list, done: bool, outcome: _Outcome, audit_summary: str,
                  audited: tuple[str, ...]) -> bool:
    """Record the batch's rejected rows, move the import's place and counts forward (and, at the end of the
    file, mark it done and audit it), commit; returns ``done``."""
    now = utcnow()
    if outcome.rejections:
        # Executed with its rows as parameters and a RETURNING clause, SQLAlchemy sends this as one multi-row
        # statement per 1,000 rows ("insertmanyvalues").
        rejection_table = ImportRejection.__table__
        db.session.execute(scoped_by_hand(
            _dialect().insert(rejection_table).on_conflict_do_nothing(index_elements=["import_id", "row_number"])
            .returning(rejection_table.c.id)
        ), [{"tenant_id": run.tenant_id, "import_id": run.import_id, "row_number": number, "reason": reason,
             "values": row_values} for number, row_values, reason in outcome.rejections])

    position = batch[-1][0] + 1 if batch else imported.position
    progress = {"position": position, "created": imported.created + outcome.created,
                "updated": imported.updated + outcome.updated, "skipped": imported.skipped + outcome.skipped,
                "rejected": imported.rejected + len(outcome.rejections),
                "accounts_created": imported.accounts_created + outcome.accounts_created,
                "tickets_opened": imported.tickets_opened + outcome.tickets_opened, "lease_until": now + LEASE}
    if done:
        # The rows are exhausted: the place is past every record of the file, blank lines at its end included.
        progress.update(status="done", finished_at=now, lease_until=None, position=run.rows.read)
        db.session.add(AuditEntry(actor_id=imported.created_by_id, area=AUDIT_AREA,
                                  summary=f"{audit_summary} from {imported.filename[:200]}",
                                  changes={key: [None, progress[key]] for key in audited}))
    db.session.execute(update(ContactImport).where(ContactImport.id == run.import_id).values(**progress),
                       execution_options={"synchronize_session": False})
    db.session.commit()
    db.session.expunge_all()
    run.position = progress["position"]
    return done


def _run_response_batch(run: _Run, batch_size: int) -> bool:
    """Record the next batch of past responses in one transaction; returns whether the file is done.

    The rows go through :func:`record_external_answers` together, a group of one answer per row (a row it
    refuses leaves nothing behind while the batch goes on); a ticket may open only when the import allows tickets and the answer is within its
    window."""
    taken = _next_checked_batch(run, batch_size)
    if taken is None:
        return True
    imported, batch, done, outcome, checked = taken
    unknown = responses.unknown_contacts(checked)
    to_record = []
    for row in checked:
        if row.unknown_contact_key in unknown:
            outcome.reject(row.number, row.values, responses.unknown_contact_problem(row.unknown_contact_key))
        else:
            to_record.append(row)
    results = record_external_answers(
        [[row.answer] for row in to_record],
        open_tickets=[run.tickets_since is not None and row.answer.answered_at >= run.tickets_since
                      for row in to_record])
    counts = {"created": 0, "amended": 0, "unchanged": 0}
    for row, result in zip(to_record, results):
        if isinstance(result, InvalidAnswer):
            outcome.reject(row.number, row.values, str(result))
            continue
        (recorded,) = result
        counts[recorded.outcome] += 1
        if recorded.ticket_id is not None:
            outcome.tickets_opened += 1
    outcome.created, outcome.updated, outcome.skipped = counts["created"], counts["amended"], counts["unchanged"]
    outcome.rejections.sort()
    return _finish_batch(run, imported, batch, done, outcome, "Imported past responses",
                         ("created", "updated", "skipped", "rejected", "tickets_opened"))


def _write_roles(tenant_id: int, role_sets: dict, created_ids: dict[str, int], active_role_ids: set[int]) -> None:
    """Give each contact written the roles its row lists: ``role_sets`` is keyed by email for new contacts
    and by id for updated ones. Roles since retired that a contact holds are kept. Two statements."""
    wanted: dict[int, frozenset[int]] = {}
    for key, role_ids in role_sets.items():
        contact_id = created_ids.get(key) if isinstance(key, str) else key
        if contact_id is not None:
            wanted[contact_id] = role_ids
    new_ids = set(created_ids.values())
    replaced = [contact_id for contact_id in wanted if contact_id not in new_ids]
    if replaced:
        db.session.execute(scoped_by_hand(
            delete(contact_role).where(contact_role.c.tenant_id == tenant_id,
                                       _among(contact_role.c.contact_id, replaced),
                                       _among(contact_role.c.role_id, active_role_ids))
        ))
    pairs = [{"contact_id": contact_id, "role_id": role_id}
             for contact_id, role_ids in wanted.items() for role_id in sorted(role_ids)]
    if pairs:
        _insert(contact_role, pairs, conflict=["contact_id", "role_id"], constants={"tenant_id": tenant_id})

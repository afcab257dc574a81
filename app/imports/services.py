"""Imports as people use them: upload a file of contacts or of past responses, map its columns, preview, start,
follow, download what was rejected. The job that does the writing is in :mod:`app.imports.running`; how a
past-responses file is read is in :mod:`app.imports.responses`."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from app import audit
from app.accounts.models import User
from app.extensions import db
from app.imports import responses
from app.imports.models import IMPORT_KINDS, ContactImport, ImportRejection
from app.imports.reading import FIELDS, MODES, REQUIRED, Checker, data_rows, guess_mapping, inspect_upload
from app.imports.running import AUDIT_AREA, active_roles_by_name, enqueue_imports
from app.jobs import on_commit
from app.rules import RuleError
from app.timeutil import utcnow

PREVIEW_ROWS = 10
RECENT = 10
REJECTION_PAGE = 1000
MAX_TICKET_DAYS = 365
DEFAULT_TICKET_DAYS = 7


def fields_of(kind: str) -> dict[str, str]:
    """``{field: label}`` a column of a ``kind`` import can fill, in the order the mapping form shows them."""
    return responses.fields(responses.questions()) if kind == "responses" else FIELDS


def upload(*, filename: str, data: bytes, by: User | None, kind: str = "contacts") -> ContactImport:
    """Store an uploaded file of ``kind`` (``contacts`` or ``responses``) as a draft import, with the mapping
    guessed from its headers. Raises ``RuleError`` on ``file`` when the file cannot be imported (see
    :func:`inspect_upload`)."""
    if kind not in IMPORT_KINDS:
        raise RuleError("Choose what the file holds.", "kind")
    inspected = inspect_upload(filename, data)
    mapping = (responses.guess_mapping(inspected.headers, responses.questions()) if kind == "responses"
               else guess_mapping(inspected.headers))
    imported = ContactImport(created_by_id=by.id if by else None, filename=(filename or f"{kind}.csv")[:255],
                             content=data, size_bytes=len(data), delimiter=inspected.delimiter,
                             headers=inspected.headers, mapping=mapping, kind=kind, mode="update",
                             status="draft", total_rows=inspected.total_rows, position=0, created=0, updated=0,
                             skipped=0, rejected=0, accounts_created=0, tickets_opened=0)
    db.session.add(imported)
    db.session.flush()
    return imported


def set_mapping(imported: ContactImport, mapping: dict[str, int | None], mode: str = "update",
                ticket_days: int | None = None) -> None:
    """Choose which column fills each field (None: no column) and, for contacts, the mode; for past
    responses, ``ticket_days`` (None: open no ticket; else open tickets for detractors answered in the last
    that many days). Raises ``RuleError`` on a field when a required field has no column, one column fills
    two fields, or the days are out of range."""
    if imported.status != "draft":
        raise RuleError("This import has already started; its columns can no longer be changed.")
    errors = {}
    labels = fields_of(imported.kind)
    chosen = {field: index for field, index in mapping.items()
              if field in labels and index is not None and 0 <= index < len(imported.headers)}
    for field in (responses.REQUIRED if imported.kind == "responses" else REQUIRED):
        if field not in chosen:
            errors[field] = f"Choose the column that holds the {labels[field].lower()}."
    if imported.kind == "responses" and not ({"email", "external_id"} & set(chosen)):
        errors["email"] = "Choose the column that holds the contact's email address, or their external ID."
    first_field: dict[int, str] = {}
    for field, index in chosen.items():
        if index in first_field:
            errors[field] = f"This column already fills {labels[first_field[index]]}; choose another."
        else:
            first_field[index] = field
    imported.mapping = chosen
    if imported.kind == "responses":
        if ticket_days is not None and not 1 <= ticket_days <= MAX_TICKET_DAYS:
            errors["ticket_days"] = f"Choose a number of days from 1 to {MAX_TICKET_DAYS}."
        else:
            imported.ticket_days = ticket_days
    else:
        if mode not in MODES:
            errors["mode"] = "Choose what to do with contacts that already exist."
        imported.mode = mode if mode in MODES else imported.mode
    if errors:
        raise RuleError.on_fields(errors)


def start(imported: ContactImport) -> bool:
    """Hand a draft import to the worker once the current transaction commits, and audit it. Returns False,
    changing nothing, when another request started it first (a double click, a second tab)."""
    db.session.flush()
    now = utcnow()
    claimed = db.session.execute(
        update(ContactImport).where(ContactImport.id == imported.id, ContactImport.status == "draft")
        .values(status="queued", enqueued_at=now).returning(ContactImport.id),
        execution_options={"synchronize_session": False},
    ).first()
    if claimed is None:
        return False
    imported.status, imported.enqueued_at = "queued", now
    labels = fields_of(imported.kind)
    columns = [None, {labels[f]: imported.headers[i] for f, i in imported.mapping.items() if f in labels}]
    if imported.kind == "responses":
        tickets = (f"For detractors answered in the last {imported.ticket_days} days"
                   if imported.ticket_days is not None else "None")
        audit.record(AUDIT_AREA, f"Started importing past responses from {imported.filename[:200]}",
                     {"rows": [None, imported.total_rows], "tickets": [None, tickets], "columns": columns})
    else:
        audit.record(AUDIT_AREA, f"Started importing contacts from {imported.filename[:200]}",
                     {"rows": [None, imported.total_rows], "mode": [None, MODES[imported.mode]],
                      "columns": columns})
    on_commit(enqueue_imports, imported.id)
    return True


@dataclass
class PreviewRow:
    number: int
    cells: list[str]
    problems: list[str]
    # Past responses: the answered time as read, in the organisation's time, and the format it was read in.
    read_as: str = ""


def preview(imported: ContactImport, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The file's first ``limit`` rows as the mapping reads them (the mapped columns' cells, in the order of
    :func:`fields_of`), each with its problems; for past responses, with the date as it was read."""
    content = db.session.execute(
        select(ContactImport.content).where(ContactImport.id == imported.id)
    ).scalar_one()
    if imported.kind == "responses":
        zone = responses.organisation_zone()
        checker = responses.ResponseChecker(imported.mapping, responses.questions(), zone)
    else:
        checker = Checker(imported.mapping, active_roles_by_name())
    columns = mapped_columns(imported)
    rows, read = [], []
    for _, number, values in data_rows(content, imported.delimiter):
        row, problems = checker.check(number, values)
        cells = [values[index].strip() if index < len(values) else "" for index in columns]
        rows.append(PreviewRow(number=number, cells=cells, problems=problems))
        if imported.kind == "responses" and row is not None:
            local = row.answer.answered_at.astimezone(zone)
            shown = local.strftime("%Y-%m-%d") if row.read_as != "ISO 8601 date and time" \
                else local.strftime("%Y-%m-%d %H:%M")
            rows[-1].read_as = f"{shown} ({row.read_as})"
            read.append((rows[-1], row))
        if len(rows) >= limit:
            break
    unknown = responses.unknown_contacts([row for _, row in read])
    for shown, row in read:
        if row.unknown_contact_key in unknown:
            shown.problems.append(responses.unknown_contact_problem(row.unknown_contact_key))
    return rows


def blank_lines_among(rows: list[PreviewRow]) -> int:
    """How many blank lines the file has between its header and the last of the preview's ``rows`` (row
    numbers count blank lines too; the rows do not)."""
    return rows[-1].number - 1 - len(rows) if rows else 0


def mapped_columns(imported: ContactImport) -> list[int]:
    return [imported.mapping[field] for field in fields_of(imported.kind) if field in imported.mapping]


def mapped_fields(imported: ContactImport) -> list[str]:
    labels = fields_of(imported.kind)
    return [labels[field] for field in labels if field in imported.mapping]


def recent_imports(limit: int = RECENT) -> list[ContactImport]:
    return list(db.session.execute(
        select(ContactImport).options(selectinload(ContactImport.created_by))
        .order_by(ContactImport.created_at.desc(), ContactImport.id.desc()).limit(limit)
    ).scalars())


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def summary(imported: ContactImport) -> str:
    """What an import did, in words (names no contact, so it may be flashed)."""
    if imported.kind == "responses":
        counts = (f"{_plural(imported.created, 'response', 'responses')} recorded, {imported.rejected:,} "
                  f"rejected, {_plural(imported.tickets_opened, 'ticket', 'tickets')} opened")
        if imported.skipped:
            counts += f"; {imported.skipped:,} already recorded"
        if imported.updated:
            counts += f"; {_plural(imported.updated, 'response', 'responses')} already recorded updated"
    else:
        counts = (f"{_plural(imported.created, 'contact', 'contacts')} created, {imported.updated:,} updated, "
                  f"{imported.skipped:,} skipped, {_plural(imported.rejected, 'row', 'rows')} rejected")
        if imported.accounts_created:
            counts += f"; {_plural(imported.accounts_created, 'account', 'accounts')} created"
    if imported.blank_lines:
        counts += f"; {_plural(imported.blank_lines, 'blank line', 'blank lines')} ignored"
    if imported.status == "failed":
        return f"The import stopped after {imported.rows_done:,} of {imported.total_rows:,} rows: {counts}."
    if imported.active:
        return f"{imported.rows_done:,} of {imported.total_rows:,} rows so far: {counts}."
    return f"Import finished: {counts}."


def rejected_csv(import_id: int, headers: list[str]) -> Iterator[str]:
    """The rejected rows as CSV, read a page at a time: the file's own columns, then the row number and the
    reason. The file is not loaded."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([*headers, "Row", "Reason"])
    yield "\ufeff" + flush()  # a BOM, so spreadsheets read the file as UTF-8
    after = 0
    width = len(headers)
    while True:
        page = db.session.execute(
            select(ImportRejection.row_number, ImportRejection.values, ImportRejection.reason)
            .where(ImportRejection.import_id == import_id, ImportRejection.row_number > after)
            .order_by(ImportRejection.row_number).limit(REJECTION_PAGE)
        ).all()
        for number, values, reason in page:
            cells = list(values)[:width] + [""] * max(0, width - len(values))
            writer.writerow([*cells, number, reason])
        if page:
            yield flush()
            after = page[-1][0]
        if len(page) < REJECTION_PAGE:
            return


"""Contact imports as people use them: upload a file, map its columns, preview, start, follow, download what
was rejected. The job that does the writing is in :mod:`app.imports.running`."""
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
from app.imports.models import ContactImport, ImportRejection
from app.imports.reading import FIELDS, MODES, REQUIRED, Checker, data_rows, guess_mapping, inspect_upload
from app.imports.running import AUDIT_AREA, active_roles_by_name, enqueue_imports
from app.jobs import on_commit
from app.rules import RuleError
from app.timeutil import utcnow

PREVIEW_ROWS = 10
RECENT = 10
REJECTION_PAGE = 1000


def upload(*, filename: str, data: bytes, by: User | None) -> ContactImport:
    """Store an uploaded file as a draft import, with the mapping guessed from its headers. Raises
    ``RuleError`` on ``file`` when the file cannot be imported (see :func:`inspect_upload`)."""
    inspected = inspect_upload(filename, data)
    imported = ContactImport(created_by_id=by.id if by else None, filename=(filename or "contacts.csv")[:255],
                             content=data, size_bytes=len(data), delimiter=inspected.delimiter,
                             headers=inspected.headers, mapping=guess_mapping(inspected.headers), mode="update",
                             status="draft", total_rows=inspected.total_rows, position=0, created=0, updated=0,
                             skipped=0, rejected=0, accounts_created=0)
    db.session.add(imported)
    db.session.flush()
    return imported


def set_mapping(imported: ContactImport, mapping: dict[str, int | None], mode: str) -> None:
    """Choose which column fills each field (None: no column) and the mode. Raises ``RuleError`` on a field
    when a required field has no column or one column fills two fields."""
    if imported.status != "draft":
        raise RuleError("This import has already started; its columns can no longer be changed.")
    errors = {}
    chosen = {field: index for field, index in mapping.items()
              if field in FIELDS and index is not None and 0 <= index < len(imported.headers)}
    for field in REQUIRED:
        if field not in chosen:
            errors[field] = f"Choose the column that holds the {FIELDS[field].lower()}."
    first_field: dict[int, str] = {}
    for field, index in chosen.items():
        if index in first_field:
            errors[field] = f"This column already fills {FIELDS[first_field[index]]}; choose another."
        else:
            first_field[index] = field
    if mode not in MODES:
        errors["mode"] = "Choose what to do with contacts that already exist."
    imported.mapping = chosen
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
    audit.record(AUDIT_AREA, f"Started importing contacts from {imported.filename[:200]}",
                 {"rows": [None, imported.total_rows], "mode": [None, MODES[imported.mode]],
                  "columns": [None, {FIELDS[f]: imported.headers[i] for f, i in imported.mapping.items()}]})
    on_commit(enqueue_imports, imported.id)
    return True


@dataclass
class PreviewRow:
    number: int
    cells: list[str]
    problems: list[str]


def preview(imported: ContactImport, limit: int = PREVIEW_ROWS) -> list[PreviewRow]:
    """The file's first ``limit`` rows as the mapping reads them (the mapped columns' cells, in
    :data:`FIELDS` order), each with its problems."""
    content = db.session.execute(
        select(ContactImport.content).where(ContactImport.id == imported.id)
    ).scalar_one()
    checker = Checker(imported.mapping, active_roles_by_name())
    rows = []
    for _, number, values in data_rows(content, imported.delimiter):
        _, problems = checker.check(number, values)
        cells = [values[index].strip() if index < len(values) else "" for index in mapped_columns(imported)]
        rows.append(PreviewRow(number=number, cells=cells, problems=problems))
        if len(rows) >= limit:
            break
    return rows


def mapped_columns(imported: ContactImport) -> list[int]:
    return [imported.mapping[field] for field in FIELDS if field in imported.mapping]


def mapped_fields(imported: ContactImport) -> list[str]:
    return [FIELDS[field] for field in FIELDS if field in imported.mapping]


def recent_imports(limit: int = RECENT) -> list[ContactImport]:
    return list(db.session.execute(
        select(ContactImport).options(selectinload(ContactImport.created_by))
        .order_by(ContactImport.created_at.desc(), ContactImport.id.desc()).limit(limit)
    ).scalars())


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def summary(imported: ContactImport) -> str:
    """What an import did, in words (names no contact, so it may be flashed)."""
    counts = (f"{_plural(imported.created, 'contact', 'contacts')} created, {imported.updated:,} updated, "
              f"{imported.skipped:,} skipped, {_plural(imported.rejected, 'row', 'rows')} rejected")
    if imported.accounts_created:
        counts += f"; {_plural(imported.accounts_created, 'account', 'accounts')} created"
    if imported.status == "failed":
        return f"The import stopped after {imported.position:,} of {imported.total_rows:,} rows: {counts}."
    if imported.active:
        return f"{imported.position:,} of {imported.total_rows:,} rows so far: {counts}."
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


"""An import: the uploaded file (kept in the database, so any worker can read it), what it holds (contacts and
accounts, or past responses), its column mapping, its place and counts while a job works through it, and the
rows it rejected with their reasons."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.tenancy import TenantScoped
from app.timeutil import UTCDateTime, utcnow

IMPORT_KINDS = {"contacts": "Contacts and accounts", "responses": "Past responses"}
IMPORT_STATES = {"draft": "Not started", "queued": "Waiting to start", "running": "Importing", "done": "Done",
                 "failed": "Failed"}


class ContactImport(TenantScoped, db.Model):
    """One uploaded CSV of contacts (``kind`` ``contacts``) or of past responses (``responses``) and what became
    of it.

    ``status`` is ``draft`` while the columns are being mapped, then ``queued``, ``running``, ``done`` or
    ``failed``. ``total_rows`` counts the file's rows to import; blank lines (every cell empty) are not rows and
    are ignored. ``position`` counts the file's data records already worked through, blank lines included (once
    done, every record): each batch's writes, counts and the move of ``position`` commit together, so a job
    that dies resumes at the first row not yet committed, and every row worked through is counted once, as
    ``created``, ``updated``, ``skipped`` or ``rejected`` (see :attr:`rows_done` and :attr:`blank_lines`).
    ``lease_until`` is how long the running job holds the import (see :mod:`app.leased`).

    For past responses, ``created`` counts responses recorded, ``updated`` responses already there that the
    file amended and ``skipped`` those already there as the file says; ``ticket_days`` is None when no
    ticket may open, else how many days back a detractor's answer may be to open one.
    """

    __tablename__ = "contact_import"
    __table_args__ = (
        Index("ix_contact_import_tenant_created", "tenant_id", "created_at"),
        # The sweep looks across tenants for imports whose job was lost, so this one leads with status.
        Index("ix_contact_import_status", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    # The file as uploaded; read only by the job and the rejected-rows download.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    delimiter: Mapped[str] = mapped_column(String(1))
    headers: Mapped[list] = mapped_column(JSON)
    # {field: column index}; see app.imports.fields.FIELDS.
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    kind: Mapped[str] = mapped_column(String(12), default="contacts", server_default="contacts")
    mode: Mapped[str] = mapped_column(String(12), default="update")
    ticket_days: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    total_rows: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    accounts_created: Mapped[int] = mapped_column(Integer, default=0)
    tickets_opened: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def rows_done(self) -> int:
        """The rows worked through so far: each was created, updated, skipped or rejected."""
        return self.created + self.updated + self.skipped + self.rejected

    @property
    def blank_lines(self) -> int:
        """The blank lines passed over so far: the records worked through that were not rows."""
        return max(0, self.position - self.rows_done)

    @property
    def kind_label(self) -> str:
        return IMPORT_KINDS.get(self.kind, self.kind)

    @property
    def state_label(self) -> str:
        return IMPORT_STATES.get(self.status, self.status)


class ImportRejection(TenantScoped, db.Model):
    """A row of an import that was not written, with why; unique per (import, row) so a batch run twice
    records it once."""

    __tablename__ = "contact_import_rejection"
    __table_args__ = (UniqueConstraint("import_id", "row_number"),
                      Index("ix_contact_import_rejection_tenant_import", "tenant_id", "import_id", "row_number"))

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("contact_import.id", ondelete="CASCADE"))
    # The row's line in the file as a spreadsheet shows it: the header is row 1.
    row_number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    values: Mapped[list] = mapped_column(JSON)

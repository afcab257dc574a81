"""One-time links emailed to a person about their own account: email verification and password reset.

Not tenant-owned: they belong to a user, whatever organisations the user is in.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.timeutil import UTCDateTime, utcnow

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"


class AccountToken(db.Model):
    """A one-time link's token, stored only as its SHA-256 hash.

    ``email`` is the address the link was sent to: a link for an address the user no longer has does not work.
    A token is spent (``used_at``) when it is used or when a newer one of the same purpose replaces it.
    """

    __tablename__ = "account_token"
    __table_args__ = (Index("ix_account_token_user_purpose", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

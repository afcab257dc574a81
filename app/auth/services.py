"""Email verification and password reset by one-time emailed links, and who may send on an organisation's behalf.

Links are 256-bit random tokens stored only as SHA-256 hashes (``app.security.new_token``); a link is spent by a
conditional UPDATE, so two clicks racing cannot both use it. Every email goes through the outbox
(``app.mail.queue_email``) of an organisation the user belongs to, so the organisation's email log lists it.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.accounts.models import Membership, Tenant, User
from app.auth.models import RESET_PASSWORD, VERIFY_EMAIL, AccountToken
from app.extensions import db
from app.mail import queue_email
from app.security import hash_password, hash_token, new_token
from app.tenancy import current_tenant_id, tenant_context, unscoped
from app.timeutil import utcnow
from app.urls import absolute_url

LIFETIMES = {VERIFY_EMAIL: timedelta(days=7), RESET_PASSWORD: timedelta(hours=1)}
# Emails whose link lets the holder act as the recipient: the email log keeps their text back (app.email_log.routes).
ONE_TIME_LINK_KINDS = frozenset({"email_verification", "password_reset"})


def _issue(user: User, purpose: str) -> tuple[str, AccountToken]:
    """A new link for ``user``; any earlier unused link of the same purpose stops working."""
    now = utcnow()
    db.session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=now)
    )
    token, token_hash = new_token()
    row = AccountToken(user_id=user.id, purpose=purpose, email=user.email, token_hash=token_hash,
                       created_at=now, expires_at=now + LIFETIMES[purpose])
    db.session.add(row)
    db.session.flush()
    return token, row


def find_token(token: str, purpose: str) -> AccountToken | None:
    """The unused, unexpired link behind ``token``, for the page that asks to confirm; None if it does not work."""
    if not token or len(token) > 100:
        return None
    row = db.session.execute(
        select(AccountToken).where(AccountToken.token_hash == hash_token(token), AccountToken.purpose == purpose)
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= utcnow() or row.email != row.user.email:
        return None
    return row


def _spend(token: str, purpose: str) -> User | None:
    """Use the link behind ``token`` once: the user it was for, or None if it is unknown, used, expired or for
    an address the user no longer has."""
    row = find_token(token, purpose)
    if row is None:
        return None
    spent = db.session.execute(
        update(AccountToken)
        .where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return row.user if spent else None


def mail_tenant_id(user: User) -> int | None:
    """The organisation whose outbox carries mail about ``user``'s own account: the current one, else the
    first the user is an active member of. None when the user belongs to no organisation any more."""
    tenant_id = current_tenant_id()
    if tenant_id is not None:
        return tenant_id
    return db.session.execute(
        unscoped(
            select(Membership.tenant_id)
            .where(Membership.user_id == user.id, Membership.is_active.is_(True))
            .order_by(Membership.id)
            .limit(1)
        )
    ).scalar_one_or_none()


def _queue(user: User, tenant_id: int, *, kind: str, subject: str, context: dict, dedupe_key: str | None = None) -> None:
    with tenant_context(tenant_id):
        queue_email(kind=kind, to_address=user.email, to_name=user.name, subject=subject, template=kind,
                    context={"user": user, **context}, dedupe_key=dedupe_key)


def send_verification(user: User, tenant: Tenant) -> None:
    """Email ``user`` a link that confirms their address (and any earlier link stops working)."""
    token, row = _issue(user, VERIFY_EMAIL)
    _queue(user, tenant.id, kind="email_verification", subject="Confirm your email address for Turnaround",
           context={"tenant": tenant, "link": absolute_url("auth.verify_email", token=token),
                    "expires_at": row.expires_at})


def verify_email(token: str) -> User | None:
    """Confirm the address the link was sent to; returns the user, or None if the link does not work."""
    user = _spend(token, VERIFY_EMAIL)
    if user is not None and user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


def mark_verified(user: User) -> None:
    """Record that ``user`` read mail at their address by another route (an accepted team invitation)."""
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()


def founder(tenant_id: int) -> User:
    """The organisation's first admin: the user of its first membership, created with it at sign-up."""
    return db.session.execute(
        unscoped(
            select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id).order_by(Membership.id).limit(1)
        )
    ).scalar_one()


def unverified_founder(tenant_id: int) -> User | None:
    """The organisation's first admin while their address is unconfirmed (nothing may be sent on the
    organisation's behalf until then); None once it is confirmed."""
    user = founder(tenant_id)
    return None if user.email_verified_at is not None else user


def request_password_reset(user: User | None) -> None:
    """Email a one-hour, single-use reset link to ``user``, if there is one who belongs to an organisation.

    The caller answers the same whatever happens here, so the page tells no one whether an address has an account.
    """
    if user is None:
        return
    tenant_id = mail_tenant_id(user)
    if tenant_id is None:
        return
    token, row = _issue(user, RESET_PASSWORD)
    _queue(user, tenant_id, kind="password_reset", subject="Reset your Turnaround password",
           context={"link": absolute_url("auth.reset_password", token=token), "expires_at": row.expires_at})


def reset_password(token: str, password: str) -> User | None:
    """Set a new password through a reset link: the link is spent, every session of the user ends, and the
    address counts as confirmed (the link was read there). None if the link does not work."""
    user = _spend(token, RESET_PASSWORD)
    if user is None:
        return None
    user.password_hash = hash_password(password)
    # An SQL increment, so a concurrent login or logout cannot lose the bump.
    user.session_version = User.session_version + 1
    mark_verified(user)
    db.session.flush()
    return user


def tell_owner_about_sign_up(user: User) -> None:
    """Someone tried to sign up with an address that has an account: its owner gets an email (at most one a
    day) instead of the page saying so, so sign-up tells no one which addresses have accounts."""
    tenant_id = mail_tenant_id(user)
    if tenant_id is None:
        return
    _queue(user, tenant_id, kind="account_exists", subject="You already have a Turnaround account",
           context={"login_link": absolute_url("auth.login"), "reset_link": absolute_url("auth.forgot_password")},
           dedupe_key=f"account_exists:{user.id}:{utcnow():%Y-%m-%d}")

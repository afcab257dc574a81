"""Background jobs: Redis delivers them, the database remembers them.

A change that owes work (an email, later a reminder) writes a row in the same
transaction and calls :func:`enqueue_after_commit`. Only when the transaction
commits is the job handed to RQ; if Redis is down or later flushed, the periodic
:func:`sweep` finds the row still due and enqueues it again. Jobs claim their row
with a conditional UPDATE, so running one twice does nothing the second time.
"""
from __future__ import annotations

import importlib
import logging
from functools import wraps
from typing import Callable

import redis
from flask import current_app, has_app_context
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)

QUEUE_DEFAULT = "turnaround-default"
QUEUE_MAIL = "turnaround-mail"
QUEUES = (QUEUE_MAIL, QUEUE_DEFAULT)

_PENDING_KEY = "turnaround_pending_jobs"


def redis_connection() -> redis.Redis:
    app = current_app._get_current_object()
    conn = app.extensions.get("turnaround_redis")
    if conn is None:
        conn = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)
        app.extensions["turnaround_redis"] = conn
    return conn


def get_queue(name: str = QUEUE_DEFAULT) -> Queue:
    return Queue(name, connection=redis_connection())


def job(func: Callable) -> Callable:
    """Run a job function with a clean database session that is closed afterwards."""

    @wraps(func)
    def wrapped(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            db.session.remove()

    return wrapped


def _resolve(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def enqueue_now(path: str, *args, queue: str = QUEUE_DEFAULT) -> None:
    """Hand a job to RQ (or run it here when jobs run inline). Never raises for a Redis outage."""
    if current_app.config["JOBS_INLINE"]:
        with current_app.app_context():
            _resolve(path)(*args)
        return
    try:
        get_queue(queue).enqueue(path, *args, job_timeout=120, failure_ttl=7 * 24 * 3600)
    except redis.RedisError:
        log.warning("Redis unavailable: %s%r left for the sweep", path, args)


def enqueue_after_commit(path: str, *args, queue: str = QUEUE_DEFAULT) -> None:
    """Enqueue ``path(*args)`` once the current transaction commits; dropped if it rolls back."""
    db.session.info.setdefault(_PENDING_KEY, []).append((path, args, queue))


@event.listens_for(Session, "after_commit")
def _flush_pending_jobs(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending or not has_app_context():
        return
    for path, args, queue in pending:
        enqueue_now(path, *args, queue=queue)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending_jobs(session: Session, previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING_KEY, None)


def redis_available(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@job
def sweep() -> dict:
    """Enqueue everything the database says is due. Safe to run concurrently and repeatedly.

    Notices first (SLA at risk and breached, reminders, overdue items), so the mail they owe is queued
    in this same pass; then outbox messages still owed.
    """
    from app.mail import sweep_outbox
    from app.workflow.notices import sweep as sweep_notices

    try:
        notices = sweep_notices()
    except Exception:  # noqa: BLE001  (a failing notice batch must not stop owed mail going out)
        log.exception("notice sweep failed; the notices stay owed for the next sweep")
        db.session.rollback()
        notices = 0
    return {"notices": notices, "outbox": sweep_outbox()}

"""Background jobs: Redis delivers them, the database remembers them.

A change that owes work (an email, later a reminder) writes a row in the same transaction and calls
:func:`enqueue_after_commit` (or :func:`on_commit`). Only when the OUTERMOST transaction commits is the
job handed to RQ: releasing a SAVEPOINT also fires SQLAlchemy's ``after_commit``, so pending work is
tracked per transaction and moves up to the parent when a savepoint is released, and is dropped when the
savepoint or the transaction rolls back. If Redis is down or later flushed, the periodic :func:`sweep`
finds the row still due and enqueues it again. Jobs claim their row with a conditional UPDATE, so running
one twice does nothing the second time.

Jobs are referenced by the function itself, never by a dotted string, so renaming one breaks at import
time. Each job function carries its :class:`JobSpec` (queue, timeout, failure TTL, retries), set once by
the :func:`job` decorator. Queue names are logical (``mail``, ``default``); the Redis queue name adds the
``QUEUE_PREFIX`` setting, so the test suite works on queues of its own and never takes a development
server's jobs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable

import redis
from flask import current_app, has_app_context
from rq import Queue, Retry
from rq.job import Job
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import db

log = logging.getLogger(__name__)

QUEUE_MAIL = "mail"
QUEUE_DEFAULT = "default"
QUEUE_MAIL_BULK = "mail-bulk"
# The worker's order: the mail a person is waiting for (alerts, sign-in links), then everything else, then
# mail sent in bulk (survey invitations, introductions to contacts, digests), so a burst of those never
# holds up an alert or the work that raises the next alerts.
QUEUES = (QUEUE_MAIL, QUEUE_DEFAULT, QUEUE_MAIL_BULK)

_PENDING_KEY = "turnaround_on_commit"


@dataclass(frozen=True)
class JobSpec:
    """How RQ runs a job: its queue, how long it may run, how long a failed job is kept, and retries.

    ``retries`` are immediate RQ retries for a job that raised; delivery retries with backoff are the
    outbox's own business (the row says when it is due again), not RQ's.
    """

    queue: str = QUEUE_DEFAULT
    timeout: int = 120
    failure_ttl: int = 7 * 24 * 3600
    retries: int = 0

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``Queue.enqueue`` / ``Queue.prepare_data``."""
        return {"timeout": self.timeout, "failure_ttl": self.failure_ttl,
                "retry": Retry(max=self.retries) if self.retries else None}


def job(spec: JobSpec | None = None) -> Callable[[Callable], Callable]:
    """Declare a job function: it runs with a clean database session that is closed afterwards.

    The returned function carries ``job_spec``; :func:`enqueue_now` and :func:`enqueue_after_commit` read it.
    """
    spec = spec or JobSpec()

    def decorator(func: Callable) -> Callable:
        @wraps(func)
        def wrapped(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            finally:
                db.session.remove()

        wrapped.job_spec = spec  # type: ignore[attr-defined]
        return wrapped

    return decorator


def spec_of(func: Callable) -> JobSpec:
    try:
        return func.job_spec  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(f"{func!r} is not a job: declare it with @job(...)") from None


def queue_name(name: str) -> str:
    """The Redis name of the logical queue ``name`` under this app's ``QUEUE_PREFIX``."""
    return f"{current_app.config['QUEUE_PREFIX']}-{name}"


def key_name(suffix: str) -> str:
    """A Redis key of this app's own under ``QUEUE_PREFIX`` (cleared with the queues)."""
    return f"{current_app.config['QUEUE_PREFIX']}:{suffix}"


def redis_connection() -> redis.Redis:
    app = current_app._get_current_object()
    conn = app.extensions.get("turnaround_redis")
    if conn is None:
        conn = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)
        app.extensions["turnaround_redis"] = conn
    return conn


def get_queue(name: str = QUEUE_DEFAULT) -> Queue:
    """The RQ queue for the logical queue ``name``."""
    return Queue(queue_name(name), connection=redis_connection())


def clear_queues() -> None:
    """Delete every job waiting in this app's queues, their records and this app's own keys (tests, a
    drill of Redis losing its data).

    Only this app's queues are touched: other queue prefixes and other data in the same Redis stay.
    """
    conn = redis_connection()
    for key in conn.scan_iter(match=key_name("*"), count=1000):
        conn.delete(key)
    for name in QUEUES:
        queue = get_queue(name)
        queue.empty()
        for registry in (queue.started_job_registry, queue.finished_job_registry, queue.failed_job_registry,
                         queue.scheduled_job_registry, queue.deferred_job_registry, queue.canceled_job_registry):
            # Not registry.remove(): the started-job registry refuses it in this RQ version.
            for job_id in registry.get_job_ids():
                conn.delete(Job.key_for(job_id))
            conn.delete(registry.key)


def enqueue_now(func: Callable, *args, job_id: str | None = None) -> None:
    """Hand ``func(*args)`` to its queue now (or run it here when jobs run inline). ``job_id`` names the RQ
    job, for work whose job the sweep must be able to find in Redis.

    Never raises for a Redis outage: the database still says the work is owed, and the sweep finds it.
    """
    spec = spec_of(func)
    if current_app.config["JOBS_INLINE"]:
        with current_app.app_context():
            func(*args)
        return
    try:
        get_queue(spec.queue).enqueue_call(func, args=args, job_id=job_id, **spec.options())
    except redis.RedisError:
        log.warning("Redis unavailable: %s%r left for the sweep", func.__name__, args)


ONCE_TTL_SECONDS = 120


def enqueue_once(key: str, func: Callable, *args) -> None:
    """Hand ``func(*args)`` to its queue unless a job under ``key`` is already waiting to start: a burst of
    work for one thing (deliveries to one integration) queues one job, not one per item. The job calls
    :func:`started_once` with the same key *before* it looks for work, so anything written after that queues
    a new job. The key expires after ``ONCE_TTL_SECONDS``, and the sweep finds work whose job was lost.
    """
    if current_app.config["JOBS_INLINE"]:
        enqueue_now(func, *args)
        return
    try:
        if not redis_connection().set(key_name(f"once:{key}"), "1", nx=True, ex=ONCE_TTL_SECONDS):
            return
    except redis.RedisError:
        log.warning("Redis unavailable: %s%r left for the sweep", func.__name__, args)
        return
    enqueue_now(func, *args)


def started_once(key: str) -> None:
    """The job queued by :func:`enqueue_once` under ``key`` has started: the next piece of work queues another."""
    if current_app.config["JOBS_INLINE"]:
        return
    try:
        redis_connection().delete(key_name(f"once:{key}"))
    except redis.RedisError:
        log.warning("Redis unavailable: could not clear %s", key)


def enqueue_once_after_commit(key: str, func: Callable, *args) -> None:
    """:func:`enqueue_once` once the outermost transaction commits; dropped if it rolls back."""
    spec_of(func)
    on_commit(_enqueue_each_once, (key, func, args))


def _enqueue_each_once(calls: list[tuple[str, Callable, tuple]]) -> None:
    for key, func, args in calls:
        enqueue_once(key, func, *args)


def on_commit(callback: Callable[[list], None], item: Any) -> None:
    """Collect ``item`` for ``callback``; once the outermost transaction commits, ``callback(items)`` runs
    once with everything collected for it, in order. Dropped with the (sub)transaction that rolls back.
    """
    session = db.session()
    owner = session.get_nested_transaction()  # None: the outermost transaction owns it
    session.info.setdefault(_PENDING_KEY, []).append([owner, callback, item])


def enqueue_after_commit(func: Callable, *args) -> None:
    """Enqueue ``func(*args)`` once the outermost transaction commits; dropped if it rolls back."""
    spec_of(func)
    on_commit(_enqueue_each, (func, args))


def _enqueue_each(calls: list[tuple[Callable, tuple]]) -> None:
    for func, args in calls:
        enqueue_now(func, *args)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.get(_PENDING_KEY)
    if not pending:
        return
    released = session.get_nested_transaction()
    if released is not None:
        # A SAVEPOINT was released, not a transaction committed: its work now belongs to the enclosing one.
        parent = _enclosing_savepoint(released)
        for entry in pending:
            if entry[0] is released:
                entry[0] = parent
        return
    session.info.pop(_PENDING_KEY, None)
    if not has_app_context():
        return
    grouped: dict[Callable, list] = {}
    for _, callback, item in pending:
        grouped.setdefault(callback, []).append(item)
    for callback, items in grouped.items():
        callback(items)


def _enclosing_savepoint(transaction: SessionTransaction) -> SessionTransaction | None:
    parent = transaction.parent
    while parent is not None and not parent.nested:
        # Between a savepoint and its enclosing savepoint SQLAlchemy may keep "subtransaction" markers.
        parent = parent.parent
    return parent


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    pending = session.info.get(_PENDING_KEY)
    if not pending:
        return
    rolled_back = session.get_nested_transaction()
    if rolled_back is None:
        session.info.pop(_PENDING_KEY, None)
    else:
        session.info[_PENDING_KEY] = [entry for entry in pending if entry[0] is not rolled_back]


@event.listens_for(Session, "after_soft_rollback")
def _after_soft_rollback(session: Session, previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING_KEY, None)


def redis_available(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@job(JobSpec(queue=QUEUE_DEFAULT, timeout=300))
def sweep() -> dict:
    """Enqueue everything the database says is due. Safe to run concurrently and repeatedly.

    Notices first (SLA at risk and breached, reminders, overdue items), so the mail they owe is queued in this
    same pass; then re-surveys after closed tickets and weekly digests that are due; then survey sends and
    contact imports whose job was lost; then webhook deliveries still owed;
    then integration deliveries still owed work, HubSpot polls that are due and delivery log rows past 30 days;
    then the daily backlog notice to organisations over their threshold (counted every few minutes); then
    outbox messages still owed; then form submission keys older than a day; then the report rollups of days
    whose responses, invitations or closed tickets changed. A step that fails is logged and
    left for the next sweep: it never stops the steps after it, owed mail above all.
    """
    from app import submissions
    from app.feedback.digest import sweep_digests
    from app.feedback.recovery import sweep_resurveys
    from app.imports.running import sweep_imports
    from app.mail import sweep_outbox
    from app.notifications import sweep_due
    from app.notifications.sweep import backlog_check_due, sweep_backlog
    from app.notifications.webhooks import sweep_webhooks
    from app.integrations.services import sweep as sweep_integrations
    from app.reports.rollup import roll_up
    from app.surveys.sending import sweep_sends
    from app.timeutil import utcnow

    steps = {
        "notices": sweep_due,
        "resurveys": sweep_resurveys,
        "digests": sweep_digests,
        "sends": sweep_sends,
        "imports": sweep_imports,
        "webhooks": sweep_webhooks,
        "integrations": sweep_integrations,
        "backlog": lambda: sweep_backlog() if backlog_check_due(utcnow()) else 0,
    }
    done = {name: _sweep_step(name, step) for name, step in steps.items()}
    return {**done, "outbox": sweep_outbox(), "submissions": submissions.prune(),
            "report_days": _sweep_step("report rollup", roll_up)}


def _sweep_step(name: str, step) -> int:
    try:
        return step()
    except Exception:  # noqa: BLE001  (one failing step must not stop the others)
        log.exception("%s sweep failed; what it owes is left for the next sweep", name)
        db.session.rollback()
        return 0

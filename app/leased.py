"""Long work that a job does in batches under a lease: a survey send, a contact import.

The work is a row with ``status`` (``queued`` → ``running`` → ``done`` or ``failed``), ``enqueued_at``,
``started_at``, ``lease_until`` and ``finished_at``, and a place of its own that each batch moves forward in
the same transaction as the batch's writes. :func:`run_leased` claims the row (a queued one, or a running one
whose lease ran out: its worker died), prepares once and runs batches until one says it is done; a batch
renews the lease as it commits. :func:`lost_work` is the sweep's half: it finds rows whose job was lost
(queued for too long with no job in Redis) or whose worker died (running past the lease), so they can be
handed to the worker again, to resume after the last batch that committed.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Callable, TypeVar

import redis
from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import and_, func, or_, select, update

from app.extensions import db
from app.jobs import redis_connection
from app.tenancy import tenant_context, unscoped
from app.timeutil import utcnow

log = logging.getLogger(__name__)

R = TypeVar("R")


def run_leased(model, row_id: int, *, lease: timedelta, prepare: Callable[[int, int], R],
               step: Callable[[R], bool], what: str) -> str:
    """Claim the ``model`` row ``row_id`` for ``lease``, then ``prepare(row_id, tenant_id)`` once and call
    ``step(prepared)`` until it returns True, all inside the row's tenant. Each step commits its own batch and
    renews the lease. If a step raises, the row is marked ``failed`` (batches already committed stay) and the
    error goes on to RQ.

    Returns ``done``, or ``skipped`` when the row is gone, already finished or held by another job.
    """
    tenant_id = db.session.execute(
        unscoped(select(model.tenant_id).where(model.id == row_id))
    ).scalar_one_or_none()
    if tenant_id is None:
        return "skipped"
    with tenant_context(tenant_id):
        now = utcnow()
        claimed = db.session.execute(
            update(model)
            .where(model.id == row_id,
                   or_(model.status == "queued", and_(model.status == "running", model.lease_until < now)))
            .values(status="running", lease_until=now + lease, started_at=func.coalesce(model.started_at, now))
            .returning(model.id),
            execution_options={"synchronize_session": False},
        ).first()
        db.session.commit()
        if claimed is None:
            return "skipped"
        prepared = prepare(row_id, tenant_id)
        db.session.commit()
        try:
            while not step(prepared):
                pass
        except Exception:
            db.session.rollback()
            log.exception("%s %s failed; the batches already committed stay", what, row_id)
            db.session.execute(update(model).where(model.id == row_id)
                               .values(status="failed", finished_at=utcnow(), lease_until=None),
                               execution_options={"synchronize_session": False})
            db.session.commit()
            raise
    return "done"


def lock_for_batch(model, row_id: int) -> Any:
    """The row, locked for this batch's transaction and read afresh (``SELECT … FOR UPDATE``)."""
    return db.session.execute(
        select(model).where(model.id == row_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def job_waiting(job_id: str) -> bool:
    """Whether RQ still holds the job ``job_id``: waiting, running, deferred or scheduled."""
    try:
        status = Job.fetch(job_id, connection=redis_connection()).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def lost_work(model, job_id: Callable[[int], str], stale_after: int | None = None) -> list[int]:
    """Ids of ``model`` rows whose job was lost, across tenants, marked as handed over again (``enqueued_at``
    now, committed); the caller enqueues them. Lost means: queued, handed over more than ``stale_after``
    seconds ago (default ``OUTBOX_STALE_SECONDS``) and no job ``job_id(id)`` waiting or running in Redis; or
    running with its lease run out (the worker died). With Redis unreachable, nothing is lost yet."""
    now = utcnow()
    stale = current_app.config["OUTBOX_STALE_SECONDS"] if stale_after is None else stale_after
    candidates = db.session.execute(unscoped(
        select(model.id, model.status).where(or_(
            and_(model.status == "queued", model.enqueued_at <= now - timedelta(seconds=stale)),
            and_(model.status == "running", model.lease_until < now),
        )).order_by(model.id).limit(100)
    )).all()
    try:
        lost = [row_id for row_id, status in candidates if status == "running" or not job_waiting(job_id(row_id))]
    except redis.RedisError:
        db.session.rollback()
        return []
    if lost:
        db.session.execute(unscoped(update(model).where(model.id.in_(lost)).values(enqueued_at=now)),
                           execution_options={"synchronize_session": False})
    db.session.commit()
    return lost

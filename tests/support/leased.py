"""Work done in leased batches (survey sends, contact imports) killed part way, as a worker killed mid-job is."""
from __future__ import annotations

import pytest

from app.jobs import clear_queues


class WorkerKilled(BaseException):
    """What a killed worker looks like from inside its job: nothing after it runs."""


def kill_after_one_batch(app, monkeypatch, module, run, work_id: int, batch: str = "_run_batch") -> None:
    """Run ``run(work_id)`` (a job of ``module``, whose batches are ``module.<batch>``) until its first batch
    has committed, then kill it; Redis loses the job too."""
    real_batch = getattr(module, batch)
    batches = []

    def one_batch_then_die(*args):
        if batches:
            raise WorkerKilled()
        batches.append(1)
        return real_batch(*args)

    monkeypatch.setattr(module, batch, one_batch_then_die)
    with app.app_context(), pytest.raises(WorkerKilled):
        run(work_id)
    monkeypatch.setattr(module, batch, real_batch)
    with app.app_context():
        clear_queues()  # the job is lost with Redis

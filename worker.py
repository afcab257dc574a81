"""The background worker: runs RQ jobs and sweeps the database for anything due.

With ``JOBS_INLINE=1`` (development without Redis) it only sweeps, running each due job itself.
"""
from __future__ import annotations

import logging
import threading
import time

from rq import SimpleWorker

from app import create_app
from app.jobs import QUEUES, get_queue, redis_connection, sweep

log = logging.getLogger("turnaround.worker")


def sweep_forever(app, interval: int, stop: threading.Event) -> None:
    """Run the sweep every ``interval`` seconds until ``stop`` is set; errors are logged, never fatal."""
    while not stop.is_set():
        with app.app_context():
            try:
                result = sweep()
                if any(result.values()):
                    log.info("sweep enqueued %s", result)
            except Exception:
                log.exception("sweep failed; retrying in %ss", interval)
        stop.wait(interval)


def main() -> None:
    app = create_app()
    interval = app.config["SWEEP_INTERVAL_SECONDS"]
    stop = threading.Event()
    if app.config["JOBS_INLINE"]:
        log.warning("JOBS_INLINE is set: no Redis, jobs run inside this sweeper every %ss", interval)
        try:
            sweep_forever(app, interval, stop)
        except KeyboardInterrupt:
            pass
        return
    sweeper = threading.Thread(target=sweep_forever, args=(app, interval, stop), name="sweeper", daemon=True)
    sweeper.start()
    with app.app_context():
        # SimpleWorker runs jobs in this process: no fork, so the database pool is never shared across processes.
        worker = SimpleWorker([get_queue(name) for name in QUEUES], connection=redis_connection())
        try:
            worker.work(with_scheduler=False)
        finally:
            stop.set()


if __name__ == "__main__":
    time.tzset()
    main()

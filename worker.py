"""The background worker: runs RQ jobs and sweeps the database for anything due.

Two job loops share the process: the main one takes every queue (mail first), and a second one, on a thread
of its own, takes only the mail queue, so an alert or a sign-in link never waits behind a long job of the
main loop (a contact import, a HubSpot poll, a batch of webhook deliveries), and the main loop's database
work overlaps with the mail loop's waits on the SMTP server. A message is claimed before it is sent, so
the two never send the same one.

It outlives its services. When Redis goes away it logs it, keeps sweeping the database (notices are still
claimed and their mail written to the outbox) and reconnects when Redis is back; a job it cannot load (a
corrupt job hash) is set aside under ``<QUEUE_PREFIX>:unreadable-job:<id>`` and the next one runs. It stops
only on SIGTERM/SIGINT: RQ's own loop returning for any other reason is an error, logged and recovered from.

With ``JOBS_INLINE=1`` (development without Redis) it only sweeps, running each due job itself.
"""
from __future__ import annotations

import logging
import signal
import threading
import time

import redis
from flask import Flask
from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.timeouts import TimerDeathPenalty

from app import create_app
from app.jobs import QUEUE_MAIL, QUEUES, get_queue, key_name, redis_connection, sweep

log = logging.getLogger("turnaround.worker")

# The longest wait between tries to reach Redis while it is away, for the job loop and RQ's own loop inside
# it. Each try is one cheap connection attempt, and every second waited after Redis is back is a second the
# mail the sweep has just handed over sits in the queue (RQ's own default climbs to 60 s).
RECONNECT_MAX_SECONDS = 2


def sweep_forever(app: Flask, interval: int, stop: threading.Event) -> None:
    """Run the sweep every ``interval`` seconds until ``stop`` is set; errors are logged, never fatal.

    It also says when Redis goes away and when it is back (RQ's loop retries quietly on its own)."""
    redis_up = True
    while not stop.is_set():
        with app.app_context():
            if not app.config["JOBS_INLINE"]:
                redis_up = _report_redis(app, redis_up)
            try:
                result = sweep()
                if any(result.values()):
                    log.info("sweep enqueued %s", result)
            except Exception:
                log.exception("sweep failed; retrying in %ss", interval)
        stop.wait(interval)


def _report_redis(app: Flask, was_up: bool) -> bool:
    try:
        redis_connection().ping()
    except redis.RedisError as exc:
        if was_up:
            log.warning("Redis unavailable at %s (%s); still sweeping the database, waiting for it to return",
                        app.config["REDIS_URL"], exc)
        return False
    if not was_up:
        log.info("Reconnected to Redis at %s", app.config["REDIS_URL"])
    return True


# Below the 5 s socket timeout of app.jobs.redis_connection.
DEQUEUE_WAIT_SECONDS = 3


class Worker(SimpleWorker):
    """RQ's SimpleWorker (jobs run in this process: no fork, so the database pool is never shared across
    processes) that sets aside a job it cannot load instead of quitting, tries a lost Redis again at least every
    ``RECONNECT_MAX_SECONDS`` and tells us when asked to stop."""

    stop_event: threading.Event
    max_connection_wait_time = RECONNECT_MAX_SECONDS
    dequeue_wait = DEQUEUE_WAIT_SECONDS

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        # Wait for a job a little less than the connection's read timeout (app.jobs.redis_connection), so
        # an idle wait ends as "no job yet" rather than as a lost connection. None is a burst's no-wait.
        if timeout is not None:
            timeout = min(timeout, self.dequeue_wait)
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except redis.RedisError:
                raise
            except Exception as exc:  # noqa: BLE001  (RQ attaches the job id to a job it could not load)
                job_id = getattr(exc, "job_id", None)
                if job_id is None:
                    raise
                set_aside(self.connection, job_id, exc)

    def request_stop(self, signum, frame):
        self.stop_event.set()
        try:
            super().request_stop(signum, frame)
        except redis.RedisError:  # RQ asks Redis whether a job is running; with Redis gone, none is
            raise StopRequested() from None


class MailWorker(Worker):
    """The mail loop's worker (see the module docstring). Signals belong to the main thread, which sets
    ``stop_event``; this loop stops before its next job once it is set, finishing the one in hand. A job's
    time limit is a timer here (RQ's default is SIGALRM, which only the main thread can use)."""

    death_penalty_class = TimerDeathPenalty
    dequeue_wait = 1  # it sees a stop request only between waits: a stopping worker waits for it at most this long

    def _install_signal_handlers(self):
        pass

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        # RQ waits for a job until one comes; this loop waits a second at a time and looks at the stop event
        # in between (RQ's own stop comes from a signal handler, which only the main thread gets).
        while not self.stop_event.is_set():
            found = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time=self.dequeue_wait)
            if found is not None:
                return found
        raise StopRequested()


def set_aside(connection: redis.Redis, job_id: str, exc: Exception) -> None:
    """Move an unreadable job hash out of RQ's way, keeping it for a person to look at."""
    aside = key_name(f"unreadable-job:{job_id}")
    try:
        connection.rename(f"rq:job:{job_id}", aside)
    except redis.ResponseError:  # already gone
        aside = "(nothing left to keep)"
    log.error("Job %s cannot be loaded (%s: %s); set aside as %s, carrying on", job_id, type(exc).__name__, exc,
              aside)


def work_until_stopped(app: Flask, stop: threading.Event, queues: tuple[str, ...] = QUEUES,
                       worker_class: type[Worker] = Worker) -> None:
    """Run RQ's work loop on ``queues``; whenever it ends without a stop request, wait for Redis and start it
    again. The main thread's loop (``Worker``) also takes the stop signals over between its runs."""
    main_loop = worker_class is Worker
    delay = 1.0
    while not stop.is_set():
        try:
            redis_connection().ping()
        except redis.RedisError:
            stop.wait(delay)  # the sweeper logs the outage and the return
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            continue
        delay = 1.0
        worker = worker_class([get_queue(name) for name in queues], connection=redis_connection())
        worker.stop_event = stop
        try:
            worker.work(with_scheduler=False)
        except redis.RedisError as exc:
            log.warning("Lost Redis (%s)", exc)
        finally:
            if main_loop:
                _stop_on_signal(stop)  # RQ's handlers need a live worker loop
        if not stop.is_set():
            log.error("The job loop ended without a stop request; restarting it")
            stop.wait(1)


def _stop_on_signal(stop: threading.Event) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())


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
    _stop_on_signal(stop)
    sweeper = threading.Thread(target=sweep_forever, args=(app, interval, stop), name="sweeper", daemon=True)
    sweeper.start()
    mailer = threading.Thread(target=_mail_loop, args=(app, stop), name="mail", daemon=True)
    mailer.start()
    with app.app_context():
        try:
            work_until_stopped(app, stop)
        finally:
            stop.set()
            # The mail loop finishes the batch in hand (each message's outcome is written right after the
            # server's reply, so even a cut-off batch sends nothing twice).
            mailer.join(MAIL_STOP_SECONDS)


# How long a stopping worker waits for the mail loop's batch in hand.
MAIL_STOP_SECONDS = 60


def _mail_loop(app: Flask, stop: threading.Event) -> None:
    while not stop.is_set():
        with app.app_context():
            try:
                work_until_stopped(app, stop, (QUEUE_MAIL,), MailWorker)
            except Exception:  # noqa: BLE001  (meanwhile the main loop delivers the mail on its own)
                log.exception("The mail loop failed; starting it again in %ss", MAIL_RESTART_SECONDS)
                stop.wait(MAIL_RESTART_SECONDS)


MAIL_RESTART_SECONDS = 5


if __name__ == "__main__":
    time.tzset()
    main()

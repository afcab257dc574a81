"""Jobs are functions with one spec each, queued under the configured prefix."""
from __future__ import annotations

import pytest

from app.jobs import (QUEUE_MAIL, JobSpec, enqueue_after_commit, enqueue_now, get_queue, job, queue_name, spec_of,
                      sweep)
from app.mail import MAIL_JOB, deliver, deliver_messages


def test_a_job_is_queued_by_its_function_with_the_options_of_its_spec(ctx):
    enqueue_now(deliver, 41)
    [queued] = get_queue(QUEUE_MAIL).get_jobs()
    assert queued.func is deliver
    assert queued.func_name == "app.mail.deliver"
    assert queued.args == (41,)
    assert queued.timeout == MAIL_JOB.timeout
    assert queued.failure_ttl == MAIL_JOB.failure_ttl


def test_every_job_declares_its_queue_in_one_place():
    assert spec_of(deliver).queue == spec_of(deliver_messages).queue == QUEUE_MAIL
    assert isinstance(spec_of(sweep), JobSpec)


def test_a_plain_function_cannot_be_queued(ctx):
    def not_a_job(x):
        return x

    with pytest.raises(TypeError, match="not a job"):
        enqueue_now(not_a_job, 1)
    with pytest.raises(TypeError, match="not a job"):
        enqueue_after_commit(not_a_job, 1)


def test_the_tests_use_their_own_queue_names_not_a_development_servers(app, ctx):
    assert app.config["QUEUE_PREFIX"] == "turnaround-test"
    assert queue_name(QUEUE_MAIL) == "turnaround-test-mail"
    assert get_queue(QUEUE_MAIL).name == "turnaround-test-mail"


def test_the_queue_prefix_comes_from_the_environment_outside_tests(monkeypatch):
    from app.config import load_config

    monkeypatch.setenv("QUEUE_PREFIX", "acme-staging")
    assert load_config({"APP_ENV": "development"})["QUEUE_PREFIX"] == "acme-staging"
    assert load_config({"APP_ENV": "test"})["QUEUE_PREFIX"] == "turnaround-test"


def test_a_job_with_retries_carries_them_to_rq(ctx):
    @job(JobSpec(retries=2))
    def flaky() -> None:
        """A job that may be retried twice."""

    assert spec_of(flaky).options()["retry"].max == 2

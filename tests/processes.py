"""The worker as production runs it: ``python worker.py`` in its own process."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from tests.conftest import _database_url, _redis_url

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker_env(smtp_sink, base_url: str = "http://localhost", **extra: str) -> dict:
    env = dict(os.environ)
    env.update({
        "APP_ENV": "test", "DATABASE_URL": _database_url(), "REDIS_URL": _redis_url(),
        "SMTP_HOST": smtp_sink.host, "SMTP_PORT": str(smtp_sink.port), "BASE_URL": base_url,
        "SWEEP_INTERVAL_SECONDS": "1", "OUTBOX_STALE_SECONDS": "2",
    })
    env.update(extra)
    env.pop("JOBS_INLINE", None)
    return env


class WorkerProcess:
    """Start, kill and stop ``python worker.py`` against the tests' database, Redis and SMTP sink."""

    def __init__(self, env: dict):
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.log_file = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=self.env,
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        time.sleep(0.5)
        assert self.proc.poll() is None, f"worker.py exited at start:\n{self.log()}"

    def log(self) -> str:
        """Everything the worker has written so far (stdout and stderr)."""
        with open(self.log_file.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for_log(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in the worker's log:\n{self.log()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()



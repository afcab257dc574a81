"""The worker as production runs it: ``python worker.py`` in its own process."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

from tests.support.env import database_url, redis_url

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker_env(smtp_sink, base_url: str = "http://localhost", **extra: str) -> dict:
    env = dict(os.environ)
    env.update({
        "APP_ENV": "test", "DATABASE_URL": database_url(), "REDIS_URL": redis_url(),
        "SMTP_HOST": smtp_sink.host, "SMTP_PORT": str(smtp_sink.port), "BASE_URL": base_url,
        "SWEEP_INTERVAL_SECONDS": "1", "OUTBOX_STALE_SECONDS": "2", "QUEUE_PREFIX": "turnaround-test",
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




class TcpProxy:
    """Forwards a local port to ``target`` (PostgreSQL, say) and can cut it, to play a database outage
    without stopping a server that other people share: ``cut()`` closes every connection and refuses new
    ones; ``restore()`` accepts again."""

    def __init__(self, target_host: str, target_port: int):
        import socket
        import threading

        self.target = (target_host, target_port)
        self._socket, self._threading = socket, threading
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener = None
        self._pairs: list = []
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        self._listener = self._socket.create_server(("127.0.0.1", self.port))
        self._threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self

    restore = start

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(self._socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
            except OSError:
                pass
            listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            for sock in (client, upstream):
                try:
                    sock.shutdown(self._socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    stop = cut

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = self._socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, destination) -> None:
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, destination):
                try:
                    sock.close()
                except OSError:
                    pass


class PrivateRedis:
    """A redis-server of the test's own on a free port (no persistence), which the test may kill and start
    again: the shared Redis is never stopped."""

    def __init__(self):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    @contextmanager
    def used_by(self, app):
        """Point ``app`` (the test process's own) at this server for the block, so that what the test queues
        meets the same outage as the worker; the tests' shared Redis is used again afterwards."""
        saved_url, saved_conn = app.config["REDIS_URL"], app.extensions.pop("turnaround_redis", None)
        app.config["REDIS_URL"] = self.url
        try:
            yield self
        finally:
            private_conn = app.extensions.pop("turnaround_redis", None)
            if private_conn is not None:
                private_conn.close()
            app.config["REDIS_URL"] = saved_url
            if saved_conn is not None:
                app.extensions["turnaround_redis"] = saved_conn

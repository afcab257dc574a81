"""A real SMTP server for tests (aiosmtpd) that keeps every message it receives, and can be told to
misbehave: answer 4xx/5xx at MAIL, RCPT or DATA for a while, or run code when a message arrives.

:class:`FlakyListener` covers failures before SMTP starts: a 421 greeting, a dropped connection, a server
that never answers (timeout)."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Callable

from aiosmtpd.controller import Controller


@dataclass
class Fault:
    """Answer ``reply`` at ``stage`` ("MAIL", "RCPT" or "DATA") for the next ``times`` transactions whose
    recipient contains ``address`` (any when empty); with ``until`` (a ``time.time()``), instead every
    such transaction until that moment, however many."""

    stage: str
    reply: str
    times: int = 1
    address: str = ""
    until: float | None = None

    def applies(self, stage: str, address: str) -> bool:
        """Whether this transaction gets the fault; counts it against ``times``."""
        if self.stage != stage or self.address.lower() not in address.lower():
            return False
        if self.until is not None:
            return time.time() < self.until
        if self.times <= 0:
            return False
        self.times -= 1
        return True


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    def _fault(self, stage: str, address: str) -> str | None:
        with self.sink.lock:
            for fault in self.sink.faults:
                if fault.applies(stage, address):
                    return fault.reply
        return None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self._fault("MAIL", "")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # A recipient whose address contains "reject" is refused for good, like an unknown mailbox.
        if "reject" in address.lower():
            return "550 5.1.1 Mailbox unavailable: no such user here"
        reply = self._fault("RCPT", address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        reply = self._fault("DATA", ",".join(envelope.rcpt_tos))
        if reply:
            with self.sink.lock:
                self.sink.refused.append(message)
            return reply
        if self.sink.on_message is not None:
            self.sink.on_message(message)
        with self.sink.lock:
            self.sink.messages.append(message)
            self.sink.arrivals.append(time.monotonic())
        return "250 2.0.0 OK queued"


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.messages: list[EmailMessage] = []
        self.refused: list[EmailMessage] = []  # reached DATA but answered with a fault
        self.arrivals: list[float] = []  # time.monotonic() of each accepted message
        self.faults: list[Fault] = []
        # Called (in the server's thread) with each message before it is accepted.
        self.on_message: Callable[[EmailMessage], None] | None = None
        self.lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname=host, port=port or _free_port())
        self.host, self.port = host, self.controller.port

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.refused.clear()
            self.arrivals.clear()
            self.faults.clear()
            self.on_message = None

    def fail(self, stage: str, reply: str, times: int = 1, address: str = "") -> Fault:
        """Answer ``reply`` at ``stage`` for the next ``times`` matching transactions."""
        fault = Fault(stage.upper(), reply, times, address)
        with self.lock:
            self.faults.append(fault)
        return fault

    def fail_until(self, stage: str, reply: str, deadline: float, address: str = "") -> Fault:
        """Answer ``reply`` at ``stage`` to every matching transaction until ``deadline`` (``time.time()``,
        wall clock), then accept again: a greylisting server, say."""
        fault = Fault(stage.upper(), reply, address=address, until=deadline)
        with self.lock:
            self.faults.append(fault)
        return fault

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait until at least ``count`` messages have arrived; returns them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        with self.lock:
            raise AssertionError(f"expected {count} messages, got {len(self.messages)}: "
                                 f"{[m['Subject'] for m in self.messages]}")


class FlakyListener:
    """A TCP server that is not a working SMTP server: ``mode`` is "greet-421" (answers 421 and closes),
    "drop" (closes at once) or "silent" (accepts and never answers, so the client times out)."""

    def __init__(self, mode: str, host: str = "127.0.0.1"):
        self.mode, self.host = mode, host
        self.connections = 0
        self._sock = socket.create_server((host, 0))
        self.port = self._sock.getsockname()[1]
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "FlakyListener":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._sock.close()
        for conn in self._open:
            conn.close()
        self._thread.join(5)

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            if self.mode == "greet-421":
                conn.sendall(b"421 4.3.2 Service not available, try again later\r\n")
                conn.close()
            elif self.mode == "drop":
                conn.close()
            else:
                self._open.append(conn)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part else ""


def body_html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    return part.get_content() if part else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SinkProcess:
    """An accepting SMTP server in its own process, for timing tests: in the test process its thread would
    wait for the GIL at every SMTP round trip while the test itself is busy. Each accepted message is
    written to a file as ``<time.time()> <Message-ID>``."""

    def __init__(self, host: str = "127.0.0.1"):
        import tempfile

        self.host, self.port = host, _free_port()
        self.path = tempfile.mktemp(prefix="smtp-sink-")
        self.proc = None

    def start(self) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen([sys.executable, "-m", "tests.smtp_sink", self.host, str(self.port), self.path],
                                     cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def received(self) -> list[tuple[float, str]]:
        """(arrival time, Message-ID) of every message accepted so far."""
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [(float(at), message_id) for at, message_id in (line.split(" ", 1) for line in lines if " " in line)]


def _serve_to_file(host: str, port: int, path: str) -> None:
    import re

    pattern = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)

    class Recorder:
        async def handle_DATA(self, server, session, envelope):
            found = pattern.search(envelope.original_content or envelope.content)
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"{time.time():.6f} {found.group(1).decode() if found else '?'}\n")
            return "250 2.0.0 OK"

    controller = Controller(Recorder(), hostname=host, port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    import sys

    _serve_to_file(sys.argv[1], int(sys.argv[2]), sys.argv[3])

"""A local SMTP server for development: accepts every message and prints a one-line summary.

The full messages can be read in the app's email log, which stores what was sent.
"""
from __future__ import annotations

import os
import time
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


class PrintingHandler:
    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        print(f"mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']} (from {message['From']})", flush=True)
        return "250 Message accepted for delivery"


def main() -> None:
    host, port = os.environ.get("SMTP_HOST", "127.0.0.1"), int(os.environ.get("SMTP_PORT", "1025"))
    controller = Controller(PrintingHandler(), hostname=host, port=port)
    controller.start()
    print(f"Local mail sink listening on {host}:{port}; nothing leaves this machine.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()

"""Secrets at rest: an integration's signing secret and vendor credentials are stored encrypted with Fernet
(AES-128-CBC with HMAC-SHA256, from the ``cryptography`` package).

The key is ``INTEGRATIONS_ENCRYPTION_KEY`` (a Fernet key: 32 url-safe base64 bytes) when it is set, else one
derived from ``SECRET_KEY`` with HKDF-SHA256, so a database dump alone never yields a vendor token. Changing
``SECRET_KEY`` without setting the dedicated key makes stored credentials unreadable: set the dedicated key in
production.
"""
from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

__all__ = ["InvalidToken", "decrypt", "decrypt_json", "encrypt", "encrypt_json"]


def _fernet() -> Fernet:
    app = current_app._get_current_object()
    cached = app.extensions.get("turnaround_fernet")
    if cached is not None:
        return cached
    key = app.config.get("INTEGRATIONS_ENCRYPTION_KEY")
    if not key:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"turnaround-integrations",
                       info=b"integration secrets").derive(app.config["SECRET_KEY"].encode())
        key = base64.urlsafe_b64encode(derived)
    fernet = app.extensions["turnaround_fernet"] = Fernet(key)
    return fernet


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    """The plain text of ``token``; raises :class:`InvalidToken` when it was encrypted under another key."""
    return _fernet().decrypt(token.encode()).decode()


def encrypt_json(values: dict) -> str:
    return encrypt(json.dumps(values, sort_keys=True))


def decrypt_json(token: str | None) -> dict:
    return json.loads(decrypt(token)) if token else {}

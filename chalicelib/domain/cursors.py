"""Pagination cursors: an opaque, signed token for "the next page of this list", bound to the list it came from.

A caller cannot forge one (HMAC-SHA256 with a secret) or replay one against another list (its scope is signed
in). Anything that is not a cursor this list issued is refused as a validation error, never a crash.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from .errors import ValidationFailed

MAX_LENGTH = 2000


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(key: dict[str, Any], scope: str, secret: bytes) -> str:
    payload = json.dumps({"k": key, "s": scope}, separators=(",", ":"), sort_keys=True).encode()
    sig = hmac.new(secret, payload, hashlib.sha256).digest()[:12]
    return _b64(payload) + "." + _b64(sig)


def decode(cursor: str, scope: str, secret: bytes) -> dict[str, Any]:
    """The position a cursor stands for, if this list issued it (else 422 naming the cursor)."""
    bad = ValidationFailed.one("cursor", "valid_cursor", "cursor is not one this list returned")
    if not isinstance(cursor, str) or len(cursor) > MAX_LENGTH or cursor.count(".") != 1:
        raise bad
    try:
        body, sig = cursor.split(".", 1)
        payload, given = _unb64(body), _unb64(sig)
    except (ValueError, binascii.Error):
        raise bad from None
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:12]
    if not hmac.compare_digest(given, expected):
        raise bad
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(data, dict) or data.get("s") != scope or not isinstance(data.get("k"), dict):
        raise bad
    key = data["k"]
    if not all(isinstance(k, str) and isinstance(v, dict) for k, v in key.items()):
        raise bad
    return key

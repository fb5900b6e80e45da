"""Configuration read lazily from the environment.

Chalice's test client sets `.chalice/config.json` variables only during a request, so nothing here is read at
import time.
"""
from __future__ import annotations

import os

DEFAULT_HASH_KEY = "local-development-only-participant-hash-key"


def stage() -> str:
    return os.environ.get("REFPAY_STAGE", "dev")


def table_name(suffix: str) -> str:
    return f"refpay-{stage()}-{suffix}"


LOCAL_STAGES = ("dev", "bench")


def _secret(name: str, local_default: str) -> bytes:
    value = os.environ.get(name)
    if value:
        return value.encode()
    if stage() not in LOCAL_STAGES:
        raise RuntimeError(f"{name} must be set in stage {stage()!r}")
    return local_default.encode()


def participant_hash_key() -> bytes:
    """Secret key for the pseudonymous participant identifier (HMAC of the National Insurance number)."""
    return _secret("REFPAY_PARTICIPANT_HASH_KEY", DEFAULT_HASH_KEY)


def cursor_key() -> bytes:
    """Secret that signs pagination cursors so a caller cannot forge one."""
    return _secret("REFPAY_CURSOR_KEY", "local-development-only-cursor-key")


def auth_cache_seconds() -> int:
    return int(os.environ.get("REFPAY_AUTH_CACHE_SECONDS", "60"))

"""The one source of 'now'. Tests and replays pin the date with `REFPAY_TODAY` (a setting) or by patching."""
from __future__ import annotations

from datetime import UTC, date, datetime

from . import settings


def now() -> datetime:
    pinned = settings.get().today
    if pinned:
        return datetime.combine(pinned, datetime.now(UTC).timetz())
    return datetime.now(UTC)


def today() -> date:
    return now().date()

"""The one source of 'now'. Tests and replays pin it with `REFPAY_TODAY` or by patching `today`/`now`."""
from __future__ import annotations

import os
from datetime import date, datetime, timezone


def now() -> datetime:
    pinned = os.environ.get("REFPAY_TODAY")
    if pinned:
        return datetime.combine(date.fromisoformat(pinned), datetime.now(timezone.utc).timetz())
    return datetime.now(timezone.utc)


def today() -> date:
    return now().date()

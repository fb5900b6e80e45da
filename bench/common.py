"""What the local-server benchmarks share: the people they refer and where, a percentile, a timed POST, the client
threads that load a server, and the errors a server logged, counted."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from chalicelib.services.admin import HISTORY_PEOPLE

TODAY = "2026-11-24"  # a Tuesday with every demo programme's referral window open (as the tests pin it)

# Places: each provider's allocation, so that no referral is refused for a full one.
NORFOLK = "flexible-routeways-norfolk"
TEES = "tees-valley-routes-to-work"
# King's Lynn Works' 300 places, less the demo's past participants the local run seeds (services/admin.py).
NORFOLK_SLOTS = [("kings-lynn-works", 300 - HISTORY_PEOPLE), ("trobius", 1000), ("great-yarmouth-works", 400)]
TEES_SLOTS = [("middlesbrough-council", 650), ("stockton-on-tees-council", 625), ("redcar-cleveland-council", 500),
              ("hartlepool-council", 400), ("darlington-council", 325)]
SLOTS = [(NORFOLK, p, c) for p, c in NORFOLK_SLOTS] + [(TEES, p, c) for p, c in TEES_SLOTS]
LEVELS = {NORFOLK: "standard", TEES: "weekly"}
# Each Tees Valley authority serves its own residents: a postcode in a district wholly in its area.
RESIDENT = {"middlesbrough-council": "TS1 2AA", "stockton-on-tees-council": "TS18 1AA",
            "redcar-cleveland-council": "TS10 1AA", "hartlepool-council": "TS24 7AA", "darlington-council": "DL3 6AA"}

_LETTERS = "ABCEGHJKLMNPRSTWXYZ"
_PREFIXES = [a + b for a in _LETTERS for b in _LETTERS if a + b not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}]


def nino(i: int, salt: int = 0) -> str:
    """The i-th of a sequence of valid, distinct National Insurance numbers (`salt` starts another sequence)."""
    n = i + salt * 1_000_003
    prefix = _PREFIXES[n % len(_PREFIXES)]
    return f"{prefix}{(n // len(_PREFIXES)) % 1_000_000:06d}{'ABCD'[n % 4]}"


def referral(programme: str, provider: str, person: str, on: str = TODAY) -> dict:
    """A referral the programme takes: the person (a NINO) eligible, living in the provider's area."""
    return {"programme_id": programme, "provider_id": provider, "support_level": LEVELS[programme],
            "consent": {"given": True, "date": on},
            "participant": {"nino": person, "given_name": "Ada", "family_name": "Lovelace",
                            "date_of_birth": "1990-05-17", "postcode": RESIDENT.get(provider, "NR1 3QU"),
                            "eligibility": {"seeking_work": True, "right_to_work": True, "benefit_entitlement": True,
                                            "on_other_dwp_programme": False}}}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[int(pct * (len(ordered) - 1))] if ordered else float("nan")


def post(url: str, data: bytes, key: str, label: str, timeout: float) -> tuple[int, float]:
    """POST a JSON body with a bearer key and a fresh Idempotency-Key (`label-<random>`) on a new connection:
    (status, milliseconds); status 0 when no answer came (refused, dropped or timed out)."""
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {key}",
        "Idempotency-Key": f"{label}-{uuid.uuid4().hex[:8]}"})
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            reply.read()
            status = reply.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0
    return status, (time.monotonic() - t0) * 1000


def drive(post: Callable[[int], tuple[int, float]], clients: int, duration: float, stop_before: int,
          sample: Callable[[], None] | None = None) -> tuple[tuple[int, float], list[tuple[float, float, int]], float]:
    """Request 0 warms the server up (its first request loads what the app loads lazily); then `clients` threads
    send requests 1, 2, ... (`post(i)` -> (status, ms)) until `duration` seconds have passed or `stop_before` is
    reached, while `sample()` runs every half second. Returns the warm-up's (status, ms), each request's
    (finished at, seconds after the start; ms; status), and the seconds until the last thread was done."""
    warm = post(0)
    lock = threading.Lock()
    issued = [1]
    results: list[tuple[float, float, int]] = []
    start = time.monotonic()
    stop_at = start + duration

    def worker() -> None:
        while True:
            with lock:
                i = issued[0]
                if i >= stop_before or time.monotonic() >= stop_at:
                    return
                issued[0] += 1
            status, ms = post(i)
            finished = time.monotonic() - start
            with lock:
                results.append((finished, ms, status))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if sample:
            sample()
        time.sleep(0.5)
    return warm, results, time.monotonic() - start


def by_status(results: list[tuple[float, float, int]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for _, _, status in results:
        counts[status] = counts.get(status, 0) + 1
    return counts


def server_errors(log_path: Path) -> dict[str, int]:
    """The errors the server logged (type and place, as the app logs them), counted."""
    found: dict[str, int] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") == "ERROR":
            error = entry.get("error") or {}
            name = f"{entry.get('message')}: {error.get('type')} at {' < '.join(reversed(error.get('at') or []))}"
            found[name] = found.get(name, 0) + 1
    return found

"""What the local-server benchmarks share: a percentile, and the errors a server logged, counted."""
from __future__ import annotations

import json
from pathlib import Path


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[int(pct * (len(ordered) - 1))] if ordered else float("nan")


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

"""Integer pence and exact splits."""
from __future__ import annotations

from collections.abc import Sequence


def split(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` pence in proportion to `weights`, exactly: the parts always sum to `total`.

    Largest remainder: every part gets its floor, then the pence left over go one each to the parts with the
    largest fractional remainders (ties to the earlier part). Negative totals (clawbacks) split as the
    negation of the positive split, so a reversal mirrors the original to the penny.
    """
    if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
        raise ValueError("weights must be non-negative and not all zero")
    if total < 0:
        return [-p for p in split(-total, weights)]
    whole = sum(weights)
    floors = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(floors)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        floors[index] += 1
    return floors


def pounds(pence: int) -> str:
    """12345 -> '123.45'; -5 -> '-0.05'. For display and files only: amounts are computed in pence."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}{whole}.{part:02d}"

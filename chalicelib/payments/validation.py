"""Validating claim files by sampling: the commissioner's sample rate, a reproducible draw, and checks.

The commissioner sets a sample rate per programme (basis points of a claim file's lines). Lines are drawn with a
recorded seed: each line's rank is HMAC-SHA256(seed, line id), and the lines of smallest rank are drawn. The same
seed over the same lines always draws the same lines, in any order and on any machine, and anyone holding the
seed and the file can repeat the draw. A check before payment that fails removes the line from the claim with
its reason (the rest is paid); a check after payment that fails raises a clawback line (a paid line is never
edited).
"""
from __future__ import annotations

import hashlib
import heapq
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ..domain.errors import ClaimRefused, Conflict
from .claim_file import ClaimFile
from .lines import CLAWBACK, FILED, PaymentLine

PASSED, FAILED = "passed", "failed"
RESULTS = (PASSED, FAILED)
PRE_PAYMENT, POST_PAYMENT = "pre_payment", "post_payment"


@dataclass(frozen=True)
class SampleRate:
    """A commissioner's sample rate for one programme, with who set it and when (kept as an audit trail)."""

    programme_id: str
    rate_bp: int
    set_by_org_id: str
    set_by_key_id: str
    set_at: str


@dataclass(frozen=True)
class Outcome:
    """What one check found, who recorded it and when; a failed check after payment names its clawback line."""

    result: str  # passed | failed
    reason: str | None
    checked_by: str
    checked_at: str
    clawback_line_id: str | None = None


@dataclass(frozen=True)
class Check:
    """One line's validation in one claim file: drawn for the sample (or checked after payment without being
    drawn), and what the check before payment and the check after payment found."""

    claim_file_id: str
    line_id: str
    payee_org_id: str
    amount_pence: int
    payee_net_pence: int
    drawn: bool = True
    before_payment: Outcome | None = None
    after_payment: Outcome | None = None


def drawn_check(record: ClaimFile, line: PaymentLine) -> Check:
    return Check(record.claim_file_id, line.line_id, line.payee_org_id, line.amount_pence, line.payee_net_pence)


def sample_size(line_count: int, rate_bp: int) -> int:
    """How many of `line_count` lines a rate draws: the rate's share rounded up (any rate above 0 checks at
    least one line of a non-empty file)."""
    return -(-line_count * rate_bp // 10000)


def rank(seed: str, line_id: str) -> str:
    return hmac.new(seed.encode(), line_id.encode(), hashlib.sha256).hexdigest()


def samplable(line: PaymentLine) -> bool:
    """A claim file's lines that can be drawn: what is claimed (a clawback returns money, it is not checked)."""
    return line.kind != CLAWBACK


def draw(seed: str, lines: Iterable[PaymentLine], size: int) -> list[PaymentLine]:
    """The `size` lines of smallest rank under `seed`, in line-id order. Memory grows with `size`, not with the
    number of lines."""
    chosen = heapq.nsmallest(size, lines, key=lambda line: rank(seed, line.line_id))
    return sorted(chosen, key=lambda line: line.line_id)


def ensure_drawable(record: ClaimFile, seed: str | None) -> None:
    """A file is sampled once, before it is paid; asking again with its own seed (or none) resumes the draw."""
    if record.paid_on is not None:
        raise ClaimRefused("already_paid", f"claim file {record.claim_file_id} is paid: sample before payment",
                           "claim_file_id")
    if record.sample_seed is not None and seed is not None and seed != record.sample_seed:
        raise Conflict(f"claim file {record.claim_file_id} was sampled with another seed; a file is sampled once",
                       reason="sampled_with_another_seed")


def ensure_checkable(record: ClaimFile, line: PaymentLine | None, check: Check | None) -> str:
    """Which check this is (before or after payment), or the rule it breaks. Before payment only drawn lines are
    checked, once each; after payment any line of the file that was paid may be checked, once."""
    if line is None or line.claim_file_id != record.claim_file_id:
        raise ClaimRefused("not_in_file", "no such line in this claim file", "line_id")
    if record.paid_on is None:
        if check is None or not check.drawn:
            raise ClaimRefused("not_sampled", "before payment, only the lines drawn for the sample are checked",
                               "line_id")
        if check.before_payment is not None:
            raise ClaimRefused("already_checked", f"line {line.line_id} was checked: {check.before_payment.result}",
                               "line_id")
        return PRE_PAYMENT
    if line.status != FILED or not samplable(line):
        raise ClaimRefused("not_paid", f"line {line.line_id} was not paid in this file ({line.status})", "line_id")
    if check is not None and check.after_payment is not None:
        raise ClaimRefused("already_checked", f"line {line.line_id} was checked after payment: "
                           f"{check.after_payment.result}", "line_id")
    return POST_PAYMENT


def ensure_payable(record: ClaimFile, rate_bp: int, paid_on: date, today: date) -> None:
    """A file is paid once, not before the day, and only once the lines drawn for checking were checked (where
    the programme samples at all)."""
    if record.paid_on is not None:
        raise Conflict(f"claim file {record.claim_file_id} was paid on {record.paid_on}", reason="already_paid")
    if paid_on > today:
        raise ClaimRefused("not_in_future", "the payment date is in the future", "paid_on")
    if paid_on.strftime("%Y-%m") < record.period:
        raise ClaimRefused("not_before_period", f"the payment date is before the file's period ({record.period})",
                           "paid_on")
    if record.sample_seed is None and rate_bp > 0:
        raise ClaimRefused("sample_not_drawn", "draw the validation sample before paying "
                           f"(the programme samples {rate_bp / 100:g}% of lines)", "claim_file_id")
    if record.sample_seed is not None and record.sample_size is None:
        raise ClaimRefused("sample_not_drawn", "the sample's draw did not finish: draw it again (same seed)",
                           "claim_file_id")
    if record.sample_size is not None and record.sample_checked < record.sample_size:
        raise ClaimRefused("sample_unchecked", f"{record.sample_checked} of the {record.sample_size} lines drawn "
                           "are checked: check them all before paying", "claim_file_id")

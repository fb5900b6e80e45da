"""Claim files for finance: RFC 4180 CSV, streamed line by line, with totals that reconcile to the penny.

Participants appear only by pseudonymous reference. Free-text cells are guarded against spreadsheet formula
injection. Amounts are numbers: pence, and pounds with two decimals.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

from .lines import PaymentLine
from .money import pounds

BUILDING, READY = "building", "ready"


@dataclass(frozen=True)
class ClaimFile:
    """A claim file: one programme and period (optionally one payee), cut once by its owner's finance team."""

    claim_file_id: str
    programme_id: str
    period: str
    owner_org_id: str
    status: str
    created_at: str
    created_by: str
    payee_org_id: str | None = None
    line_count: int = 0
    totals: dict = field(default_factory=dict)
    s3_key: str | None = None
    # Validation by the commissioner: the sample drawn (seed, rate, size), how many of its lines are checked, and
    # the lines removed from the claim before payment.
    sample_seed: str | None = None
    sample_rate_bp: int | None = None
    sample_size: int | None = None
    sample_checked: int = 0
    sampled_by: str | None = None
    removed_line_count: int = 0
    removed_pence: int = 0
    # The commissioner's payment of the file (the rest after removals).
    paid_on: date | None = None
    paid_pence: int | None = None
    paid_reference: str | None = None
    paid_by: str | None = None
    # While it is building: the worker holding the build (its token and until when, in epoch seconds), and how many
    # lines it has locked so far (the progress a GET shows).
    build_token: str | None = None
    build_until: int = 0
    locked_lines: int = 0

    @property
    def total_pence(self) -> int:
        return int(self.totals.get("total_pence", 0))

    @property
    def payable_pence(self) -> int:
        """What the commissioner pays: the file as cut, less the lines removed by validation."""
        return self.total_pence - self.removed_pence

COLUMNS = ("line_id", "referral_id", "participant_ref", "programme_id", "kind", "fee_id", "milestone", "funder",
           "payee_org_id", "prime_org_id", "event_date", "period", "amount_pence", "amount_gbp",
           "prime_retained_pence", "payee_net_pence", "payee_net_gbp", "reverses_line_id", "evidence_ref", "reason",
           "line_ref", "provider_ref", "last_day_on_provision", "funder_org_id", "payee_role", "payee_kind",
           "payee_name", "category", "barrier_id", "prime_retained_gbp")  # new columns go last: readers by position
# Characters a spreadsheet may take as the start of a formula or a new cell (OWASP CSV injection), with their
# full-width forms, which some spreadsheets read as the same.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", ";", "|", "%", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def guard(text: str | None) -> str:
    """A free-text cell that a spreadsheet will show as text, never run as a formula (OWASP CSV injection).

    Leading white space (spaces, tabs, line breaks, non-breaking and other Unicode spaces, a byte-order mark) is
    removed first, since spreadsheets skip it before deciding that a cell is a formula; what is left is prefixed
    with an apostrophe if it starts like one."""
    if not text:
        return ""
    stripped = text.lstrip(_LEADING_BLANKS)
    return "'" + stripped if stripped.startswith(_FORMULA_START) else stripped


# Every character str.isspace() counts as white space, and the invisible zero-width ones (BOM, zero-width space
# and word joiner); tests/unit check the list against str.isspace().
_LEADING_BLANKS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                   "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u200b\u2060")


@dataclass
class Totals:
    """Sums per payee and funder, and overall, built while the file streams."""

    groups: dict = field(default_factory=dict)
    line_count: int = 0
    total_pence: int = 0

    def add(self, line: PaymentLine) -> None:
        g = self.groups.setdefault((line.payee_org_id, line.funder), {
            "payee_org_id": line.payee_org_id, "payee_kind": line.payee_kind, "funder": line.funder, "lines": 0,
            "amount_pence": 0,
            "prime_retained_pence": 0, "payee_net_pence": 0})
        g["lines"] += 1
        g["amount_pence"] += line.amount_pence
        g["prime_retained_pence"] += line.prime_retained_pence
        g["payee_net_pence"] += line.payee_net_pence
        self.line_count += 1
        self.total_pence += line.amount_pence

    def as_list(self) -> list[dict]:
        return [{**g, "amount_gbp": pounds(g["amount_pence"])} for _, g in sorted(self.groups.items())]

    def as_dict(self) -> dict:
        return {"line_count": self.line_count, "total_pence": self.total_pence, "by_payee_and_funder": self.as_list()}


def row(line: PaymentLine) -> list:
    return [line.line_id, line.referral_id, line.participant_ref, line.programme_id, line.kind, line.fee_id,
            line.milestone, line.funder, line.payee_org_id, line.prime_org_id, line.event_date.isoformat(),
            line.period, line.amount_pence, pounds(line.amount_pence), line.prime_retained_pence,
            line.payee_net_pence, pounds(line.payee_net_pence), line.reverses_line_id or "",
            guard(line.evidence_ref), guard(line.reason), line.line_ref, guard(line.provider_ref),
            line.last_day_on_provision.isoformat() if line.last_day_on_provision else "", line.funder_org_id,
            line.payee_role, line.payee_kind, guard(line.payee_name), line.category or "", line.barrier_id or "",
            pounds(line.prime_retained_pence)]


class Writer:
    """The CSV (header first, CRLF line ends as RFC 4180 says) and its totals, one line at a time: nothing is kept
    but the totals."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        self._writer.writerow(COLUMNS)
        self.totals = Totals()

    def add(self, line: PaymentLine) -> None:
        self._writer.writerow(row(line))
        self.totals.add(line)


def write(lines: Iterable[PaymentLine], out: TextIO, on_line: Callable[[], None] | None = None) -> Totals:
    """Write the CSV of `lines` and return its totals. Streams: one line in memory at a time."""
    writer = Writer(out)
    for line in lines:
        writer.add(line)
        if on_line:
            on_line()
    return writer.totals

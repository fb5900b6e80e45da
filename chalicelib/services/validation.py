"""The commissioner validates claim files by sampling, then records paying them.

The commissioner's finance sets a sample rate per programme (kept with who set it and when). For a claim file
a prime has cut, it draws the sample with a recorded seed (the same seed draws the same lines), checks each
drawn line before paying (a failed line is removed from the claim with its reason; the rest is paid), records
the payment, and may check any paid line afterwards (a failure raises a clawback line: a paid line is never
edited). Only the programme's commissioner does any of this; a prime sees the outcome on its file and lines.
"""
from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import date
from typing import Any

from .. import clock, logs
from ..adapters.rulebooks import get_rulebook
from ..domain.access import Principal
from ..domain.errors import ClaimRefused, Forbidden, NotFound, ValidationFailed
from ..domain.idempotency import Needs
from ..domain.rulebook import Rulebook
from ..payments import lines as pl
from ..payments import validation as pv
from ..payments.claim_file import READY, ClaimFile
from ..payments.validation import Check, Outcome, SampleRate
from . import claim_files, payments, supply_chain
from .claim_files import is_commissioner_of
from .deps import store
from .ports import UnitOfWork

HISTORY = 50


def _programme(principal: Principal, programme_id: str) -> Rulebook:
    principal.require("finance")
    rulebook = get_rulebook(programme_id)
    if rulebook is None:
        raise NotFound(f"no programme {programme_id!r}")
    if principal.org_id != rulebook.commissioner_org_id:
        raise Forbidden(f"only the programme's commissioner ({rulebook.commissioner_org_id}) sets and reads its "
                        "sample rate", rule="commissioner_only")
    return rulebook


def rate_in_force(rulebook: Rulebook) -> tuple[int, SampleRate | None]:
    """The commissioner's rate, or the rulebook's until the commissioner sets one."""
    rate = store().validation.sample_rate(rulebook.id)
    return (rate.rate_bp, rate) if rate else (rulebook.payment_controls.sample_rate_bp, None)


def set_sample_rate(principal: Principal, programme_id: str, rate_bp: int, tx: UnitOfWork) -> SampleRate:
    rulebook = _programme(principal, programme_id)
    rate = SampleRate(rulebook.id, rate_bp, principal.org_id, principal.key_id, clock.now().isoformat())
    store().validation.add_sample_rate(tx, rate)
    return rate


def sample_rate(principal: Principal, programme_id: str) -> dict[str, Any]:
    """The rate in force, where it comes from, and every change (newest first)."""
    rulebook = _programme(principal, programme_id)
    history = store().validation.sample_rate_history(rulebook.id, HISTORY)  # the rate in force first: one read
    rate = history[0] if history else None
    rate_bp = rate.rate_bp if rate else rulebook.payment_controls.sample_rate_bp
    who = {"set_by_org_id": rate.set_by_org_id, "set_by_key_id": rate.set_by_key_id, "set_at": rate.set_at} if rate \
        else {"set_by_org_id": None, "set_by_key_id": None, "set_at": None}
    return {"programme_id": rulebook.id, "sample_rate_bp": rate_bp, "source": "commissioner" if rate else "rulebook",
            **who, "history": history}


# ---------------------------------------------------------------- a claim file's sample and checks


def _commissioners_file(principal: Principal, claim_file_id: str) -> ClaimFile:
    principal.require("finance")
    record = store().claim_files.get(claim_file_id)
    if record is None or not is_commissioner_of(principal, record):
        raise NotFound("no such claim file")
    if record.status != READY:
        raise ClaimRefused("not_ready", "the claim file is still being cut: try again shortly", "claim_file_id")
    return record


def draw(principal: Principal, claim_file_id: str, seed: str | None) -> tuple[ClaimFile, bool]:
    """Draw the file's sample at the rate in force (once; drawing again returns it, and an interrupted draw
    resumes with its recorded seed). Returns the file and whether this call drew it."""
    record = _commissioners_file(principal, claim_file_id)
    pv.ensure_drawable(record, seed)
    if record.sample_size is not None:
        return record, False
    db = store()
    if record.sample_seed is None:
        rulebook = get_rulebook(record.programme_id)
        assert rulebook is not None
        rate_bp = rate_in_force(rulebook)[0]
        record = db.claim_files.start_sample(record, seed or secrets.token_hex(16), rate_bp, principal.key_id,
                                             clock.now())
    assert record.sample_seed is not None and record.sample_rate_bp is not None
    count = sum(1 for line in db.lines.in_file(claim_file_id) if pv.samplable(line))
    size = pv.sample_size(count, record.sample_rate_bp)
    chosen = pv.draw(record.sample_seed, (x for x in db.lines.in_file(claim_file_id) if pv.samplable(x)), size)
    db.validation.add_drawn([pv.drawn_check(record, line) for line in chosen])
    logs.count("SampleLinesDrawn", size)
    return db.claim_files.finish_sample(record, size), True


def sample(principal: Principal, claim_file_id: str, limit: int,
           cursor: str | None) -> tuple[ClaimFile, list[Check], str | None]:
    record = _commissioners_file(principal, claim_file_id)
    checks, next_cursor = store().validation.checks_page(claim_file_id, limit, cursor)
    return record, checks, next_cursor


def record_check(principal: Principal, claim_file_id: str, payload: dict, tx: UnitOfWork) -> Check:
    """A check of one line: before payment on a drawn line (a failure removes it from the claim), after payment
    on any paid line of the file (a failure raises a clawback line)."""
    record = _commissioners_file(principal, claim_file_id)
    db = store()
    line = db.lines.get(payload["line_id"])
    existing = db.validation.check(claim_file_id, payload["line_id"])
    phase = pv.ensure_checkable(record, line, existing)
    assert line is not None
    failed = payload["result"] == pv.FAILED
    reason = payload.get("reason")
    if failed and not reason:
        raise ValidationFailed.one("reason", "required", "a failed check gives its reason")
    now = clock.now()
    outcome = Outcome(payload["result"], reason, principal.key_id, now.isoformat())
    if phase == pv.PRE_PAYMENT:
        assert existing is not None
        if failed:
            db.lines.add_removal(tx, line, f"removed by validation: {reason}", principal.org_id, now)
            payments.count_fund_reversal(tx, line)
        db.claim_files.add_check_count(tx, record, line if failed else None)
        checked = replace(existing, before_payment=outcome)
    else:
        if failed:
            reversal = pl.clawback(line, f"failed a check after payment: {reason}", clock.today())
            db.lines.add(tx, reversal, principal.org_id, now)
            payments.count_fund_reversal(tx, line)
            outcome = replace(outcome, clawback_line_id=reversal.line_id)
        checked = replace(existing or Check(claim_file_id, line.line_id, line.payee_org_id, line.amount_pence,
                                            line.payee_net_pence, drawn=False), after_payment=outcome)
    db.validation.add_outcome(tx, checked, phase, existed=existing is not None)
    return checked


def read_check(principal: Principal, claim_file_id: str, line_id: str) -> Check:
    _commissioners_file(principal, claim_file_id)
    check = store().validation.check(claim_file_id, line_id)
    if check is None:
        raise NotFound("no such check")
    return check


# ---------------------------------------------------------------- paying a claim file


def payment_reads(claim_file_id: str) -> Needs:
    """What paying a file reads with its idempotency record, known from the file's id before the file is read: the
    file, the programme's sample rate in force, and the obligations of every organisation its owner's chain may owe
    in it (its subcontractors and the chain members under them, or the one payee the file is cut for). An
    obligation the file turns out to need beyond these is read after the file, as it would be without them."""
    named = claim_files.named_by(claim_file_id)
    if named is None:
        return Needs()
    programme_id, period, owner, payee = named
    rulebook = get_rulebook(programme_id)
    assert rulebook is not None  # named_by found it
    if payee:
        owed = {payee} - {owner}
    else:
        under = {owner, *(o.org_id for o in rulebook.subcontractors_of(owner))}
        owed = (under | {m.org_id for m in rulebook.chain_members if m.under in under}) - {owner}
    return Needs(sample_rate_of=programme_id, obligations=tuple((programme_id, period, sub) for sub in sorted(owed)))


def pay(principal: Principal, claim_file_id: str, paid_on: date, reference: str, tx: UnitOfWork) -> ClaimFile:
    """The commissioner records paying the prime for a file: the file less the lines validation removed. From now
    on the prime owes each subcontractor in it its net, within the programme's pass-through limit."""
    record = _commissioners_file(principal, claim_file_id)
    rulebook = get_rulebook(record.programme_id)
    assert rulebook is not None
    rate_bp = record.sample_rate_bp if record.sample_seed is not None else rate_in_force(rulebook)[0]
    pv.ensure_payable(record, rate_bp or 0, paid_on, clock.today())
    store().claim_files.add_payment(tx, record, paid_on, reference, principal.key_id, clock.now())
    supply_chain.on_file_paid(tx, record, rulebook, paid_on)
    tx.after_commit.append(lambda: logs.pence("ClaimFilesPaidPence", record.payable_pence))
    return replace(record, paid_on=paid_on, paid_pence=record.payable_pence, paid_reference=reference,
                   paid_by=principal.key_id)

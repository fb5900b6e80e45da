"""The payment-records table: the commissioner's sample rates with their audit trail, each claim file's drawn and
checked lines, and each supply chain's obligations and pass-through payments."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from typing import Any

from pynamodb.exceptions import PynamoDBException

from ..domain.errors import ClaimRefused, ConcurrentUpdate
from ..domain.idempotency import Needs
from ..payments.supply_chain import Obligation, PassThrough
from ..payments.validation import PRE_PAYMENT, Check, Outcome, SampleRate
from .models import LineCheckItem, ObligationItem, PassThroughItem, SampleRateItem
from .repository import AHEAD, get_item, get_items, query_page, strings
from .transaction import Transaction, translate_read_error

CURRENT = "current"
DRAW_BATCH = 25


def _rate_pk(programme_id: str) -> str:
    return f"sample-rate#{programme_id}"


def _rate(item: SampleRateItem) -> SampleRate:
    return SampleRate(programme_id=item.programme_id, rate_bp=int(item.rate_bp), set_by_org_id=item.set_by_org_id,
                      set_by_key_id=item.set_by_key_id, set_at=item.set_at)


def get_sample_rate(programme_id: str) -> SampleRate | None:
    item = get_item(SampleRateItem, _rate_pk(programme_id), CURRENT)
    return _rate(item) if item else None


RECENT = 49  # the changes before the one in force that the current rate holds: with it, the history's 50


def add_sample_rate(tx: Transaction, rate: SampleRate) -> None:
    """The rate in force (with the changes before it), and one more entry in its audit trail: who set what, when.
    The current rate is replaced only as it was read: of two changes at once, the second is refused (409)."""
    pk = _rate_pk(rate.programme_id)
    before = get_item(SampleRateItem, pk, CURRENT)
    earlier = sample_rate_history(rate.programme_id, RECENT) if before is not None else []
    recent = [[x.rate_bp, x.set_by_org_id, x.set_by_key_id, x.set_at] for x in earlier]
    as_read = SampleRateItem.set_at == before.set_at if before is not None else SampleRateItem.sk.does_not_exist()
    tx.put(SampleRateItem(pk=pk, sk=CURRENT, recent=recent, **asdict(rate)), condition=as_read)
    tx.put(SampleRateItem(pk=pk, sk=f"{rate.set_at}#{rate.set_by_key_id}", **asdict(rate)))


def sample_rate_history(programme_id: str, limit: int) -> list[SampleRate]:
    """The changes, newest first: the current rate and those it holds, or (a rate set before it held them, or more
    than it holds) the audit trail's, a Query."""
    current = get_item(SampleRateItem, _rate_pk(programme_id), CURRENT)
    if current is None:
        return []
    if current.recent is not None and limit <= RECENT + 1:
        return [_rate(current), *(SampleRate(programme_id, int(bp), org, key, at)
                                  for bp, org, key, at in current.recent)][:limit]
    try:
        items = SampleRateItem.query(_rate_pk(programme_id), SampleRateItem.sk < CURRENT, scan_index_forward=False,
                                     limit=limit, consistent_read=True)
        return [_rate(i) for i in items]
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


# ---------------------------------------------------------------- checks


def _checks_pk(claim_file_id: str) -> str:
    return f"checks#{claim_file_id}"


def _outcome(raw: str | dict | None) -> Outcome | None:
    if not raw:
        return None
    data = json.loads(raw) if isinstance(raw, str) else raw
    return Outcome(**data)


def _check(item: LineCheckItem) -> Check:
    return Check(claim_file_id=item.claim_file_id, line_id=item.line_id, payee_org_id=item.payee_org_id,
                 amount_pence=int(item.amount_pence), payee_net_pence=int(item.payee_net_pence),
                 drawn=bool(item.drawn), before_payment=_outcome(item.before_payment),
                 after_payment=_outcome(item.after_payment))


def _check_item(check: Check) -> LineCheckItem:
    return LineCheckItem(pk=_checks_pk(check.claim_file_id), sk=check.line_id, claim_file_id=check.claim_file_id,
                         line_id=check.line_id, payee_org_id=check.payee_org_id, amount_pence=check.amount_pence,
                         payee_net_pence=check.payee_net_pence, drawn=check.drawn,
                         before_payment=asdict(check.before_payment) if check.before_payment else None,
                         after_payment=asdict(check.after_payment) if check.after_payment else None)


def add_drawn(checks: list[Check]) -> None:
    """Record lines drawn for a sample, in transactions of 25. Idempotent: a line already recorded (by an
    interrupted draw with the same seed) is left as it is, checks and all."""
    for start in range(0, len(checks), DRAW_BATCH):
        batch = checks[start:start + DRAW_BATCH]
        try:
            _put_new(batch)
        except ConcurrentUpdate:
            for check in batch:
                try:
                    _put_new([check])
                except ConcurrentUpdate:
                    continue


def _put_new(checks: list[Check]) -> None:
    tx = Transaction()
    for check in checks:
        tx.put(_check_item(check), condition=LineCheckItem.sk.does_not_exist())
    tx.commit()


def get_check(claim_file_id: str, line_id: str) -> Check | None:
    item = get_item(LineCheckItem, _checks_pk(claim_file_id), line_id)
    return _check(item) if item else None


def list_checks(claim_file_id: str, limit: int, cursor: str | None) -> tuple[list[Check], str | None]:
    items, next_cursor = query_page(LineCheckItem, _checks_pk(claim_file_id), f"checks:{claim_file_id}", limit,
                                    cursor)
    return [_check(i) for i in items], next_cursor


def all_checks(claim_file_id: str) -> Iterator[Check]:
    try:
        for item in LineCheckItem.query(_checks_pk(claim_file_id)):
            yield _check(item)
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def _already_checked() -> Exception:
    return ClaimRefused("already_checked", "another check of this line was recorded first", "line_id")


def add_outcome(tx: Transaction, check: Check, phase: str, existed: bool) -> None:
    """Record the outcome `check` carries for `phase`, once per phase: before payment on a drawn line; after
    payment on any paid line (a line never drawn gets its record here)."""
    before = phase == PRE_PAYMENT
    outcome = check.before_payment if before else check.after_payment
    assert outcome is not None
    if not existed:
        tx.put(_check_item(check), condition=LineCheckItem.sk.does_not_exist(), on_fail=_already_checked)
        return
    attribute = LineCheckItem.before_payment if before else LineCheckItem.after_payment
    tx.update(LineCheckItem(pk=_checks_pk(check.claim_file_id), sk=check.line_id),
              actions=[attribute.set(asdict(outcome))], condition=attribute.does_not_exist(),
              on_fail=_already_checked)


# ---------------------------------------------------------------- supply chains: obligations and pass-throughs


def _chain_pk(programme_id: str, period: str) -> str:
    return f"chain#{programme_id}#{period}"


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _obligation(item: ObligationItem) -> Obligation:
    return Obligation(
        programme_id=item.programme_id, period=item.period, prime_org_id=item.prime_org_id,
        subcontractor_org_id=item.subcontractor_org_id, owed_pence=int(item.owed_pence or 0),
        commissioner_paid_on=_day(item.commissioner_paid_on), due_on=_day(item.due_on),
        passed_pence=int(item.passed_pence or 0), first_passed_on=_day(item.first_passed_on),
        last_passed_on=_day(item.last_passed_on), settled_on=_day(item.settled_on), version=int(item.version),
        paid_files=strings(item.paid_files))


def _pass_through(item: PassThroughItem) -> PassThrough:
    return PassThrough(
        pass_through_id=item.pass_through_id, programme_id=item.programme_id, period=item.period,
        prime_org_id=item.prime_org_id, subcontractor_org_id=item.subcontractor_org_id,
        amount_pence=int(item.amount_pence), paid_on=date.fromisoformat(item.paid_on), reference=item.reference,
        recorded_by=item.recorded_by, recorded_at=item.recorded_at, line_ids=strings(item.line_ids))


def _obligation_key(programme_id: str, period: str, subcontractor_org_id: str) -> tuple[str, str]:
    return _chain_pk(programme_id, period), f"owed#{subcontractor_org_id}"


def get_obligation(programme_id: str, period: str, subcontractor_org_id: str) -> Obligation | None:
    item = get_item(ObligationItem, *_obligation_key(programme_id, period, subcontractor_org_id))
    return _obligation(item) if item else None


def get_obligations(programme_id: str, period: str, subcontractor_org_ids: list[str]) -> dict[str, Obligation | None]:
    """Several subcontractors' obligations of one programme and period, in one batch read."""
    keys = {sub: _obligation_key(programme_id, period, sub) for sub in subcontractor_org_ids}
    found = get_items(ObligationItem, list(keys.values()))
    return {sub: _obligation(item) if (item := found[key]) else None for sub, key in keys.items()}


def put_obligation(tx: Transaction, after: Obligation, before: Obligation | None) -> None:
    """The obligation as changed, if nobody changed it since it was read (its version)."""
    item = ObligationItem(
        pk=_chain_pk(after.programme_id, after.period), sk=f"owed#{after.subcontractor_org_id}",
        programme_id=after.programme_id, period=after.period, prime_org_id=after.prime_org_id,
        subcontractor_org_id=after.subcontractor_org_id, owed_pence=after.owed_pence,
        commissioner_paid_on=_iso(after.commissioner_paid_on), due_on=_iso(after.due_on),
        passed_pence=after.passed_pence, first_passed_on=_iso(after.first_passed_on),
        last_passed_on=_iso(after.last_passed_on), settled_on=_iso(after.settled_on),
        paid_files=list(after.paid_files), version=after.version)
    condition = ObligationItem.sk.does_not_exist() if before is None else ObligationItem.version == before.version
    tx.put(item, condition=condition)


def add_pass_through(tx: Transaction, payment: PassThrough) -> None:
    tx.put(PassThroughItem(pk=_chain_pk(payment.programme_id, payment.period), sk=pass_through_key(payment),
                           pass_through_id=payment.pass_through_id, programme_id=payment.programme_id,
                           period=payment.period, prime_org_id=payment.prime_org_id,
                           subcontractor_org_id=payment.subcontractor_org_id, amount_pence=payment.amount_pence,
                           paid_on=payment.paid_on.isoformat(), reference=payment.reference,
                           line_ids=list(payment.line_ids), recorded_by=payment.recorded_by,
                           recorded_at=payment.recorded_at),
           condition=PassThroughItem.sk.does_not_exist())


def chain(programme_id: str, period: str) -> tuple[list[Obligation], list[PassThrough]]:
    """Every obligation and pass-through of one programme and period: two queries of one small collection."""
    pk = _chain_pk(programme_id, period)
    try:
        obligations = [_obligation(i) for i in ObligationItem.query(pk, ObligationItem.sk.startswith("owed#"))]
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None
    return obligations, pass_throughs(programme_id, period)


def pass_throughs(programme_id: str, period: str) -> list[PassThrough]:
    """Every pass-through of one programme and period: one query."""
    try:
        return [_pass_through(i) for i in PassThroughItem.query(_chain_pk(programme_id, period),
                                                                PassThroughItem.sk.startswith("pass-through#"))]
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def pass_through_key(payment: PassThrough) -> str:
    return f"pass-through#{payment.subcontractor_org_id}#{payment.recorded_at}#{payment.pass_through_id}"


def _read_ahead(needs: Needs) -> list[tuple[Any, Any]]:
    """What of this table a write's Needs names, read with its idempotency record: the checks of the lines it
    names in the claim file it names, the sample rate in force of the programme it sets it for (or pays a file
    of), the obligations a pass-through or a file's payment changes."""
    keys: list[tuple[Any, Any]] = []
    if needs.claim_file_id:
        keys += [(LineCheckItem, (_checks_pk(needs.claim_file_id), line_id)) for line_id in needs.line_ids]
    if needs.sample_rate_of:
        keys.append((SampleRateItem, (_rate_pk(needs.sample_rate_of), CURRENT)))
    keys += [(ObligationItem, _obligation_key(*named)) for named in needs.obligations]
    return keys


AHEAD.append(_read_ahead)

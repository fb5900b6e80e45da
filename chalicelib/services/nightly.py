"""The nightly compliance run: act on exactly the pending work that fell due, once.

For a run date D it reads, shard by shard, the pending items whose action day is D or earlier. A missed
deadline becomes a flag; a referral never started by its deadline after the programme's referral window shut
is closed; a service-fee tranche that fell due becomes its payment line; a referral whose retention ended has its
personal fields erased (chalicelib/services/privacy.py). Each item is handled in one unit of
work that also deletes it, so a second run, a run after a crash, or two overlapping runs do nothing twice.
Programme-level checks are computed at the end from counters, never from the population.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from .. import clock, logs
from ..adapters.rulebooks import all_rulebooks, get_rulebook
from ..domain import compliance, retention, states, steps
from ..domain.compliance import PendingWork, Run
from ..domain.errors import AlreadyClaimed, ConcurrentUpdate, DomainError, FlagExists, WorkSettled
from ..domain.rulebook import Rulebook
from ..payments import lines as pl
from ..payments import milestones as ms
from ..payments import supply_chain as sc
from ..payments import tariff
from . import privacy
from .deps import store
from .journey import commit_step
from .ports import UnitOfWork

log = logging.getLogger("refpay.nightly")
ACTOR = "refpay-nightly"
RESERVE_MS = 60_000  # stop taking new items when a Lambda invocation has less than this left


def run_id(on: date) -> str:
    return f"nightly#{on.isoformat()}"


def start(on: date) -> Run:
    """Create (or find) the run record for `on`."""
    rid = run_id(on)
    logs.set_correlation_id(rid)
    return store().compliance.start_run(rid, on, clock.now())


def run(on: date, shards: list[str] | None = None, time_left: Callable[[], int] | None = None) -> dict[str, Any]:
    """Run (or resume) the nightly job for `on`, over all shards or the ones given. With `time_left` (a
    Lambda context's milliseconds remaining) a shard stops taking items before the time limit and is left
    unfinished, to be continued by another invocation. Returns the run's summary."""
    db = store().compliance
    record = start(on)
    rid = record.run_id
    log.info("nightly run", extra={"run_id": rid, "shards": len(shards or compliance.all_shards())})
    done = set(record.shards_done)
    unfinished: list[str] = []
    for shard in shards or compliance.all_shards():
        if shard in done:
            continue
        counts, complete = process_shard(shard, on, rid, time_left)
        _count_metrics(counts)
        if not complete:
            db.record_partial(rid, shard, counts)
            unfinished.append(shard)
            break
        db.finish_shard(rid, shard, counts)
    record = db.get_run(rid) or record
    if len(record.shards_done) == compliance.SHARDS and not record.finished_at:
        db.finish_run(rid, programme_checks(on), clock.now())
        record = db.get_run(rid) or record
    log.info("nightly run done", extra={"run_id": rid, "counts": record.counts, "unfinished": unfinished})
    return {**summary(record), "unfinished": unfinished}


def _count_metrics(counts: dict) -> None:
    logs.count("FlagsRaised", sum(sum(by_org.values()) for by_org in counts["flags"].values()))
    logs.count("TranchesPaid", sum(counts["tranches"].values()))
    logs.pence("TranchesPaidPence", sum(counts["tranche_pence"].values()))


def process_shard(shard: str, on: date, rid: str, time_left: Callable[[], int] | None = None) -> tuple[dict, bool]:
    """Settle one shard's due items. Returns its counts and whether the shard is finished."""
    # Per organisation (each caller sees only its own), except the run's own totals of items read and retried.
    counts: dict = {"read": 0, "retry": 0, "flags": {}, "tranches": {}, "tranche_pence": {}, "closed": {}}
    if time_left is not None and time_left() < RESERVE_MS:
        return counts, False
    for work in store().compliance.due(shard, on):
        if time_left is not None and time_left() < RESERVE_MS:
            return counts, False
        counts["read"] += 1
        try:
            handle(work, on, rid, counts)
        except DomainError as exc:  # ConcurrentUpdate included
            # Left in place: the next run (or a rerun) picks it up again.
            counts["retry"] += 1
            log.warning("pending item left for the next run", extra={"run_id": rid, "rule": work.rule,
                                                                      "error": type(exc).__name__})
    return counts, True


def handle(work: PendingWork, on: date, rid: str, counts: dict) -> None:
    if work.is_tranche:
        _tranche(work, counts)
        return
    if work.rule == retention.ERASE:
        if privacy.erase_due(work, on) == "erased":
            logs.count("PersonalDataErased")
        return
    rulebook = get_rulebook(work.programme_id)
    if work.rule == compliance.CLOSE_UNSTARTED and rulebook is not None:
        _settle_closure(rulebook, work, on, rid, counts)
    else:
        _settle_deadline(work, on, rid, counts)


def _settle_deadline(work: PendingWork, on: date, rid: str, counts: dict) -> None:
    """A missed deadline: its flag raised once, and the pending item deleted, only if no step has answered or moved
    the deadline since this run read the item (then there is nothing to flag). The referral records the open flag,
    so that the step answering the deadline resolves it: a new version, so a step that read the referral before
    is refused, and sees the flag when it is retried."""
    db = store()
    tx = db.transaction()
    db.compliance.add_flag(tx, work, rid, on)
    if work.rule != sc.LATE_RULE:  # (a prime's late pass-through is flagged on its obligation, not a referral)
        db.referrals.add_flag_raised(tx, work.referral_id, compliance.flag_key(work.rule, work.due))
    db.compliance.done_with(tx, work, still_pending=True)
    try:
        tx.commit()
    except WorkSettled:
        return
    except FlagExists:
        _only_done_with(work)  # raised by an earlier run for the same deadline: only the pending item is left
        return
    _count_flag(counts, work)


def _settle_closure(rulebook: Rulebook, work: PendingWork, on: date, rid: str, counts: dict) -> None:
    """A referral still not started when the window shut is closed, its flag raised settled (once)."""
    db = store()
    for with_flag in (True, False):
        tx = db.transaction()
        action = _close_unstarted(tx, rulebook, work, on, with_flag)
        if with_flag and action:
            db.compliance.add_flag(tx, work, rid, on, action)
        if not action:
            db.compliance.done_with(tx, work)  # (a closure already removes all the referral's pending work)
        try:
            tx.commit()
        except FlagExists:
            continue  # raised by an earlier run for the same deadline: only the closure is left to make
        if with_flag and action:
            _count_flag(counts, work)
        if action:
            _add(counts["closed"], work.provider_org_id, 1)
        return


def _count_flag(counts: dict, work: PendingWork) -> None:
    _add(counts["flags"].setdefault(work.rule, {}), work.provider_org_id, 1)


def _only_done_with(work: PendingWork) -> None:
    """Delete a pending item whose work an earlier, interrupted run already did."""
    db = store()
    cleanup = db.transaction()
    db.compliance.done_with(cleanup, work)
    cleanup.commit()


def _close_unstarted(tx: UnitOfWork, rulebook: Rulebook, work: PendingWork, on: date,
                     flagging: bool) -> str | None:
    """Close a referral still not started once the window has shut (and its start deadline passed): the item
    is due only then. A referral that started, or was closed, meanwhile is left alone (its item is settled)."""
    referral = store().referrals.get(work.referral_id)
    if referral is None or referral.status not in (states.REFERRED, states.ACCEPTED):
        return None
    step = steps.get("close_unstarted")
    taken = steps.apply(step, rulebook, referral, {"date": on}, on)
    # The same writes a person's step makes: referral, event, release of the person and the place, pending work,
    # and the start deadline's flag resolved, whether an earlier run raised it or not.
    commit_step(tx, rulebook, referral, taken, ACTOR, ACTOR, on, clock.now(), step,
                flagging=(work.rule, work.due) if flagging else None)
    return "closed: not started by the start deadline after the referral window shut"


def _add(by_org: dict, org_id: str, value: int) -> None:
    by_org[org_id] = by_org.get(org_id, 0) + value


def _tranche(work: PendingWork, counts: dict) -> None:
    fee_id, n = tariff.tranche_parts(work.rule)
    rulebook = get_rulebook(work.programme_id)
    funder = work.funder or ""
    line = pl.new_line(
        referral_id=work.referral_id, programme_id=work.programme_id, participant_ref=work.participant_ref or "",
        milestone_key=tariff.tranche_milestone_key(fee_id, n), fee_id=fee_id, milestone=ms.SERVICE_FEE_TRANCHE,
        funder=funder, funder_org_id=rulebook.funder_org(funder, work.prime_org_id) if rulebook else "",
        payee_org_id=work.provider_org_id, prime_org_id=work.prime_org_id,
        management_fee_bp=work.management_fee_bp, amount_pence=work.amount_pence, event_date=work.due,
        kind=pl.EARNED, status=pl.APPROVED)
    db = store()
    tx = db.transaction()
    db.lines.add(tx, line, ACTOR, clock.now())
    db.compliance.done_with(tx, work)
    try:
        tx.commit()
        _add(counts["tranches"], work.provider_org_id, 1)
        _add(counts["tranche_pence"], work.provider_org_id, line.amount_pence)
    except AlreadyClaimed:
        _only_done_with(work)  # paid by an earlier, interrupted run: only the pending item is left to remove


def programme_checks(on: date) -> list[dict]:
    db = store()
    checks = []
    for rulebook in all_rulebooks().values():
        used = db.referrals.allocation_used(rulebook.id, [o.org_id for o in rulebook.delivery_organisations])
        stats = db.compliance.programme_stats(rulebook.id)
        checks += [c.as_dict() for c in compliance.programme_checks(rulebook, used, stats, on)]
    return checks


def summary(record: Run) -> dict[str, Any]:
    return {"run_id": record.run_id, "run_date": record.run_date.isoformat(), "started_at": record.started_at,
            "finished_at": record.finished_at, "shards_done": len(record.shards_done),
            "shards": compliance.SHARDS, "counts": record.counts or {}, "checks": record.checks or []}


def get_run(on: date) -> Run | None:
    return store().compliance.get_run(run_id(on))


__all__ = ["ConcurrentUpdate", "get_run", "handle", "process_shard", "run", "run_id", "start", "summary"]

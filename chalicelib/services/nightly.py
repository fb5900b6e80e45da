"""The nightly compliance run: act on exactly the pending work that fell due, once.

For a run date D it reads, shard by shard, the pending items whose action day is D or earlier. A missed
deadline becomes a flag; a referral never started by its deadline after the programme's referral window shut
is closed; a service-fee tranche that fell due becomes its payment line. Each item is handled in one
transaction that also deletes it, so a second run, a run after a crash, or two overlapping runs do nothing
twice. Programme-level checks are computed at the end from counters, never from the population.
"""
from __future__ import annotations

import logging
from datetime import date
from typing import Callable

from .. import clock, logs
from .journey import commit_step
from ..domain import compliance, journey, lifecycle
from ..domain.errors import ConcurrentUpdate, DomainError
from ..domain.rulebook import all_rulebooks, get_rulebook
from ..payments import lines as pl
from ..store import compliance as store
from ..store import payments as payment_store
from ..store import repository as repo
from ..store.models import PendingWorkItem
from ..store.transaction import Transaction

log = logging.getLogger("refpay.nightly")
ACTOR = "refpay-nightly"


def run_id(on: date) -> str:
    return f"nightly#{on.isoformat()}"


RESERVE_MS = 60_000  # stop taking new items when a Lambda invocation has less than this left


def start(on: date):
    """Create (or find) the run record for `on`."""
    rid = run_id(on)
    logs.set_correlation_id(rid)
    return store.start_run(rid, on, clock.now())


def run(on: date, shards: list[str] | None = None, time_left: Callable[[], int] | None = None) -> dict:
    """Run (or resume) the nightly job for `on`, over all shards or the ones given. With `time_left` (a
    Lambda context's milliseconds remaining) a shard stops taking items before the time limit and is left
    unfinished, to be continued by another invocation. Returns the run's summary."""
    record = start(on)
    rid = record.run_id
    log.info("nightly run", extra={"run_id": rid, "shards": len(shards or compliance.all_shards())})
    done = set(record.shards_done or [])
    unfinished: list[str] = []
    for shard in shards or compliance.all_shards():
        if shard in done:
            continue
        counts, complete = process_shard(shard, on, rid, time_left)
        _count_metrics(counts)
        if not complete:
            store.record_partial(record, shard, counts)
            unfinished.append(shard)
            break
        store.finish_shard(record, shard, counts)
    record = store.get_run(rid)
    if len(record.shards_done) == compliance.SHARDS and not record.finished_at:
        store.finish_run(record, programme_checks(), clock.now())
        record = store.get_run(rid)
    elif not record.finished_at:
        record.counts = store.counts_so_far(record)
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
    for work in store.due_work(shard, on):
        if time_left is not None and time_left() < RESERVE_MS:
            return counts, False
        counts["read"] += 1
        try:
            handle(work, on, rid, counts)
        except (ConcurrentUpdate, DomainError) as exc:
            # Left in place: the next run (or a rerun) picks it up again.
            counts["retry"] += 1
            log.warning("pending item left for the next run", extra={"run_id": rid, "rule": work.rule,
                                                                      "error": type(exc).__name__})
    return counts, True


def handle(work: PendingWorkItem, on: date, rid: str, counts: dict) -> None:
    if work.rule.startswith(compliance.TRANCHE + ":"):
        _tranche(work, counts)
        return
    rulebook = get_rulebook(work.programme_id)
    closing = work.rule == "start" and rulebook is not None and compliance.window_closed(rulebook, on)
    for with_flag in (True, False):
        tx = Transaction()
        action = _close_unstarted(tx, rulebook, work, on) if closing else None
        if with_flag:
            store.add_flag(tx, work, rid, on, action)
        if not action:
            store.done_with(tx, work)  # (a closure already removes all the referral's pending work, this included)
        try:
            tx.commit()
        except store.FlagExists:
            continue  # raised by an earlier run for the same deadline: only the pending item is left to settle
        if with_flag:
            bucket = counts["flags"].setdefault(work.rule, {})
            bucket[work.provider_org_id] = bucket.get(work.provider_org_id, 0) + 1
        if action:
            _add(counts["closed"], work.provider_org_id, 1)
        return


def _close_unstarted(tx: Transaction, rulebook, work: PendingWorkItem, on: date) -> str | None:
    referral = repo.get_referral(work.referral_id)
    if referral is None or referral.status not in (lifecycle.REFERRED, lifecycle.ACCEPTED):
        return None
    step = journey.close_unstarted(referral, on)
    # The same writes a person's step makes: referral, event, release of the person and the place, pending work.
    commit_step(tx, rulebook, referral, step, ACTOR, ACTOR, on, clock.now())
    return "closed: not started by the start deadline after the referral window shut"


def _add(by_org: dict, org_id: str, value: int) -> None:
    by_org[org_id] = by_org.get(org_id, 0) + value


def _tranche(work: PendingWorkItem, counts: dict) -> None:
    fee_id, n = compliance.tranche_parts(work.rule)
    line = pl.new_line(
        referral_id=work.referral_id, programme_id=work.programme_id, participant_ref=work.participant_ref,
        milestone_key=f"{fee_id}:service_fee_tranche:{n}", fee_id=fee_id, milestone="service_fee_tranche",
        funder=work.funder, payee_org_id=work.provider_org_id, prime_org_id=work.prime_org_id,
        management_fee_bp=int(work.management_fee_bp or 0), amount_pence=int(work.amount_pence),
        event_date=date.fromisoformat(work.due), kind=pl.EARNED, status=pl.APPROVED)
    tx = Transaction()
    payment_store.add_line(tx, line, ACTOR, clock.now())
    store.done_with(tx, work)
    try:
        tx.commit()
        _add(counts["tranches"], work.provider_org_id, 1)
        _add(counts["tranche_pence"], work.provider_org_id, line.amount_pence)
    except pl.AlreadyClaimed:
        # Paid by an earlier, interrupted run: only the pending item is left to remove.
        cleanup = Transaction()
        store.done_with(cleanup, work)
        cleanup.commit()


def programme_checks() -> list[dict]:
    checks = []
    for rulebook in all_rulebooks().values():
        used = repo.allocation_used(rulebook.id, [o.org_id for o in rulebook.delivery_organisations])
        stats = store.programme_stats(rulebook.id)
        checks += [c.as_dict() for c in compliance.programme_checks(rulebook, used, stats)]
    return checks


def summary(record) -> dict:
    return {"run_id": record.run_id, "run_date": record.run_date, "started_at": record.started_at,
            "finished_at": record.finished_at, "shards_done": len(record.shards_done or []),
            "shards": compliance.SHARDS, "counts": record.counts or {}, "checks": record.checks or []}

"""Pending work, flags, run records and programme counters in DynamoDB."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from pynamodb.exceptions import PynamoDBException

from ..domain.compliance import OPEN, RESOLVED, Flag, PendingWork, Run, flag_id, merge_counts
from ..domain.errors import FlagExists, WorkSettled
from ..domain.referral import Referral
from .models import FlagItem, PendingWorkItem, ProgrammeStatsItem, RunItem
from .repository import all_equal, get_item, query_page, strings
from .transaction import Transaction, aws_error_code, translate_read_error


def _work_item(w: PendingWork) -> PendingWorkItem:
    return PendingWorkItem(
        shard=w.shard, work_key=w.work_key, referral_id=w.referral_id, programme_id=w.programme_id,
        provider_org_id=w.provider_org_id, prime_org_id=w.prime_org_id, rule=w.rule, due=w.due.isoformat(),
        act_on=w.act_on.isoformat(), description=w.description, participant_ref=w.participant_ref,
        management_fee_bp=w.management_fee_bp, amount_pence=w.amount_pence, funder=w.funder)


def _work(item: PendingWorkItem) -> PendingWork:
    return PendingWork(
        shard=item.shard, work_key=item.work_key, referral_id=item.referral_id, programme_id=item.programme_id,
        provider_org_id=item.provider_org_id, prime_org_id=item.prime_org_id, rule=item.rule,
        due=date.fromisoformat(item.due), act_on=date.fromisoformat(item.act_on), description=item.description,
        participant_ref=item.participant_ref, management_fee_bp=int(item.management_fee_bp or 0),
        amount_pence=int(item.amount_pence or 0), funder=item.funder)


def add_pending_changes(tx: Transaction, puts: Iterable[PendingWork], deletes: Iterable[PendingWork]) -> None:
    """Write the pending items that are new or changed and delete those no longer due (computed by the caller)."""
    for w in puts:
        tx.put(_work_item(w))
    for w in deletes:
        tx.delete(PendingWorkItem(shard=w.shard, work_key=w.work_key))


def due_work(shard: str, on: date) -> Iterator[PendingWork]:
    """Every pending item of one shard that needs action on or before `on`: nothing else is read."""
    try:
        for item in PendingWorkItem.query(shard, PendingWorkItem.work_key <= f"{on.isoformat()}#\uffff"):
            yield _work(item)
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def done_with(tx: Transaction, work: PendingWork, still_pending: bool = False) -> None:
    """Delete a pending item the nightly run has acted on; with `still_pending`, only if no step deleted it since
    the run read it (else WorkSettled: the deadline was answered or moved meanwhile)."""
    item = PendingWorkItem(shard=work.shard, work_key=work.work_key)
    if still_pending:
        tx.delete(item, condition=PendingWorkItem.work_key.exists(), on_fail=WorkSettled)
    else:
        tx.delete(item)


# ---------------------------------------------------------------- flags


def _flag_sort(status: str, due: date, fid: str) -> str:
    """Listing order: open flags first, then by the day the missed deadline fell due."""
    return f"{status}#{due.isoformat()}#{fid}"



def _flag(item: FlagItem) -> Flag:
    return Flag(flag_id=item.flag_id, referral_id=item.referral_id, programme_id=item.programme_id,
                provider_org_id=item.provider_org_id, prime_org_id=item.prime_org_id, rule=item.rule,
                due=date.fromisoformat(item.due), description=item.description, status=item.status,
                raised_on=date.fromisoformat(item.raised_on), run_id=item.run_id,
                resolved_on=date.fromisoformat(item.resolved_on) if item.resolved_on else None, action=item.action,
                key_id=item.key_id)


def add_flag(tx: Transaction, work: PendingWork, run_id: str, raised_on: date, action: str | None = None) -> None:
    """A missed deadline, raised once. A flag whose run also acted on it (closed the referral) is raised settled:
    resolved the same day, with the action recorded."""
    fid = flag_id(work.referral_id, work.rule, work.due)
    status = RESOLVED if action else OPEN
    tx.put(FlagItem(flag_id=fid, flag_sort=_flag_sort(status, work.due, fid),
                    referral_id=work.referral_id, programme_id=work.programme_id,
                    provider_org_id=work.provider_org_id, prime_org_id=work.prime_org_id, rule=work.rule,
                    due=work.due.isoformat(), description=work.description, status=status,
                    raised_on=raised_on.isoformat(), run_id=run_id, action=action,
                    resolved_on=raised_on.isoformat() if action else None),
           condition=FlagItem.flag_id.does_not_exist(), on_fail=FlagExists)


def open_flags(referral_id: str) -> list[Flag]:
    try:
        return [_flag(i) for i in FlagItem.by_referral.query(referral_id, filter_condition=FlagItem.status == OPEN)]
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def add_answers(tx: Transaction, referral_id: str, answered: Iterable[tuple[str, date]], on: date) -> None:
    """Deadlines answered: their flags are resolved (whatever the dates). Written without reading: a flag's id is
    its subject, rule and due date. A journey step names only the flags its referral records as raised
    (`Referral.flagged`); a prime's late pass-through names its deadline whether a run flagged it or not, and
    where none was raised the write leaves a small resolved marker, in no index (it has no organisation): a run
    that comes later finds the marker and raises nothing for a deadline already answered."""
    for rule, due in answered:
        fid = flag_id(referral_id, rule, due)
        tx.update(FlagItem(flag_id=fid),
                  actions=[FlagItem.status.set(RESOLVED), FlagItem.resolved_on.set(on.isoformat()),
                           FlagItem.flag_sort.set(_flag_sort(RESOLVED, due, fid))],
                  condition=FlagItem.flag_id.does_not_exist() | FlagItem.status.is_in(OPEN, RESOLVED))



def add_reassignment(tx: Transaction, flag_ids: list[str], after: Referral) -> None:
    """Open flags follow a transferred referral to its new provider."""
    for fid in flag_ids:
        tx.update(FlagItem(flag_id=fid), actions=[FlagItem.provider_org_id.set(after.provider_org_id),
                                                           FlagItem.prime_org_id.set(after.prime_org_id)],
                  condition=FlagItem.status == OPEN)


def count_attempt(counter_id: str) -> int:
    """Add one to a key's day counter of person-held refusals and return the new count: one atomic update of its
    own, outside the refused request's (empty) unit of work, so the refusal changes nothing else and the count
    survives it. The counter item has no organisation: it is in no index, and no listing shows it."""
    item = FlagItem(flag_id=counter_id)
    try:
        item.update(actions=[FlagItem.attempts.add(1)])
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None
    return int(item.attempts or 0)


def raise_key_flag(flag: Flag) -> None:
    """An API key's flag, raised once (a second raise of the same flag is a no-op)."""
    item = FlagItem(flag_id=flag.flag_id, flag_sort=_flag_sort(flag.status, flag.due, flag.flag_id),
                    provider_org_id=flag.provider_org_id, prime_org_id=flag.prime_org_id, rule=flag.rule,
                    due=flag.due.isoformat(), description=flag.description, status=flag.status,
                    raised_on=flag.raised_on.isoformat(), key_id=flag.key_id)
    try:
        item.save(condition=FlagItem.flag_id.does_not_exist())
    except PynamoDBException as exc:
        if aws_error_code(exc) != "ConditionalCheckFailedException":
            raise translate_read_error(exc) from None


_FLAG_INDEXES = {"provider": FlagItem.by_provider, "prime": FlagItem.by_prime}


def list_flags(view: str, org_id: str, status: str | None, limit: int, cursor: str | None, *,
               programme_id: str | None = None, rule: str | None = None,
               provider_org_id: str | None = None, referral_id: str | None = None) -> tuple[list[Flag], str | None]:
    if referral_id:
        return _flags_of_referral(view, org_id, status, limit, cursor, programme_id, rule, provider_org_id,
                                  referral_id)
    range_condition = FlagItem.flag_sort.startswith(f"{status}#") if status else None
    if view == "provider" and provider_org_id:
        # The index's own key: DynamoDB refuses a filter on it (it is the organisation queried, or nothing).
        if provider_org_id != org_id:
            return [], None
        provider_org_id = None
    condition = all_equal((FlagItem.programme_id, programme_id), (FlagItem.rule, rule),
                          (FlagItem.provider_org_id, provider_org_id), (FlagItem.referral_id, referral_id))
    items, next_cursor = query_page(_FLAG_INDEXES[view], org_id, f"flags:{view}:{org_id}", limit, cursor,
                                    range_condition, condition)
    return [_flag(i) for i in items], next_cursor


_VIEW_ORG = {"provider": FlagItem.provider_org_id, "prime": FlagItem.prime_org_id}


def _flags_of_referral(view: str, org_id: str, status: str | None, limit: int, cursor: str | None,
                       programme_id: str | None, rule: str | None, provider_org_id: str | None,
                       referral_id: str) -> tuple[list[Flag], str | None]:
    """One referral's flags (a handful), from the referral's own index, as the caller's organisation sees them:
    another organisation's referral gives an empty list, as an unknown one does."""
    condition = all_equal((_VIEW_ORG[view], org_id), (FlagItem.status, status),
                          (FlagItem.programme_id, programme_id), (FlagItem.rule, rule),
                          (FlagItem.provider_org_id, provider_org_id))
    items, next_cursor = query_page(FlagItem.by_referral, referral_id, f"flags:{view}:{org_id}:{referral_id}",
                                    limit, cursor, None, condition)
    return [_flag(i) for i in items], next_cursor


# ---------------------------------------------------------------- runs


def _shard_counts(item: RunItem) -> dict[str, Any]:
    values = item.shard_counts.attribute_values if hasattr(item.shard_counts, "attribute_values") else item.shard_counts
    return dict(values or {})


def _run(item: RunItem) -> Run:
    # Every invocation's counts, merged on each read: an overlapping run that finishes a shard after the run
    # was closed still counts what it did.
    return Run(run_id=item.run_id, run_date=date.fromisoformat(item.run_date), started_at=item.started_at,
               finished_at=item.finished_at, shards_done=strings(item.shards_done),
               counts=merged_counts(_shard_counts(item)), checks=list(item.checks or []))


def get_run(run_id: str) -> Run | None:
    item = get_item(RunItem, run_id)
    return _run(item) if item else None


def start_run(run_id: str, run_date: date, now: datetime) -> Run:
    existing = get_run(run_id)
    if existing is not None:
        return existing
    item = RunItem(run_id=run_id, run_date=run_date.isoformat(), started_at=now.isoformat(), shards_done=[],
                   shard_counts={})
    try:
        item.save(condition=RunItem.run_id.does_not_exist())
    except PynamoDBException:
        run = get_run(run_id)  # another invocation started the same run first
        assert run is not None
        return run
    return _run(item)


def finish_shard(run_id: str, shard: str, counts: dict) -> None:
    """Record a shard as done, once, with what this invocation found there, without reading the run record.
    Overlapping runs of one date each settle part of the same shard: an invocation that finds the shard already
    done keeps its own counts beside the others' (each flag, closure and tranche is counted by the one invocation
    whose transaction made it)."""
    try:
        RunItem(run_id=run_id).update(actions=[RunItem.shards_done.set(RunItem.shards_done.append([shard])),
                                               RunItem.shard_counts[shard].set(json.dumps(counts))],
                                      condition=~RunItem.shards_done.contains(shard))
    except PynamoDBException as exc:
        if aws_error_code(exc) != "ConditionalCheckFailedException":
            raise translate_read_error(exc) from None
        record_partial(run_id, shard, counts)


def record_partial(run_id: str, shard: str, counts: dict) -> None:
    """Counts of part of a shard under a key of their own: settled by an invocation that ran short of time (the
    shard is not done), or by one that overlapped another run of the same date."""
    RunItem(run_id=run_id).update(
        actions=[RunItem.shard_counts[f"{shard}+{uuid.uuid4().hex[:8]}"].set(json.dumps(counts))])


def merged_counts(shard_counts: dict[str, str]) -> dict:
    """The shards' counts merged (a run's totals)."""
    merged: dict = {}
    for shard in sorted(shard_counts):
        merged = merge_counts(merged, json.loads(shard_counts[shard]))
    return merged


def finish_run(run_id: str, checks: list[dict], now: datetime) -> None:
    """Close the run with its programme checks. Its counts are not frozen here: they are merged on every read."""
    RunItem(run_id=run_id).update(actions=[RunItem.checks.set(checks), RunItem.finished_at.set(now.isoformat())])


# ---------------------------------------------------------------- programme counters


def add_stats(tx: Transaction, programme_id: str, org_id: str, increments: dict[str, int]) -> None:
    if not increments:
        return
    item = ProgrammeStatsItem(programme_id=programme_id, org_id=f"stats#{org_id}")
    tx.update(item, actions=[getattr(ProgrammeStatsItem, k).add(v) for k, v in sorted(increments.items())])


def programme_stats(programme_id: str) -> dict[str, dict[str, int]]:
    try:
        items = ProgrammeStatsItem.query(programme_id, ProgrammeStatsItem.org_id.startswith("stats#"))
        return {i.org_id.removeprefix("stats#"): {
            "started": int(i.started or 0), "ld_or_autism": int(i.ld_or_autism or 0),
            "job_starts": int(i.job_starts or 0), "over_8_hours": int(i.over_8_hours or 0),
            "over_16_hours": int(i.over_16_hours or 0), "recorded_late": int(i.recorded_late or 0),
            "recorded_beyond_limit": int(i.recorded_beyond_limit or 0)} for i in items}
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None

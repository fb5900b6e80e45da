"""Pending work, flags, run records and programme counters in DynamoDB."""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import Iterator

from pynamodb.exceptions import PynamoDBException

from ..domain.compliance import Pending, shard_of
from ..domain.journey import Referral
from ..domain.participants import pseudonymous_reference
from .models import FlagItem, PendingWorkItem, ProgrammeStatsItem, RunItem
from .repository import _get, all_equal, query_page
from .transaction import Transaction, aws_error_code, translate_read_error

OPEN, RESOLVED = "open", "resolved"


def _work_item(referral: Referral, p: Pending, management_fee_bp: int) -> PendingWorkItem:
    return PendingWorkItem(
        shard=shard_of(referral.id), work_key=f"{p.act_on.isoformat()}#{referral.id}#{p.rule}",
        referral_id=referral.id, programme_id=referral.programme_id, provider_org_id=referral.provider_org_id,
        prime_org_id=referral.prime_org_id, rule=p.rule, due=p.due.isoformat(), act_on=p.act_on.isoformat(),
        description=p.description, participant_ref=pseudonymous_reference(referral.participant_hash),
        management_fee_bp=management_fee_bp, amount_pence=p.amount_pence, funder=p.funder or None)


def add_pending_changes(tx: Transaction, before: Referral | None, old: set[Pending], after: Referral,
                        new: set[Pending], management_fee_bp: int = 0) -> None:
    """Keep the referral's pending work in step with its state: add what is new, drop what is no longer due.
    A referral that moved provider rewrites all its items (they carry the provider for the flags)."""
    moved = before is not None and before.provider_org_id != after.provider_org_id
    old_by_key = {(p.act_on, p.rule): p for p in old}
    new_by_key = {(p.act_on, p.rule): p for p in new}
    for key, p in new_by_key.items():
        if moved or old_by_key.get(key) != p:
            tx.put(_work_item(after, p, management_fee_bp))
    for key, p in old_by_key.items():
        if key not in new_by_key:
            tx.delete(_work_item(after, p, management_fee_bp))


def due_work(shard: str, on: date) -> Iterator[PendingWorkItem]:
    """Every pending item of one shard that needs action on or before `on`: nothing else is read."""
    try:
        yield from PendingWorkItem.query(shard, PendingWorkItem.work_key <= f"{on.isoformat()}#\uffff")
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def _flag_sort(status: str, raised_on: str, flag_id: str) -> str:
    return f"{status}#{raised_on}#{flag_id}"


def flag_id(referral_id: str, rule: str, due: str) -> str:
    return f"{referral_id}#{rule}#{due}"


class FlagExists(Exception):
    """The flag for this referral, rule and due date was raised before."""


def add_flag(tx: Transaction, work: PendingWorkItem, run_id: str, raised_on: date, action: str | None = None) -> None:
    fid = flag_id(work.referral_id, work.rule, work.due)
    tx.put(FlagItem(flag_id=fid, flag_sort=_flag_sort(OPEN, raised_on.isoformat(), fid),
                    referral_id=work.referral_id, programme_id=work.programme_id,
                    provider_org_id=work.provider_org_id, prime_org_id=work.prime_org_id, rule=work.rule,
                    due=work.due, description=work.description, status=OPEN, raised_on=raised_on.isoformat(),
                    run_id=run_id, action=action), condition=FlagItem.flag_id.does_not_exist(),
           on_fail=FlagExists)


def done_with(tx: Transaction, work: PendingWorkItem) -> None:
    tx.delete(work)


def open_flags(referral_id: str) -> list[FlagItem]:
    try:
        return list(FlagItem.by_referral.query(referral_id, filter_condition=FlagItem.status == OPEN))
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def add_resolutions(tx: Transaction, flags: list[FlagItem], on: date) -> None:
    for flag in flags:
        tx.update(flag, actions=[FlagItem.status.set(RESOLVED), FlagItem.resolved_on.set(on.isoformat()),
                                 FlagItem.flag_sort.set(_flag_sort(RESOLVED, flag.raised_on, flag.flag_id))],
                  condition=FlagItem.status == OPEN)


def add_reassignment(tx: Transaction, flags: list[FlagItem], after: Referral) -> None:
    """Open flags follow a transferred referral to its new provider."""
    for flag in flags:
        tx.update(flag, actions=[FlagItem.provider_org_id.set(after.provider_org_id),
                                 FlagItem.prime_org_id.set(after.prime_org_id)], condition=FlagItem.status == OPEN)


_FLAG_INDEXES = {"provider": FlagItem.by_provider, "prime": FlagItem.by_prime}


def list_flags(view: str, org_id: str, status: str | None, limit: int, cursor: str | None, *,
               programme_id: str | None = None, rule: str | None = None,
               provider_org_id: str | None = None) -> tuple[list[FlagItem], str | None]:
    range_condition = FlagItem.flag_sort.startswith(f"{status}#") if status else None
    condition = all_equal((FlagItem.programme_id, programme_id), (FlagItem.rule, rule),
                          (FlagItem.provider_org_id, provider_org_id))
    return query_page(_FLAG_INDEXES[view], org_id, f"flags:{view}:{org_id}", limit, cursor, range_condition,
                      condition)


# ---------------------------------------------------------------- runs


def get_run(run_id: str) -> RunItem | None:
    return _get(RunItem, run_id)


def start_run(run_id: str, run_date: date, now: datetime) -> RunItem:
    existing = get_run(run_id)
    if existing is not None:
        return existing
    run = RunItem(run_id=run_id, run_date=run_date.isoformat(), started_at=now.isoformat(), shards_done=[],
                  shard_counts={}, counts={})
    try:
        run.save(condition=RunItem.run_id.does_not_exist())
    except PynamoDBException:
        return get_run(run_id)  # another invocation started the same run first
    return run


def finish_shard(run: RunItem, shard: str, counts: dict) -> None:
    """Record a shard as done with what it found, once, without reading the run record."""
    try:
        run.update(actions=[RunItem.shards_done.set(RunItem.shards_done.append([shard])),
                            RunItem.shard_counts[shard].set(json.dumps(counts))],
                   condition=~RunItem.shards_done.contains(shard))
    except PynamoDBException as exc:
        if aws_error_code(exc) != "ConditionalCheckFailedException":
            raise translate_read_error(exc) from None
        # another invocation finished this shard first; its counts stand


def record_partial(run: RunItem, shard: str, counts: dict) -> None:
    """Counts of part of a shard, settled by an invocation that ran short of time (the shard is not done)."""
    import uuid

    run.update(actions=[RunItem.shard_counts[f"{shard}+{uuid.uuid4().hex[:8]}"].set(json.dumps(counts))])


def counts_so_far(run: RunItem) -> dict:
    """The shards' counts merged (a run's totals)."""
    values = run.shard_counts.attribute_values if hasattr(run.shard_counts, "attribute_values") else run.shard_counts
    merged: dict = {}
    for shard in sorted(values or {}):
        merged = merge_counts(merged, json.loads(values[shard]))
    return merged


def finish_run(run: RunItem, checks: list[dict], now: datetime) -> None:
    merged = counts_so_far(run)
    run.update(actions=[RunItem.checks.set(checks), RunItem.counts.set(merged),
                        RunItem.finished_at.set(now.isoformat())])


def merge_counts(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict):
            out[key] = merge_counts(out.get(key, {}), value)
        else:
            out[key] = out.get(key, 0) + value
    return out


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
            "over_16_hours": int(i.over_16_hours or 0)} for i in items}
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None

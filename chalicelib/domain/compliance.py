"""Nightly compliance: which deadlines and fee tranches a referral has pending, and when each needs action.

Every referral's pending work is a small set of `Pending` items derived from its state alone. The store keeps
that set in a table keyed by the day the item needs action, so a nightly run reads only what is due.
A deadline needs action the day after it falls due (that is the first day it is missed); a service-fee
tranche needs action on the day it falls due.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from . import deadlines, retention, states, targets
from .participants import pseudonymous_reference
from .referral import Referral
from .rulebook import Rulebook
from .states import FINAL_STATES

SHARDS = 32  # partitions of the pending-work table: spreads writes, and lets a run fan out one shard each
TRANCHE = "tranche"
CLOSE_UNSTARTED = "close_unstarted"  # the closure of a referral never started, once the referral window has shut


@dataclass(frozen=True)
class Pending:
    rule: str           # a deadline rule (acknowledge, start, review, sustainment:3-months...) or tranche:<fee>:<n>
    due: date
    act_on: date        # the run date that acts on it
    description: str
    amount_pence: int = 0  # a tranche's amount
    funder: str = ""       # a tranche's funder

    @property
    def is_tranche(self) -> bool:
        return self.rule.startswith(TRANCHE + ":")


def shard_of(referral_id: str) -> str:
    digest = hashlib.sha256(referral_id.encode()).digest()
    return f"s{digest[0] % SHARDS:02d}"


def all_shards() -> list[str]:
    return [f"s{n:02d}" for n in range(SHARDS)]


def pending_deadlines(rulebook: Rulebook, referral: Referral) -> set[Pending]:
    """The deadlines this referral will need a nightly run for, given its state now (a deadline is acted on the
    day after it falls due). Service-fee tranches are money: chalicelib/payments/tariff.py adds those."""
    if referral.status in FINAL_STATES and deadlines.next_follow_up(rulebook, referral) is None:
        return set()  # (a leaver not in work is still tracked after the exit)
    items = {Pending(d.rule, d.due, d.due + timedelta(days=1), d.description)
             for d in deadlines.running(rulebook, referral)}
    closure = unstarted_closure(rulebook, referral)
    return items | ({closure} if closure else set())


def pending_retention(rulebook: Rulebook, referral: Referral) -> set[Pending]:
    """The erasure of an ended referral's personal fields, the day after its retention ends."""
    erasure = retention.pending_erasure(rulebook, referral)
    return {Pending(retention.ERASE, *erasure)} if erasure else set()


def unstarted_closure(rulebook: Rulebook, referral: Referral) -> Pending | None:
    """A referral that has not started is closed as did-not-start the day after the referral window shuts, or
    the day after its start deadline if that is later. The item is written with the referral (and rewritten when
    the start deadline moves), so the closure happens whether or not a run flagged the missed start before,
    and the run reads nothing but the items due."""
    if referral.status not in (states.REFERRED, states.ACCEPTED):
        return None
    due = rulebook.referral_closes
    start = next((d for d in deadlines.running(rulebook, referral) if d.rule == "start"), None)
    if start is not None and start.due > due:
        due = start.due
    return Pending(CLOSE_UNSTARTED, due, due + timedelta(days=1),
                   f"closed as did-not-start if not started by {due.isoformat()} "
                   f"(the referral window shuts on {rulebook.referral_closes.isoformat()})")


@dataclass(frozen=True)
class Check:
    """A programme-level measure against its target: reported, never enforced by refusal."""

    programme_id: str
    org_id: str
    measure: str
    actual: int
    base: int
    target_pct: float | None

    @property
    def pct(self) -> float | None:
        return round(100 * self.actual / self.base, 1) if self.base else None

    @property
    def met(self) -> bool | None:
        if self.target_pct is None or not self.base:
            return None
        return 100 * self.actual >= self.target_pct * self.base

    def as_dict(self) -> dict:
        return {"programme_id": self.programme_id, "org_id": self.org_id, "measure": self.measure,
                "actual": self.actual, "base": self.base, "pct": self.pct, "target_pct": self.target_pct,
                "met": self.met}


def programme_checks(rulebook: Rulebook, used: dict[str, int], stats: dict[str, dict[str, int]],
                     on: date | None = None) -> list[Check]:
    """Allocation use against each organisation's cap, starts against its minimum and the pro-rata path (on
    `on`), cohort mix and outcome targets."""
    checks: list[Check] = []
    for org in rulebook.delivery_organisations:
        if org.allocation is not None:
            checks.append(Check(rulebook.id, org.org_id, "allocation_used", used.get(org.org_id, 0), org.allocation,
                                None))
    if on is not None:
        checks += minimum_checks(rulebook, stats, on)
    targets = rulebook.targets
    cohort = targets.cohort_min_share.get("learning_disability_or_autism")
    for org_id, s in sorted(stats.items()):
        started = s.get("started", 0)
        for measure in ("recorded_late", "recorded_beyond_limit"):  # reported, with nothing to meet
            if s.get(measure):
                checks.append(Check(rulebook.id, org_id, measure, s[measure], 0, None))
        if cohort is not None:
            checks.append(Check(rulebook.id, org_id, "cohort_learning_disability_or_autism",
                                s.get("ld_or_autism", 0), started, round(cohort * 100, 2)))
        for measure, target in (("job_starts", targets.job_starts_pct), ("over_16_hours", targets.over_16_hours_pct),
                                ("over_8_hours", targets.over_8_hours_pct)):
            if target is not None:
                checks.append(Check(rulebook.id, org_id, measure, s.get(measure, 0), started, target))
    return checks


def minimum_checks(rulebook: Rulebook, stats: dict[str, dict[str, int]], on: date) -> list[Check]:
    """Each organisation's starts against its minimum, with the pro-rata path as the target: `met` is false when
    it is behind the path (its starts short of the minimum's share of the window gone by)."""
    started = {org_id: s.get("started", 0) for org_id, s in stats.items()}
    return [Check(rulebook.id, p.org_id, "minimum_progress", p.started, p.minimum, p.elapsed_bp / 100)
            for p in targets.minimum_progress(rulebook, started, on)]


# ---------------------------------------------------------------- what the store keeps for compliance


@dataclass(frozen=True)
class PendingWork:
    """One pending item as kept for the nightly run: partitioned by shard, sorted by the day it needs action,
    carrying what acting on it needs (so a run reads nothing but the due items themselves)."""

    shard: str
    work_key: str  # act_on + referral id + rule
    referral_id: str
    programme_id: str
    provider_org_id: str
    prime_org_id: str
    rule: str
    due: date
    act_on: date
    description: str
    participant_ref: str | None = None
    management_fee_bp: int = 0
    amount_pence: int = 0
    funder: str | None = None

    @property
    def is_tranche(self) -> bool:
        return self.rule.startswith(TRANCHE + ":")


def work_key(referral_id: str, p: Pending) -> str:
    return f"{p.act_on.isoformat()}#{referral_id}#{p.rule}"


def work_item(referral: Referral, p: Pending, management_fee_bp: int) -> PendingWork:
    return PendingWork(
        shard=shard_of(referral.id), work_key=work_key(referral.id, p), referral_id=referral.id,
        programme_id=referral.programme_id, provider_org_id=referral.provider_org_id,
        prime_org_id=referral.prime_org_id, rule=p.rule, due=p.due, act_on=p.act_on, description=p.description,
        participant_ref=pseudonymous_reference(referral.participant_hash), management_fee_bp=management_fee_bp,
        amount_pence=p.amount_pence, funder=p.funder or None)


def pending_changes(before: Referral | None, old: set[Pending], after: Referral, new: set[Pending],
                    management_fee_bp: int) -> tuple[list[PendingWork], list[PendingWork]]:
    """Which pending items to write and which to delete to keep the referral's pending work in step with its
    state: only what is new or changed is written. A referral that moved provider rewrites all its items (they
    carry the provider, for the flags)."""
    moved = before is not None and before.provider_org_id != after.provider_org_id
    old_by_key = {(p.act_on, p.rule): p for p in old}
    new_by_key = {(p.act_on, p.rule): p for p in new}
    puts = [work_item(after, p, management_fee_bp) for key, p in sorted(new_by_key.items())
            if moved or old_by_key.get(key) != p]
    deletes = [work_item(after, p, management_fee_bp) for key, p in sorted(old_by_key.items())
               if key not in new_by_key]
    return puts, deletes


OPEN, RESOLVED = "open", "resolved"


def flag_id(referral_id: str, rule: str, due: date) -> str:
    return f"{referral_id}#{rule}#{due.isoformat()}"


def flag_key(rule: str, due: date) -> str:
    """How a referral records a flag the nightly run raised on one of its deadlines (`Referral.flagged`)."""
    return f"{rule}@{due.isoformat()}"


def flag_id_of(referral_id: str, key: str) -> str:
    rule, due = key.rsplit("@", 1)
    return flag_id(referral_id, rule, date.fromisoformat(due))


def answered_flags(before: Referral, answered: Iterable[tuple[str, date]]) -> tuple[list[tuple[str, date]],
                                                                                   tuple[str, ...]]:
    """Of the deadlines a step answered, the ones the nightly run flagged as missed (their flags resolve with the
    step), and the referral's flags still open after it. A deadline answered before any run flagged it has no
    flag to write to: the run that reads its pending item finds it gone and raises none."""
    raised = set(before.flagged)
    keys = {flag_key(rule, due): (rule, due) for rule, due in answered}
    return sorted(keys[k] for k in keys.keys() & raised), tuple(sorted(raised - keys.keys()))


@dataclass(frozen=True)
class Flag:
    """A missed deadline (or a participant due to exit), which resolves itself when the missing event is recorded;
    or an API key's unusual use (`key_id`, no referral), for its organisation to look into."""

    flag_id: str
    referral_id: str | None
    programme_id: str | None
    provider_org_id: str
    prime_org_id: str
    rule: str
    due: date
    description: str
    status: str
    raised_on: date
    run_id: str | None  # the nightly run that raised it (none for a key's flag)
    resolved_on: date | None = None
    action: str | None = None
    key_id: str | None = None


# ---------------------------------------------------------------- an API key probing for people

PERSON_HELD_ATTEMPTS = "person_held_refusals"
# Referrals a key may see refused in one (UTC) day because of what is held about the person (already active
# somewhere, or a former participant the programme does not take back) before its organisation is flagged. A
# referrer who checks before referring meets one now and then; a key that meets ten a day is testing NINOs.
UNUSUAL_PERSON_HELD_ATTEMPTS_PER_DAY = 10


def attempts_counter_id(key_id: str, on: date) -> str:
    return f"attempts#{key_id}#{on.isoformat()}"


def probing_flag(key_id: str, org_id: str, oversight_org_id: str | None, on: date) -> Flag:
    """The flag for a key that reached the day's unusual number of person-held refusals: raised once a day per
    key, for the key's organisation (and, for a subcontractor, its prime), never naming a person or programme."""
    fid = f"key#{key_id}#{PERSON_HELD_ATTEMPTS}#{on.isoformat()}"
    return Flag(flag_id=fid, referral_id=None, programme_id=None, provider_org_id=org_id,
                prime_org_id=oversight_org_id or org_id, rule=PERSON_HELD_ATTEMPTS, due=on,
                description=f"API key {key_id} had {UNUSUAL_PERSON_HELD_ATTEMPTS_PER_DAY} referrals refused on "
                f"{on.isoformat()} for people already active on a programme or not taken back: an unusual rate "
                "(is it checking who is on a programme?); revoke the key if its use is not explained",
                status=OPEN, raised_on=on, run_id=None, key_id=key_id)


@dataclass(frozen=True)
class Run:
    """One nightly run: which shards are done and what it found, per rule and organisation."""

    run_id: str
    run_date: date
    started_at: str
    finished_at: str | None
    shards_done: tuple[str, ...]
    counts: dict
    checks: list


def merge_counts(a: dict, b: dict) -> dict:
    """Two run summaries' counts added together, nested dicts key by key (shards' counts into a run's)."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict):
            out[key] = merge_counts(out.get(key, {}), value)
        else:
            out[key] = out.get(key, 0) + value
    return out

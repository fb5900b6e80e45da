"""An in-memory implementation of the services' persistence ports (chalicelib/services/ports.py).

It keeps the same promises as the DynamoDB store where the use cases depend on them: a unit of work commits all of
its writes or none, each write's condition is checked first and a failed one raises the domain error it carries
(allocation full, already active, a concurrent update, a milestone already claimed...), lists come back in the
same order with signed cursors. It is single-threaded: concurrency is tested against DynamoDB Local.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, BinaryIO

from chalicelib.domain import cursors
from chalicelib.domain.access import ApiKeyRecord, Organisation
from chalicelib.domain.access_log import AccessEntry
from chalicelib.domain.compliance import OPEN, RESOLVED, Flag, PendingWork, Run, flag_id, merge_counts
from chalicelib.domain.errors import (
    AlreadyClaimed,
    ClaimRefused,
    ConcurrentUpdate,
    Conflict,
    FieldError,
    FlagExists,
    IdempotencyKeyTaken,
    MadeMeanwhile,
    ReferralRefused,
    WorkSettled,
)
from chalicelib.domain.idempotency import IdempotencyRecord, Needs
from chalicelib.domain.journey import already_active
from chalicelib.domain.referral import Event, ParticipantRecord, RecordedEvent, Referral
from chalicelib.payments.claim_file import BUILDING, READY, ClaimFile
from chalicelib.payments.lines import APPROVED, FILED, PENDING_APPROVAL, REJECTED, REMOVED, SUBMITTED, PaymentLine
from chalicelib.payments.supply_chain import Obligation, PassThrough
from chalicelib.payments.validation import PRE_PAYMENT, Check, SampleRate
from chalicelib.services.ports import Store

SECRET = b"memory-store-cursor-secret"
PROGRAMME_TOTAL = "*"


def _concurrent() -> Exception:
    return ConcurrentUpdate("another request changed this data first; retry the request")


@dataclass
class _Op:
    check: Callable[[], bool]
    apply: Callable[[], None]
    on_fail: Callable[[], Exception]


@dataclass
class MemoryTransaction:
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    ops: list[_Op] = field(default_factory=list)
    commits: int = 0

    def add(self, apply: Callable[[], None], check: Callable[[], bool] = lambda: True,
            on_fail: Callable[[], Exception] = _concurrent) -> None:
        self.ops.append(_Op(check, apply, on_fail))

    def __len__(self) -> int:
        return len(self.ops)

    def commit(self) -> None:
        for op in self.ops:
            if not op.check():
                raise op.on_fail()
        for op in self.ops:
            op.apply()
        self.commits += 1
        for callback in self.after_commit:
            callback()


def _page(items: list, scope: str, limit: int, cursor: str | None) -> tuple[list, str | None]:
    start = int(cursors.decode(cursor, scope, SECRET)["offset"]["N"]) if cursor else 0
    chunk = items[start:start + limit]
    end = start + len(chunk)
    more = end < len(items)
    return chunk, cursors.encode({"offset": {"N": str(end)}}, scope, SECRET) if more else None


@dataclass
class Data:
    organisations: dict[str, Organisation] = field(default_factory=dict)
    keys: dict[str, ApiKeyRecord] = field(default_factory=dict)
    referrals: dict[str, Referral] = field(default_factory=dict)
    listed: dict[str, str] = field(default_factory=dict)  # referral id -> created_at#id (newest-first order)
    party_index: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # (org, referral) -> roles
    events: dict[str, list[RecordedEvent]] = field(default_factory=dict)
    participants: dict[str, ParticipantRecord] = field(default_factory=dict)
    allocations: dict[tuple[str, str], int] = field(default_factory=dict)
    idempotency: dict[str, IdempotencyRecord] = field(default_factory=dict)
    lines: dict[str, PaymentLine] = field(default_factory=dict)
    files: dict[str, ClaimFile] = field(default_factory=dict)
    parts: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # claim file -> part -> line ids
    objects: dict[str, bytes] = field(default_factory=dict)
    pending: dict[tuple[str, str], PendingWork] = field(default_factory=dict)
    flags: dict[str, Flag] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    sample_rates: dict[str, list[SampleRate]] = field(default_factory=dict)
    checks: dict[tuple[str, str], Check] = field(default_factory=dict)
    obligations: dict[tuple[str, str, str], Obligation] = field(default_factory=dict)
    pass_throughs: list[PassThrough] = field(default_factory=list)
    access_log: list[AccessEntry] = field(default_factory=list)


class Organisations:
    def __init__(self, data: Data) -> None:
        self.d = data

    def get(self, org_id: str) -> Organisation | None:
        return self.d.organisations.get(org_id)

    def save(self, org: Organisation) -> None:
        self.d.organisations[org.org_id] = org

    def get_key(self, key_hash: str) -> ApiKeyRecord | None:
        return self.d.keys.get(key_hash)

    def save_key(self, key: ApiKeyRecord) -> None:
        if key.key_hash in self.d.keys:
            raise _concurrent()
        self.d.keys[key.key_hash] = key

class Referrals:
    VIEWS = {"referrer": "referrer_org_id", "provider": "provider_org_id", "prime": "prime_org_id"}

    def __init__(self, data: Data) -> None:
        self.d = data

    def get(self, referral_id: str) -> Referral | None:
        return self.d.referrals.get(referral_id)

    def get_many(self, referral_ids: list[str]) -> dict[str, Referral]:
        return {i: r for i in referral_ids if (r := self.d.referrals.get(i)) is not None}

    def page(self, view: str, org_id: str, limit: int, cursor: str | None, *, status: str | None = None,
             programme_id: str | None = None,
             provider_org_id: str | None = None) -> tuple[list[Referral], str | None]:
        if view == "party":
            mine = [self.d.referrals[rid] for (org, rid) in self.d.party_index if org == org_id]
        else:
            mine = [r for r in self.d.referrals.values() if getattr(r, self.VIEWS[view]) == org_id]
        found = [r for r in mine if (not status or r.status == status)
                 and (not programme_id or r.programme_id == programme_id)
                 and (not provider_org_id or r.provider_org_id == provider_org_id)]
        found.sort(key=lambda r: self.d.listed[r.id], reverse=True)
        return _page(found, f"{view}:{org_id}", limit, cursor)

    def add_incentive_withdrawn(self, tx: MemoryTransaction, referral_id: str, incentive_ids: frozenset[str]) -> None:
        def withdraw() -> None:
            r = self.d.referrals[referral_id]
            self.d.referrals[referral_id] = replace(r, withdrawn_incentives=tuple(sorted({*r.withdrawn_incentives, *incentive_ids})),
                                                    version=r.version + 1)

        tx.add(withdraw, lambda: referral_id in self.d.referrals)

    def add_flag_raised(self, tx: MemoryTransaction, referral_id: str, key: str) -> None:
        def record() -> None:
            r = self.d.referrals[referral_id]
            self.d.referrals[referral_id] = replace(r, flagged=tuple(sorted({*r.flagged, key})), version=r.version + 1)

        tx.add(record, lambda: referral_id in self.d.referrals)

    def add_party_index(self, tx: MemoryTransaction, referral: Referral, org_id: str, roles: tuple[str, ...]) -> None:
        tx.add(lambda: self.d.party_index.__setitem__((org_id, referral.id), roles))

    def events(self, referral_id: str, limit: int, cursor: str | None) -> tuple[list[RecordedEvent], str | None]:
        return _page(sorted(self.d.events.get(referral_id, []), key=lambda e: e.seq), f"events:{referral_id}", limit,
                     cursor)

    def participant(self, participant_hash: str) -> ParticipantRecord | None:
        return self.d.participants.get(participant_hash)

    def _record(self, tx: MemoryTransaction, referral: Referral, event: Event, actor_org_id: str, actor_key_id: str,
                now: datetime) -> None:
        recorded = RecordedEvent(referral.id, referral.version, event.type, event.occurred_on, now, actor_org_id,
                                 actor_key_id, event.from_status, event.to_status, event.data)
        tx.add(lambda: self.d.events.setdefault(referral.id, []).append(recorded),
               lambda: all(e.seq != referral.version for e in self.d.events.get(referral.id, [])))

    def add_new(self, tx: MemoryTransaction, referral: Referral, event: Event, actor_org_id: str, actor_key_id: str,
                now: datetime, participant: ParticipantRecord | None, capacity: int | None,
                total_capacity: int | None) -> None:
        def create() -> None:
            self.d.referrals[referral.id] = referral
            self.d.listed[referral.id] = f"{referral.created_at.isoformat()}#{referral.id}"

        tx.add(create, lambda: referral.id not in self.d.referrals)
        self._record(tx, referral, event, actor_org_id, actor_key_id, now)
        self._claim_participant(tx, referral, participant)
        self._take_place(tx, referral.programme_id, referral.provider_org_id, capacity)
        self._take_place(tx, referral.programme_id, PROGRAMME_TOTAL, total_capacity)

    def _claim_participant(self, tx: MemoryTransaction, referral: Referral,
                           participant: ParticipantRecord | None) -> None:
        key = referral.participant_hash
        if participant is None:
            record = ParticipantRecord(key, referral.id, (), (referral.id,), 1)
            tx.add(lambda: self.d.participants.__setitem__(key, record), lambda: key not in self.d.participants,
                   already_active)
            return
        updated = replace(participant, active_referral_id=referral.id,
                          referrals=(*participant.referrals, referral.id), version=participant.version + 1)

        def unchanged_and_free() -> bool:
            now = self.d.participants.get(key)
            return now is not None and now.version == participant.version and not now.active_referral_id

        tx.add(lambda: self.d.participants.__setitem__(key, updated), unchanged_and_free, already_active)

    def _take_place(self, tx: MemoryTransaction, programme_id: str, org_id: str, capacity: int | None) -> None:
        key = (programme_id, org_id)

        def full() -> Exception:
            return ReferralRefused("allocation_full", "the provider's allocation on this programme is full",
                                   [FieldError("provider_id", "allocation", "no places left")])

        tx.add(lambda: self.d.allocations.__setitem__(key, self.d.allocations.get(key, 0) + 1),
               lambda: capacity is None or self.d.allocations.get(key, 0) < capacity, full)

    def _give_place_back(self, tx: MemoryTransaction, programme_id: str, org_id: str) -> None:
        key = (programme_id, org_id)
        tx.add(lambda: self.d.allocations.__setitem__(key, self.d.allocations[key] - 1),
               lambda: self.d.allocations.get(key, 0) > 0)

    def add_change(self, tx: MemoryTransaction, before: Referral, after: Referral, event: Event, actor_org_id: str,
                   actor_key_id: str, now: datetime) -> None:
        tx.add(lambda: self.d.referrals.__setitem__(after.id, after),
               lambda: self.d.referrals[before.id].version == before.version)
        self._record(tx, after, event, actor_org_id, actor_key_id, now)

    def add_release(self, tx: MemoryTransaction, referral: Referral, participated: bool) -> None:
        key = referral.participant_hash

        def release() -> None:
            person = self.d.participants[key]
            programmes = (*person.programmes, referral.programme_id) if participated else person.programmes
            self.d.participants[key] = replace(person, active_referral_id=None, programmes=programmes,
                                               version=person.version + 1)

        tx.add(release, lambda: self.d.participants[key].active_referral_id == referral.id)
        if not participated:
            self._give_place_back(tx, referral.programme_id, referral.provider_org_id)
            self._give_place_back(tx, referral.programme_id, PROGRAMME_TOTAL)

    def add_transfer_places(self, tx: MemoryTransaction, programme_id: str, from_org: str, to_org: str,
                            to_capacity: int | None) -> None:
        self._take_place(tx, programme_id, to_org, to_capacity)
        self._give_place_back(tx, programme_id, from_org)

    def add_commitment(self, tx: MemoryTransaction, programme_id: str, amount: int, contract_value: int) -> None:
        key = (programme_id, "$contract-value")
        tx.add(lambda: self.d.allocations.__setitem__(key, self.d.allocations.get(key, 0) + amount),
               lambda: self.d.allocations.get(key, 0) <= contract_value - amount,
               lambda: ClaimRefused("contract_value_exhausted", "the programme's contract value would be exceeded",
                                    "amount_pence"))

    def add_referral_counter(self, tx: MemoryTransaction, programme_id: str, counter: str) -> None:
        key = (programme_id, counter)
        tx.add(lambda: self.d.allocations.__setitem__(key, self.d.allocations.get(key, 0) + 1))

    def allocation_used(self, programme_id: str, org_ids: Iterable[str]) -> dict[str, int]:
        return {o: self.d.allocations.get((programme_id, o), 0) for o in org_ids}

    def add_counts(self, tx: MemoryTransaction, programme_id: str, counts: Mapping[str, int],
                   capped: tuple[str, int] | None = None) -> None:
        for counter, amount in counts.items():
            key = (programme_id, counter)

            def add(key: tuple[str, str] = key, amount: int = amount) -> None:
                self.d.allocations[key] = self.d.allocations.get(key, 0) + amount

            if capped and counter == capped[0] and amount > 0:
                cap = capped[1]
                tx.add(add, lambda key=key, amount=amount: self.d.allocations.get(key, 0) <= cap - amount,
                       lambda: ClaimRefused("fund_budget_exceeded", "the spend is more than what remains of the "
                                            "authority's flexible fund budget", "amount_pence"))
            else:
                tx.add(add)

    def counts_under(self, programme_id: str, prefix: str) -> dict[str, int]:
        return {o: n for (p, o), n in self.d.allocations.items() if p == programme_id and o.startswith(prefix)}


class Idempotency:
    def __init__(self, data: Data) -> None:
        self.d = data

    @contextlib.contextmanager
    def read_ahead(self, scope_key: str | None, needs: Needs) -> Iterator[IdempotencyRecord | None]:
        yield self.d.idempotency.get(scope_key) if scope_key else None

    def add(self, tx: MemoryTransaction, record: IdempotencyRecord) -> None:
        tx.add(lambda: self.d.idempotency.__setitem__(record.scope_key, record),
               lambda: record.scope_key not in self.d.idempotency, lambda: IdempotencyKeyTaken(record.scope_key))


class Lines:
    def __init__(self, data: Data) -> None:
        self.d = data

    def add(self, tx: MemoryTransaction, line: PaymentLine, actor: str, now: datetime) -> None:
        tx.add(lambda: self.d.lines.__setitem__(line.line_id, line), lambda: line.line_id not in self.d.lines,
               lambda: AlreadyClaimed(line.line_id))

    def get(self, line_id: str) -> PaymentLine | None:
        return self.d.lines.get(line_id)

    def add_decision(self, tx: MemoryTransaction, line: PaymentLine, approve: bool, reason: str | None, actor: str,
                     now: datetime) -> None:
        decided = replace(line, status=APPROVED if approve else REJECTED, reason=line.reason if approve else reason,
                          version=line.version + 1)

        def still_submitted() -> bool:
            current = self.d.lines[line.line_id]
            return current.status == SUBMITTED and current.version == line.version

        tx.add(lambda: self.d.lines.__setitem__(line.line_id, decided), still_submitted)

    def add_spot_decision(self, tx: MemoryTransaction, line: PaymentLine, approve: bool, reason: str | None,
                          actor: str, now: datetime) -> None:
        decided = replace(line, status=SUBMITTED if approve else REJECTED, reason=None if approve else reason,
                          version=line.version + 1)

        def still_pending() -> bool:
            current = self.d.lines[line.line_id]
            return current.status == PENDING_APPROVAL and current.version == line.version

        tx.add(lambda: self.d.lines.__setitem__(line.line_id, decided), still_pending,
               lambda: Conflict("the spot purchase was decided first", reason="already_decided"))

    VIEWS = {"payee": "payee_org_id", "prime": "prime_org_id", "payer": "payer_org_id"}

    def _view(self, view: str, org_id: str) -> list[PaymentLine]:
        attr = self.VIEWS[view]
        return sorted((x for x in self.d.lines.values() if getattr(x, attr) == org_id),
                      key=lambda x: f"{x.period}#{x.line_id}")

    def page(self, view: str, org_id: str, limit: int, cursor: str | None, *, status: str | None = None,
             programme_id: str | None = None, period: str | None = None,
             payee_org_id: str | None = None) -> tuple[list[PaymentLine], str | None]:
        found = [x for x in self._view(view, org_id) if (not status or x.status == status)
                 and (not programme_id or x.programme_id == programme_id) and (not period or x.period == period)
                 and (not payee_org_id or x.payee_org_id == payee_org_id)]
        return _page(found, f"lines:{view}:{org_id}", limit, cursor)

    def for_period(self, view: str, org_id: str, period: str) -> Iterator[PaymentLine]:
        return iter([x for x in self._view(view, org_id) if x.period == period])

    def of_referral(self, referral_id: str) -> list[PaymentLine]:
        return sorted((x for x in self.d.lines.values() if x.referral_id == referral_id), key=lambda x: x.line_id)

    def queued(self, programme_id: str, up_to_period: str, owner: str,
               payee: str | None = None) -> Iterator[PaymentLine]:
        return iter(sorted((x for x in self.d.lines.values() if x.programme_id == programme_id
                            and x.claimable and x.period <= up_to_period
                            and x.prime_org_id == owner and (not payee or x.payee_org_id == payee)),
                           key=lambda x: f"{x.period}#{x.line_id}"))

    def lock(self, claim_file_id: str, part: str, lines: list[PaymentLine]) -> None:
        tx = MemoryTransaction()
        parts = self.d.parts.setdefault(claim_file_id, {})
        tx.add(lambda: parts.__setitem__(part, [x.line_id for x in lines]), lambda: part not in parts)
        for line in lines:
            def filed(line: PaymentLine = line) -> None:
                current = self.d.lines[line.line_id]
                self.d.lines[line.line_id] = replace(current, status=FILED, claim_file_id=claim_file_id,
                                                     version=current.version + 1)

            def free(line: PaymentLine = line) -> bool:
                current = self.d.lines[line.line_id]
                return current.status == APPROVED and not current.claim_file_id and current.version == line.version

            tx.add(filed, free)
        tx.commit()

    def parts(self, claim_file_id: str) -> Iterator[list[str]]:
        return iter([ids for _, ids in sorted(self.d.parts.get(claim_file_id, {}).items())])

    def get_many(self, line_ids: list[str]) -> list[PaymentLine]:
        return [self.d.lines[x] for x in line_ids if x in self.d.lines]

    def in_file(self, claim_file_id: str) -> Iterator[PaymentLine]:
        return iter(sorted((x for x in self.d.lines.values() if x.claim_file_id == claim_file_id),
                           key=lambda x: x.line_id))

    def add_removal(self, tx: MemoryTransaction, line: PaymentLine, reason: str, actor: str, now: datetime) -> None:
        removed = replace(line, status=REMOVED, reason=reason, version=line.version + 1)

        def still_filed() -> bool:
            current = self.d.lines[line.line_id]
            return current.status == FILED and current.version == line.version

        tx.add(lambda: self.d.lines.__setitem__(line.line_id, removed), still_filed)


class ClaimFiles:
    def __init__(self, data: Data) -> None:
        self.d = data

    def get(self, claim_file_id: str) -> ClaimFile | None:
        return self.d.files.get(claim_file_id)

    def add(self, tx: MemoryTransaction, record: ClaimFile) -> None:
        tx.add(lambda: self.d.files.__setitem__(record.claim_file_id, record),
               lambda: record.claim_file_id not in self.d.files,
               lambda: MadeMeanwhile(f"claim file {record.claim_file_id} was cut by another request"))

    def take_build(self, record: ClaimFile, token: str, now: int, until: int) -> ClaimFile | None:
        current = self.d.files[record.claim_file_id]
        if current.status != BUILDING or current.build_until >= now:
            return None
        self.d.files[record.claim_file_id] = replace(current, build_token=token, build_until=until)
        return self.d.files[record.claim_file_id]

    def _update_held(self, claim_file_id: str, token: str, **changes: Any) -> bool:
        current = self.d.files[claim_file_id]
        if current.status != BUILDING or current.build_token != token:
            return False
        self.d.files[claim_file_id] = replace(current, **changes)
        return True

    def record_progress(self, claim_file_id: str, token: str, locked: int) -> None:
        self._update_held(claim_file_id, token, locked_lines=locked)

    def release_build(self, claim_file_id: str, token: str) -> None:
        self._update_held(claim_file_id, token, build_until=0)

    def finish(self, record: ClaimFile, token: str, line_count: int, totals: dict, s3_key: str) -> ClaimFile:
        if not self._update_held(record.claim_file_id, token, status=READY, line_count=line_count, totals=totals,
                                 s3_key=s3_key, locked_lines=line_count):
            raise Conflict("another build of this claim file holds it", reason="build_taken_over")
        return self.d.files[record.claim_file_id]

    def start_sample(self, record: ClaimFile, seed: str, rate_bp: int, by: str, now: datetime) -> ClaimFile:
        current = self.d.files[record.claim_file_id]
        if current.sample_seed is None and current.paid_on is None:
            self.d.files[record.claim_file_id] = replace(current, sample_seed=seed, sample_rate_bp=rate_bp,
                                                         sampled_by=by)
        elif current.sample_seed != seed:
            raise Conflict("the claim file was sampled with another seed, or paid, first",
                           reason="sampled_with_another_seed")
        return self.d.files[record.claim_file_id]

    def finish_sample(self, record: ClaimFile, size: int) -> ClaimFile:
        self.d.files[record.claim_file_id] = replace(self.d.files[record.claim_file_id], sample_size=size)
        return self.d.files[record.claim_file_id]

    def add_check_count(self, tx: MemoryTransaction, record: ClaimFile, removed: PaymentLine | None) -> None:
        fid = record.claim_file_id

        def count() -> None:
            current = self.d.files[fid]
            self.d.files[fid] = replace(
                current, sample_checked=current.sample_checked + 1,
                removed_line_count=current.removed_line_count + (1 if removed else 0),
                removed_pence=current.removed_pence + (removed.amount_pence if removed else 0))

        tx.add(count, lambda: self.d.files[fid].paid_on is None,
               lambda: Conflict("the claim file was paid first", reason="already_paid"))

    def add_payment(self, tx: MemoryTransaction, record: ClaimFile, paid_on: date, reference: str, by: str,
                    now: datetime) -> None:
        fid = record.claim_file_id

        def as_read() -> bool:
            current = self.d.files[fid]
            return current.paid_on is None and current.sample_checked == record.sample_checked

        tx.add(lambda: self.d.files.__setitem__(fid, replace(
            self.d.files[fid], paid_on=paid_on, paid_pence=record.payable_pence, paid_reference=reference,
            paid_by=by)), as_read)


class Validation:
    def __init__(self, data: Data) -> None:
        self.d = data

    def sample_rate(self, programme_id: str) -> SampleRate | None:
        history = self.d.sample_rates.get(programme_id)
        return history[-1] if history else None

    def add_sample_rate(self, tx: MemoryTransaction, rate: SampleRate) -> None:
        """As the store does: the rate in force is replaced only as it was read."""
        as_read = self.sample_rate(rate.programme_id)
        tx.add(lambda: self.d.sample_rates.setdefault(rate.programme_id, []).append(rate),
               lambda: self.sample_rate(rate.programme_id) == as_read)

    def sample_rate_history(self, programme_id: str, limit: int) -> list[SampleRate]:
        return list(reversed(self.d.sample_rates.get(programme_id, [])))[:limit]

    def add_drawn(self, checks: list[Check]) -> None:
        for check in checks:
            self.d.checks.setdefault((check.claim_file_id, check.line_id), check)

    def check(self, claim_file_id: str, line_id: str) -> Check | None:
        return self.d.checks.get((claim_file_id, line_id))

    def _of_file(self, claim_file_id: str) -> list[Check]:
        return sorted((c for (f, _), c in self.d.checks.items() if f == claim_file_id), key=lambda c: c.line_id)

    def checks_page(self, claim_file_id: str, limit: int, cursor: str | None) -> tuple[list[Check], str | None]:
        return _page(self._of_file(claim_file_id), f"checks:{claim_file_id}", limit, cursor)

    def all_checks(self, claim_file_id: str) -> Iterator[Check]:
        return iter(self._of_file(claim_file_id))

    def add_outcome(self, tx: MemoryTransaction, check: Check, phase: str, existed: bool) -> None:
        key = (check.claim_file_id, check.line_id)
        field_name = "before_payment" if phase == PRE_PAYMENT else "after_payment"

        def record() -> None:
            current = self.d.checks.get(key)
            self.d.checks[key] = replace(current, **{field_name: getattr(check, field_name)}) if current else check

        def first() -> bool:
            current = self.d.checks.get(key)
            if existed:
                return current is not None and getattr(current, field_name) is None
            return current is None

        tx.add(record, first, lambda: ClaimRefused("already_checked", "another check of this line was recorded first",
                                                   "line_id"))


class Compliance:
    def __init__(self, data: Data) -> None:
        self.d = data

    def add_pending_changes(self, tx: MemoryTransaction, puts: Iterable[PendingWork],
                            deletes: Iterable[PendingWork]) -> None:
        for w in list(puts):
            tx.add(lambda w=w: self.d.pending.__setitem__((w.shard, w.work_key), w))
        for w in list(deletes):
            tx.add(lambda w=w: self.d.pending.pop((w.shard, w.work_key), None))

    def due(self, shard: str, on: date) -> Iterator[PendingWork]:
        bound = f"{on.isoformat()}#\uffff"
        return iter(sorted((w for (s, k), w in self.d.pending.items() if s == shard and k <= bound),
                           key=lambda w: w.work_key))

    def done_with(self, tx: MemoryTransaction, work: PendingWork, still_pending: bool = False) -> None:
        key = (work.shard, work.work_key)
        tx.add(lambda: self.d.pending.pop(key, None), (lambda: key in self.d.pending) if still_pending else (lambda: True),
               WorkSettled)

    def add_flag(self, tx: MemoryTransaction, work: PendingWork, run_id: str, raised_on: date,
                 action: str | None = None) -> None:
        fid = flag_id(work.referral_id, work.rule, work.due)
        flag = Flag(fid, work.referral_id, work.programme_id, work.provider_org_id, work.prime_org_id, work.rule,
                    work.due, work.description, RESOLVED if action else OPEN, raised_on, run_id,
                    raised_on if action else None, action)
        tx.add(lambda: self.d.flags.__setitem__(fid, flag), lambda: fid not in self.d.flags, FlagExists)

    def open_flags(self, referral_id: str) -> list[Flag]:
        return sorted((f for f in self.d.flags.values() if f.referral_id == referral_id and f.status == OPEN
                       and f.run_id),
                      key=lambda f: f.flag_id)

    def add_answers(self, tx: MemoryTransaction, referral_id: str, answered: Iterable[tuple[str, date]],
                    on: date) -> None:
        for rule, due in list(answered):
            fid = flag_id(referral_id, rule, due)

            def resolve(fid: str = fid, rule: str = rule, due: date = due) -> None:
                flag = self.d.flags.get(fid)
                if flag is None:  # answered before any run raised it: a marker the next run respects
                    flag = Flag(fid, referral_id, "", "", "", rule, due, "", RESOLVED, on, "", on)
                self.d.flags[fid] = replace(flag, status=RESOLVED, resolved_on=on)

            tx.add(resolve)

    def add_reassignment(self, tx: MemoryTransaction, flag_ids: list[str], after: Referral) -> None:
        for fid in flag_ids:
            tx.add(lambda f=fid: self.d.flags.__setitem__(f, replace(
                self.d.flags[f], provider_org_id=after.provider_org_id, prime_org_id=after.prime_org_id)),
                lambda f=fid: f in self.d.flags and self.d.flags[f].status == OPEN)

    def count_attempt(self, counter_id: str) -> int:
        self.d.attempts[counter_id] = self.d.attempts.get(counter_id, 0) + 1
        return self.d.attempts[counter_id]

    def raise_key_flag(self, flag: Flag) -> None:
        self.d.flags.setdefault(flag.flag_id, flag)

    def flags_page(self, view: str, org_id: str, status: str | None, limit: int, cursor: str | None, *,
                   programme_id: str | None = None, rule: str | None = None, provider_org_id: str | None = None,
                   referral_id: str | None = None) -> tuple[list[Flag], str | None]:
        attr = "provider_org_id" if view == "provider" else "prime_org_id"
        found = [f for f in self.d.flags.values() if getattr(f, attr) == org_id and (f.run_id or f.key_id)
                 and (not status or f.status == status) and (not programme_id or f.programme_id == programme_id)
                 and (not rule or f.rule == rule) and (not provider_org_id or f.provider_org_id == provider_org_id)
                 and (not referral_id or f.referral_id == referral_id)]
        found.sort(key=lambda f: f"{f.status}#{f.due.isoformat()}#{f.flag_id}")
        return _page(found, f"flags:{view}:{org_id}", limit, cursor)

    def _run(self, raw: dict[str, Any]) -> Run:
        counts: dict = {}
        for key in sorted(raw["shard_counts"]):
            counts = merge_counts(counts, raw["shard_counts"][key])
        return Run(raw["run_id"], raw["run_date"], raw["started_at"], raw["finished_at"], tuple(raw["shards_done"]),
                   counts, list(raw["checks"]))

    def get_run(self, run_id: str) -> Run | None:
        raw = self.d.runs.get(run_id)
        return self._run(raw) if raw else None

    def start_run(self, run_id: str, run_date: date, now: datetime) -> Run:
        self.d.runs.setdefault(run_id, {"run_id": run_id, "run_date": run_date, "started_at": now.isoformat(),
                                        "finished_at": None, "shards_done": [], "shard_counts": {}, "checks": []})
        return self._run(self.d.runs[run_id])

    def finish_shard(self, run_id: str, shard: str, counts: dict) -> None:
        raw = self.d.runs[run_id]
        if shard in raw["shards_done"]:  # another run of the date finished it: these counts are kept beside
            self.record_partial(run_id, shard, counts)
            return
        raw["shards_done"].append(shard)
        raw["shard_counts"][shard] = counts

    def record_partial(self, run_id: str, shard: str, counts: dict) -> None:
        raw = self.d.runs[run_id]
        raw["shard_counts"][f"{shard}+{len(raw['shard_counts'])}"] = counts

    def finish_run(self, run_id: str, checks: list[dict], now: datetime) -> None:
        raw = self.d.runs[run_id]
        raw["checks"] = checks
        raw["finished_at"] = now.isoformat()

    def add_stats(self, tx: MemoryTransaction, programme_id: str, org_id: str, increments: dict[str, int]) -> None:
        def add() -> None:
            counters = self.d.stats.setdefault((programme_id, org_id), {})
            for k, v in increments.items():
                counters[k] = counters.get(k, 0) + v

        if increments:
            tx.add(add)

    def programme_stats(self, programme_id: str) -> dict[str, dict[str, int]]:
        names = ("started", "ld_or_autism", "job_starts", "over_8_hours", "over_16_hours")
        return {org: {n: c.get(n, 0) for n in names} for (p, org), c in self.d.stats.items() if p == programme_id}


class SupplyChain:
    def __init__(self, data: Data) -> None:
        self.d = data

    def obligation(self, programme_id: str, period: str, subcontractor_org_id: str) -> Obligation | None:
        return self.d.obligations.get((programme_id, period, subcontractor_org_id))

    def obligations(self, programme_id: str, period: str,
                    subcontractor_org_ids: list[str]) -> dict[str, Obligation | None]:
        return {sub: self.obligation(programme_id, period, sub) for sub in subcontractor_org_ids}

    def put_obligation(self, tx: MemoryTransaction, after: Obligation, before: Obligation | None) -> None:
        key = (after.programme_id, after.period, after.subcontractor_org_id)

        def unchanged() -> bool:
            current = self.d.obligations.get(key)
            return current is None if before is None else current is not None and current.version == before.version

        tx.add(lambda: self.d.obligations.__setitem__(key, after), unchanged)

    def add_pass_through(self, tx: MemoryTransaction, payment: PassThrough) -> None:
        tx.add(lambda: self.d.pass_throughs.append(payment),
               lambda: all(p.pass_through_id != payment.pass_through_id for p in self.d.pass_throughs))

    def chain(self, programme_id: str, period: str) -> tuple[list[Obligation], list[PassThrough]]:
        obligations = [o for (p, m, _), o in sorted(self.d.obligations.items()) if (p, m) == (programme_id, period)]
        return obligations, self.pass_throughs(programme_id, period)

    def pass_throughs(self, programme_id: str, period: str) -> list[PassThrough]:
        return sorted((x for x in self.d.pass_throughs if (x.programme_id, x.period) == (programme_id, period)),
                      key=lambda x: (x.subcontractor_org_id, x.recorded_at, x.pass_through_id))


class Files:
    def __init__(self, data: Data) -> None:
        self.d = data

    def upload(self, key: str, fileobj: BinaryIO) -> None:
        self.d.objects[key] = fileobj.read()

    def download_url(self, key: str, expires_in: int) -> str:
        return f"memory://claim-files/{key}?expires_in={expires_in}"

    def text(self, key: str) -> str:
        return io.BytesIO(self.d.objects[key]).read().decode("utf-8")


class AccessLog:
    def __init__(self, data: Data) -> None:
        self.d = data

    def record(self, entries: Iterable[AccessEntry]) -> None:
        self.d.access_log.extend(entries)

    def add(self, tx: MemoryTransaction, entry: AccessEntry) -> None:
        tx.add(lambda: self.d.access_log.append(entry))

    def page(self, controller_org_id: str, participant_ref: str | None, limit: int,
             cursor: str | None) -> tuple[list[AccessEntry], str | None]:
        mine = sorted((e for e in self.d.access_log if e.controller_org_id == controller_org_id
                       and participant_ref in (None, e.participant_ref)), key=lambda e: e.entry_key, reverse=True)
        return _page(mine, f"access:{controller_org_id}#{participant_ref}", limit, cursor)


def memory_store() -> tuple[Store, Data]:
    """A fresh, empty store and the data behind it (for assertions)."""
    data = Data()
    return Store(transaction=MemoryTransaction, organisations=Organisations(data), referrals=Referrals(data),
                 idempotency=Idempotency(data), lines=Lines(data), claim_files=ClaimFiles(data),
                 compliance=Compliance(data), files=Files(data), validation=Validation(data),
                 supply_chain=SupplyChain(data), access_log=AccessLog(data)), data

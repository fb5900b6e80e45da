"""What the use cases need from persistence, as protocols. The services depend on these, never on DynamoDB.

`chalicelib/store/dynamo.py` implements them on DynamoDB and S3; `tests/fakes/memory.py` implements them in
memory, so the use cases are tested in milliseconds without an AWS emulator. Writes are added to a unit of
work (`Store.transaction()`) and commit together or not at all; each carries the domain error its condition
means (allocation full, already active, concurrent update...).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO, Protocol

from ..domain.access import ApiKeyRecord, Organisation
from ..domain.access_log import AccessEntry
from ..domain.compliance import Flag, PendingWork, Run
from ..domain.idempotency import IdempotencyRecord, Needs
from ..domain.referral import Event, ParticipantRecord, RecordedEvent, Referral
from ..payments.claim_file import ClaimFile
from ..payments.lines import PaymentLine
from ..payments.supply_chain import Obligation, PassThrough
from ..payments.validation import Check, SampleRate


class UnitOfWork(Protocol):
    """The writes of one request: `commit()` applies all of them or none and raises the failed condition's
    domain error; `after_commit` callbacks run only once committed."""

    after_commit: list[Callable[[], None]]

    def commit(self) -> None: ...

    def __len__(self) -> int: ...


class Organisations(Protocol):
    def get(self, org_id: str) -> Organisation | None: ...

    def save(self, org: Organisation) -> None: ...

    def get_key(self, key_hash: str) -> ApiKeyRecord | None: ...

    def save_key(self, key: ApiKeyRecord) -> None: ...


class Referrals(Protocol):
    def get(self, referral_id: str) -> Referral | None: ...

    def get_many(self, referral_ids: list[str]) -> dict[str, Referral]:
        """The referrals that exist of these, by id, in one read."""
        ...

    def page(self, view: str, org_id: str, limit: int, cursor: str | None, *, status: str | None = None,
             programme_id: str | None = None,
             provider_org_id: str | None = None) -> tuple[list[Referral], str | None]:
        """A page of `org_id`'s referrals, newest first, as the referrer, the holder ("provider"), the prime, or
        a mentor or spoke ("party")."""

    def events(self, referral_id: str, limit: int, cursor: str | None) -> tuple[list[RecordedEvent], str | None]: ...

    def participant(self, participant_hash: str) -> ParticipantRecord | None: ...

    def add_new(self, tx: UnitOfWork, referral: Referral, event: Event, actor_org_id: str, actor_key_id: str,
                now: datetime, participant: ParticipantRecord | None, capacity: int | None,
                total_capacity: int | None) -> None: ...

    def add_change(self, tx: UnitOfWork, before: Referral, after: Referral, event: Event, actor_org_id: str,
                   actor_key_id: str, now: datetime) -> None: ...

    def add_incentive_withdrawn(self, tx: UnitOfWork, referral_id: str, incentive_ids: frozenset[str]) -> None:
        """The payer rejected or clawed back an employer incentive: a new version of the referral with it
        withdrawn."""

    def add_flag_raised(self, tx: UnitOfWork, referral_id: str, key: str) -> None:
        """The nightly run flagged a missed deadline (`key`: compliance.flag_key): a new version of the referral
        that records it."""

    def add_party_index(self, tx: UnitOfWork, referral: Referral, org_id: str, roles: tuple[str, ...]) -> None:
        """List `referral` for `org_id`, which now mentors it or takes it as a spoke (view "party")."""

    def add_release(self, tx: UnitOfWork, referral: Referral, participated: bool) -> None: ...

    def add_transfer_places(self, tx: UnitOfWork, programme_id: str, from_org: str, to_org: str,
                            to_capacity: int | None) -> None: ...

    def add_commitment(self, tx: UnitOfWork, programme_id: str, amount: int, contract_value: int) -> None: ...

    def add_referral_counter(self, tx: UnitOfWork, programme_id: str, counter: str) -> None:
        """One more on a programme's named counter (read with allocation_used, as a place count is)."""
        ...

    def allocation_used(self, programme_id: str, org_ids: Iterable[str]) -> dict[str, int]: ...

    def add_counts(self, tx: UnitOfWork, programme_id: str, counts: Mapping[str, int],
                   capped: tuple[str, int] | None = None) -> None:
        """Add to a programme's named counters; `capped` (counter, cap): refused (ClaimRefused
        fund_budget_exceeded) if that counter would go above the cap."""
        ...

    def counts_under(self, programme_id: str, prefix: str) -> dict[str, int]:
        """The programme's named counters starting with `prefix`, read consistently."""
        ...


class Idempotency(Protocol):
    def read_ahead(self, scope_key: str | None, needs: Needs) -> AbstractContextManager[IdempotencyRecord | None]:
        """The idempotency record (None: none, or no key) read in one consistent read with what `needs` names;
        until the block ends, the request's reads of those items answer from that read."""
        ...

    def add(self, tx: UnitOfWork, record: IdempotencyRecord) -> None: ...


class Lines(Protocol):
    def add(self, tx: UnitOfWork, line: PaymentLine, actor: str, now: datetime) -> None: ...

    def get(self, line_id: str) -> PaymentLine | None: ...

    def add_decision(self, tx: UnitOfWork, line: PaymentLine, approve: bool, reason: str | None, actor: str,
                     now: datetime) -> None: ...

    def add_spot_decision(self, tx: UnitOfWork, line: PaymentLine, approve: bool, reason: str | None, actor: str,
                          now: datetime) -> None:
        """A coordinator's decision on a spot purchase pending its approval (Conflict if decided first)."""
        ...

    def page(self, view: str, org_id: str, limit: int, cursor: str | None, *, status: str | None = None,
             programme_id: str | None = None, period: str | None = None,
             payee_org_id: str | None = None) -> tuple[list[PaymentLine], str | None]: ...

    def for_period(self, view: str, org_id: str, period: str) -> Iterator[PaymentLine]: ...

    def of_referral(self, referral_id: str) -> list[PaymentLine]: ...

    def queued(self, programme_id: str, up_to_period: str, owner: str,
               payee: str | None = None) -> Iterator[PaymentLine]: ...

    def lock(self, claim_file_id: str, part: str, lines: list[PaymentLine]) -> None:
        """Lock lines into a file with a part recording them, all or none (ConcurrentUpdate if any was taken or
        changed)."""
        ...

    def parts(self, claim_file_id: str) -> Iterator[list[str]]:
        """The line ids of each committed lock of a file, read consistently."""
        ...

    def get_many(self, line_ids: list[str]) -> list[PaymentLine]: ...

    def in_file(self, claim_file_id: str) -> Iterator[PaymentLine]: ...

    def add_removal(self, tx: UnitOfWork, line: PaymentLine, reason: str, actor: str, now: datetime) -> None: ...


class ClaimFiles(Protocol):
    def get(self, claim_file_id: str) -> ClaimFile | None: ...

    def add(self, tx: UnitOfWork, record: ClaimFile) -> None: ...

    def take_build(self, record: ClaimFile, token: str, now: int, until: int) -> ClaimFile | None: ...

    def record_progress(self, claim_file_id: str, token: str, locked: int) -> None: ...

    def release_build(self, claim_file_id: str, token: str) -> None: ...

    def finish(self, record: ClaimFile, token: str, line_count: int, totals: dict, s3_key: str) -> ClaimFile:
        """Ready, only while `token`'s build holds the file (Conflict otherwise)."""
        ...

    def start_sample(self, record: ClaimFile, seed: str, rate_bp: int, by: str, now: datetime) -> ClaimFile: ...

    def finish_sample(self, record: ClaimFile, size: int) -> ClaimFile: ...

    def add_check_count(self, tx: UnitOfWork, record: ClaimFile, removed: PaymentLine | None) -> None: ...

    def add_payment(self, tx: UnitOfWork, record: ClaimFile, paid_on: date, reference: str, by: str,
                    now: datetime) -> None: ...


class Validation(Protocol):
    """The commissioner's sample rates (with their history) and each claim file's drawn and checked lines."""

    def sample_rate(self, programme_id: str) -> SampleRate | None: ...

    def add_sample_rate(self, tx: UnitOfWork, rate: SampleRate) -> None: ...

    def sample_rate_history(self, programme_id: str, limit: int) -> list[SampleRate]: ...

    def add_drawn(self, checks: list[Check]) -> None: ...

    def check(self, claim_file_id: str, line_id: str) -> Check | None: ...

    def checks_page(self, claim_file_id: str, limit: int, cursor: str | None) -> tuple[list[Check], str | None]: ...

    def all_checks(self, claim_file_id: str) -> Iterator[Check]: ...

    def add_outcome(self, tx: UnitOfWork, check: Check, phase: str, existed: bool) -> None: ...


class SupplyChain(Protocol):
    """What each prime owes its subcontractors once the commissioner paid it, and what it passed on."""

    def obligation(self, programme_id: str, period: str, subcontractor_org_id: str) -> Obligation | None: ...

    def obligations(self, programme_id: str, period: str,
                    subcontractor_org_ids: list[str]) -> dict[str, Obligation | None]: ...

    def put_obligation(self, tx: UnitOfWork, after: Obligation, before: Obligation | None) -> None: ...

    def add_pass_through(self, tx: UnitOfWork, payment: PassThrough) -> None: ...

    def chain(self, programme_id: str, period: str) -> tuple[list[Obligation], list[PassThrough]]: ...

    def pass_throughs(self, programme_id: str, period: str) -> list[PassThrough]: ...


class Compliance(Protocol):
    def add_pending_changes(self, tx: UnitOfWork, puts: Iterable[PendingWork],
                            deletes: Iterable[PendingWork]) -> None: ...

    def due(self, shard: str, on: date) -> Iterator[PendingWork]: ...

    def done_with(self, tx: UnitOfWork, work: PendingWork, still_pending: bool = False) -> None:
        """Delete the item; with `still_pending`, only if it is still there (else WorkSettled)."""

    def add_flag(self, tx: UnitOfWork, work: PendingWork, run_id: str, raised_on: date,
                 action: str | None = None) -> None: ...

    def open_flags(self, referral_id: str) -> list[Flag]: ...

    def add_answers(self, tx: UnitOfWork, referral_id: str, answered: Iterable[tuple[str, date]],
                    on: date) -> None: ...

    def add_reassignment(self, tx: UnitOfWork, flag_ids: list[str], after: Referral) -> None: ...

    def count_attempt(self, counter_id: str) -> int:
        """One more on a counter, written at once (not in a unit of work); the new count."""
        ...

    def raise_key_flag(self, flag: Flag) -> None:
        """An API key's flag, written at once, once."""
        ...

    def flags_page(self, view: str, org_id: str, status: str | None, limit: int, cursor: str | None, *,
                   programme_id: str | None = None, rule: str | None = None, provider_org_id: str | None = None,
                   referral_id: str | None = None) -> tuple[list[Flag], str | None]: ...

    def get_run(self, run_id: str) -> Run | None: ...

    def start_run(self, run_id: str, run_date: date, now: datetime) -> Run: ...

    def finish_shard(self, run_id: str, shard: str, counts: dict) -> None: ...

    def record_partial(self, run_id: str, shard: str, counts: dict) -> None: ...

    def finish_run(self, run_id: str, checks: list[dict], now: datetime) -> None: ...

    def add_stats(self, tx: UnitOfWork, programme_id: str, org_id: str, increments: dict[str, int]) -> None: ...

    def programme_stats(self, programme_id: str) -> dict[str, dict[str, int]]: ...


class AccessLog(Protocol):
    def record(self, entries: Iterable[AccessEntry]) -> None: ...

    def add(self, tx: UnitOfWork, entry: AccessEntry) -> None: ...

    def page(self, controller_org_id: str, participant_ref: str | None, limit: int,
             cursor: str | None) -> tuple[list[AccessEntry], str | None]: ...


class Files(Protocol):
    def upload(self, key: str, fileobj: BinaryIO) -> None: ...

    def download_url(self, key: str, expires_in: int) -> str: ...


@dataclass(frozen=True)
class Store:
    """Everything the use cases persist, behind one value the services receive (see deps.py)."""

    transaction: Callable[[], UnitOfWork]
    organisations: Organisations
    referrals: Referrals
    idempotency: Idempotency
    lines: Lines
    claim_files: ClaimFiles
    compliance: Compliance
    files: Files
    validation: Validation
    supply_chain: SupplyChain
    access_log: AccessLog

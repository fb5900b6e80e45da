"""PynamoDB models: the only description of items outside infra/template.json (a test keeps the two equal)."""
from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from .. import settings
from .connection import SharedModel


class _TableName:
    """Resolved at call time: Chalice sets the stage's environment only during a request."""

    def __init__(self, suffix: str):
        self.suffix = suffix

    def __get__(self, obj, owner) -> str:
        return settings.get().table_name(self.suffix)


class _Region:
    def __get__(self, obj, owner) -> str:
        return settings.get().region


class CompactJSONAttribute(JSONAttribute):
    """JSON without the spaces json.dumps puts after its separators: every byte of an item is paid for on every
    write of it (2 write units per KiB in a transaction)."""

    def serialize(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))


class OrganisationItem(SharedModel):
    class Meta:
        table_name = _TableName("organisations")
        region = _Region()

    org_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute()  # commissioner | prime | local_authority | subcontractor | referrer
    level = NumberAttribute(null=True)
    prime_org_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class ApiKey(SharedModel):
    class Meta:
        table_name = _TableName("api-keys")
        region = _Region()

    key_hash = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute()  # the public, non-secret part shown in audit trails
    org_id = UnicodeAttribute()
    roles = ListAttribute(of=UnicodeAttribute)
    label = UnicodeAttribute()
    created_at = UnicodeAttribute()
    revoked = BooleanAttribute(default=False)


class _AllIndex(GlobalSecondaryIndex):
    """An index that projects whole items: what a listing shows needs no second read."""

    class Meta:
        projection = AllProjection()


class _KeysIndex(GlobalSecondaryIndex):
    """An index of keys only, for an item rewritten on every change: a write that leaves the index's keys as they
    were writes nothing to the index (an index projecting the whole item is rewritten, and paid for, each time).
    A listing reads the items themselves in one consistent batch."""

    class Meta:
        projection = KeysOnlyProjection()


class ByReferrer(_KeysIndex):
    class Meta(_KeysIndex.Meta):
        index_name = "by-referrer"

    referrer_org_id = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute(range_key=True)


class ByProvider(_KeysIndex):
    class Meta(_KeysIndex.Meta):
        index_name = "by-provider"

    provider_org_id = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute(range_key=True)


class ByPrime(_KeysIndex):
    class Meta(_KeysIndex.Meta):
        index_name = "by-prime"

    prime_org_id = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute(range_key=True)


class ReferralItem(SharedModel):
    class Meta:
        table_name = _TableName("referrals")
        region = _Region()

    referral_id = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute()  # created_at + id: newest-first listing on every index
    programme_id = UnicodeAttribute()
    status = UnicodeAttribute()
    status_reason = UnicodeAttribute(null=True)
    version = NumberAttribute()
    referrer_org_id = UnicodeAttribute()
    provider_org_id = UnicodeAttribute()
    prime_org_id = UnicodeAttribute()
    participant_hash = UnicodeAttribute()  # keyed hash (HMAC) of the NINO: the duplicate look-up, never the NINO
    # Nothing in the item is personal: the personal fields are a SealedFieldsItem of their own.
    erased_on = UnicodeAttribute(null=True)
    support_level = UnicodeAttribute()
    referred_on = UnicodeAttribute()
    created_at = UnicodeAttribute()
    consent_given_on = UnicodeAttribute()
    module_id = UnicodeAttribute(null=True)
    module_since = UnicodeAttribute(null=True)
    accepted_on = UnicodeAttribute(null=True)
    started_on = UnicodeAttribute(null=True)
    assessed_on = UnicodeAttribute(null=True)
    action_plan_on = UnicodeAttribute(null=True)
    last_review_on = UnicodeAttribute(null=True)
    extra_reviews_on = CompactJSONAttribute(null=True)
    job_start = CompactJSONAttribute(null=True)
    sustainments = CompactJSONAttribute(null=True)
    progression_on = UnicodeAttribute(null=True)
    closed_on = UnicodeAttribute(null=True)
    exit_reason = UnicodeAttribute(null=True)
    previous_referral_id = UnicodeAttribute(null=True)
    notes_ref = UnicodeAttribute(null=True)
    milestones_earned = ListAttribute(of=UnicodeAttribute, null=True)
    parties = CompactJSONAttribute(default=list)  # every organisation on the journey in its role (domain/parties.py)
    agreed_price_pence = NumberAttribute(null=True)
    agreed_activity = UnicodeAttribute(null=True)
    contacts = CompactJSONAttribute(null=True)  # mentoring contacts
    eligibility_decision = CompactJSONAttribute(null=True)
    leaver = CompactJSONAttribute(null=True)  # a leaver not in work, tracked after the exit
    late_approvals = CompactJSONAttribute(null=True)
    module_extension = CompactJSONAttribute(null=True)
    barriers = CompactJSONAttribute(null=True)  # the action plan's barriers: id -> category (no personal data)
    support_costs = CompactJSONAttribute(null=True)  # in-work support costs identified in assessments: id -> pence
    incentives = CompactJSONAttribute(null=True)  # employer incentives agreed in brokerage, by id
    withdrawn_incentives = UnicodeSetAttribute(null=True)  # of those, rejected or clawed back by the payer
    flagged = UnicodeSetAttribute(null=True)  # the open flags of missed deadlines, "rule@due"

    by_referrer = ByReferrer()
    by_provider = ByProvider()
    by_prime = ByPrime()


class ReferralPartyItem(SharedModel):
    """The party index: one item per organisation and referral it mentors or takes as a spoke, so it lists
    those referrals (the referral's own indexes list the referrer's, the holder's and the prime's). Written in
    the same transaction as the referral's change that adds the party; the referral itself says whether the party
    is still active."""

    class Meta:
        table_name = _TableName("referral-parties")
        region = _Region()

    org_id = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute(range_key=True)  # the referral's created_at + id: newest first
    referral_id = UnicodeAttribute()
    programme_id = UnicodeAttribute()
    roles = ListAttribute(of=UnicodeAttribute, default=list)


class ReferralEventItem(SharedModel):
    class Meta:
        table_name = _TableName("referral-events")
        region = _Region()

    referral_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)  # equals the referral's version after the change
    type = UnicodeAttribute()
    occurred_on = UnicodeAttribute()
    recorded_at = UnicodeAttribute()
    actor_org_id = UnicodeAttribute()
    actor_key_id = UnicodeAttribute()
    from_status = UnicodeAttribute(null=True)
    to_status = UnicodeAttribute()
    data = JSONAttribute(default=dict)


class ParticipantItem(SharedModel):
    """One item per person (keyed by the hashed NINO): which referral holds them now, and their history."""

    class Meta:
        table_name = _TableName("participants")
        region = _Region()

    participant_hash = UnicodeAttribute(hash_key=True)
    active_referral_id = UnicodeAttribute(null=True)
    programmes = ListAttribute(of=UnicodeAttribute, default=list)
    referrals = ListAttribute(of=UnicodeAttribute, default=list)
    version = NumberAttribute()


class SealedFieldsItem(SharedModel):
    """A referral's personal fields (NINO, names, date of birth, postcode, eligibility answers), encrypted under
    the KMS key (store/sealing.py), in an item of their own beside the person's record (key `sealed#<referral
    id>`): written when the referral is made and deleted when its personal fields are erased, never by a journey
    step, so the referral each step rewrites stays small. Read with the referral, in the same batch read."""

    class Meta:
        table_name = _TableName("participants")
        region = _Region()

    participant_hash = UnicodeAttribute(hash_key=True)  # sealed#<referral id>
    referral_id = UnicodeAttribute()
    participant_sealed = BinaryAttribute(legacy_encoding=False)


class AllocationItem(SharedModel):
    """Places used per programme and delivery organisation; org_id '*' is the programme's total."""

    class Meta:
        table_name = _TableName("allocations")
        region = _Region()

    programme_id = UnicodeAttribute(hash_key=True)
    org_id = UnicodeAttribute(range_key=True)
    used = NumberAttribute(default=0)


class ProgrammeStatsItem(SharedModel):
    """Counters per programme and delivery organisation for the programme-level checks (org_id 'stats#<org>'),
    kept in the allocations table and updated in the same transaction as the journey step they count."""

    class Meta:
        table_name = _TableName("allocations")
        region = _Region()

    programme_id = UnicodeAttribute(hash_key=True)
    org_id = UnicodeAttribute(range_key=True)
    started = NumberAttribute(default=0)
    ld_or_autism = NumberAttribute(default=0)
    job_starts = NumberAttribute(default=0)
    over_8_hours = NumberAttribute(default=0)
    over_16_hours = NumberAttribute(default=0)
    recorded_late = NumberAttribute(default=0)  # steps (and referrals) recorded a working day or more late
    recorded_beyond_limit = NumberAttribute(default=0)  # of them, beyond the late-recording limit (approved)


class IdempotencyItem(SharedModel):
    class Meta:
        table_name = _TableName("idempotency")
        region = _Region()

    scope_key = UnicodeAttribute(hash_key=True)  # organisation + Idempotency-Key
    fingerprint = UnicodeAttribute()
    status_code = NumberAttribute()
    resource_kind = UnicodeAttribute(null=True)  # what the write made or changed (never a response body)
    resource_ids = ListAttribute(of=UnicodeAttribute, default=list)
    location = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute()


class LinesByPayee(_AllIndex):
    class Meta(_AllIndex.Meta):
        index_name = "by-payee"

    payee_org_id = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute(range_key=True)


class LinesByPrime(_AllIndex):
    class Meta(_AllIndex.Meta):
        index_name = "by-prime"

    prime_org_id = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute(range_key=True)


class LinesByPayer(_AllIndex):
    """Sparse: a match-funded line has no payer."""

    class Meta(_AllIndex.Meta):
        index_name = "by-payer"

    payer_org_id = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute(range_key=True)


class FileQueue(_AllIndex):
    """Sparse: only approved lines not yet in a claim file carry these attributes."""

    class Meta(_AllIndex.Meta):
        index_name = "file-queue"

    queue_programme_id = UnicodeAttribute(hash_key=True)
    queue_key = UnicodeAttribute(range_key=True)


class LinesByFile(_AllIndex):
    class Meta(_AllIndex.Meta):
        index_name = "by-file"

    claim_file_id = UnicodeAttribute(hash_key=True)
    line_id = UnicodeAttribute(range_key=True)


class LinesByReferral(_AllIndex):
    class Meta(_AllIndex.Meta):
        index_name = "by-referral"

    referral_id = UnicodeAttribute(hash_key=True)
    line_id = UnicodeAttribute(range_key=True)


class PaymentLineItem(SharedModel):
    """A payment line. Its id is deterministic (referral + milestone), so a milestone is paid at most once."""

    class Meta:
        table_name = _TableName("payment-lines")
        region = _Region()

    line_id = UnicodeAttribute(hash_key=True)
    listed_at = UnicodeAttribute()  # period + line id
    referral_id = UnicodeAttribute()
    programme_id = UnicodeAttribute()
    participant_ref = UnicodeAttribute()
    kind = UnicodeAttribute()  # earned | claim | clawback
    fee_id = UnicodeAttribute()
    milestone = UnicodeAttribute()
    funder = UnicodeAttribute()
    funder_org_id = UnicodeAttribute(null=True)
    payee_org_id = UnicodeAttribute()
    payee_role = UnicodeAttribute(null=True)  # referrer | mentor | deliverer (absent: deliverer)
    contact_ids = ListAttribute(of=UnicodeAttribute, default=list)  # a mentoring claim's evidence
    payee_kind = UnicodeAttribute(null=True)  # organisation | employer (absent: organisation)
    payee_name = UnicodeAttribute(null=True)  # an employer's name (an organisation outside the chain)
    category = UnicodeAttribute(null=True)  # a flexible-fund spend's category
    barrier_id = UnicodeAttribute(null=True)  # the action plan's barrier a spend removes
    requested_by = UnicodeAttribute(null=True)  # the key that recorded a spot purchase
    authority_org_id = UnicodeAttribute(null=True)  # an employer incentive's: the fund authority counting it
    prime_org_id = UnicodeAttribute()
    payer_org_id = UnicodeAttribute(null=True)  # whose finance approves it; none for match funding
    management_fee_bp = NumberAttribute(default=0)
    amount_pence = NumberAttribute()
    prime_retained_pence = NumberAttribute(default=0)
    payee_net_pence = NumberAttribute()
    status = UnicodeAttribute()  # submitted | approved | rejected | filed | match_funding | removed
    event_date = UnicodeAttribute()
    last_day_on_provision = UnicodeAttribute(null=True)
    period = UnicodeAttribute()  # YYYY-MM of the event
    line_ref = UnicodeAttribute(null=True)
    provider_ref = UnicodeAttribute(null=True)
    evidence_ref = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    reverses_line_id = UnicodeAttribute(null=True)
    reversed_by_line_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    decided_at = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    claim_file_id = UnicodeAttribute(null=True)
    queue_programme_id = UnicodeAttribute(null=True)
    queue_key = UnicodeAttribute(null=True)
    version = NumberAttribute(default=1)

    by_payee = LinesByPayee()
    by_prime = LinesByPrime()
    by_payer = LinesByPayer()
    file_queue = FileQueue()
    by_file = LinesByFile()
    by_referral = LinesByReferral()


class ClaimFileItem(SharedModel):
    class Meta:
        table_name = _TableName("claim-files")
        region = _Region()

    claim_file_id = UnicodeAttribute(hash_key=True)  # programme + period + payee: cutting again finds it
    programme_id = UnicodeAttribute()
    period = UnicodeAttribute()
    payee_org_id = UnicodeAttribute(null=True)
    owner_org_id = UnicodeAttribute()
    status = UnicodeAttribute()  # building | ready
    line_count = NumberAttribute(default=0)
    totals = JSONAttribute(default=dict)
    s3_key = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    # The commissioner's validation: the sample's seed and rate (recorded first), its size once drawn, the
    # lines checked, and the lines removed before payment.
    sample_seed = UnicodeAttribute(null=True)
    sample_rate_bp = NumberAttribute(null=True)
    sample_size = NumberAttribute(null=True)
    sample_checked = NumberAttribute(default=0)
    sampled_by = UnicodeAttribute(null=True)
    sampled_at = UnicodeAttribute(null=True)
    removed_line_count = NumberAttribute(default=0)
    removed_pence = NumberAttribute(default=0)
    paid_on = UnicodeAttribute(null=True)
    paid_pence = NumberAttribute(null=True)
    paid_reference = UnicodeAttribute(null=True)
    paid_by = UnicodeAttribute(null=True)
    paid_at = UnicodeAttribute(null=True)
    # The build: which worker holds it (token) until when (epoch seconds), and the lines it has locked so far.
    build_token = UnicodeAttribute(null=True)
    build_until = NumberAttribute(null=True)
    locked_lines = NumberAttribute(null=True)


class _PaymentRecord(SharedModel):
    """The payment-records table: what the commissioner and the primes record about money beyond the lines.
    `pk` scopes a small collection (a programme's sample rate, one claim file's checks, one programme and
    period of a supply chain); `sk` orders it."""

    class Meta:
        table_name = _TableName("payment-records")
        region = _Region()

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class SampleRateItem(_PaymentRecord):
    """pk `sample-rate#<programme>`; sk `current`, and `<set_at>#<key id>` for each change (the audit trail). The
    current rate also holds the changes before it, newest first, as many as the history shows (`recent`), so the
    rate and its history are one item: a change reads it with its idempotency record, and writes it (rarely: a
    commissioner sets a rate a few times a year)."""

    programme_id = UnicodeAttribute()
    rate_bp = NumberAttribute()
    set_by_org_id = UnicodeAttribute()
    set_by_key_id = UnicodeAttribute()
    set_at = UnicodeAttribute()
    recent = CompactJSONAttribute(null=True)  # on `current` only: [[rate_bp, org, key id, set_at], ...]


class LineCheckItem(_PaymentRecord):
    """pk `checks#<claim file>`; sk the line id: drawn for the sample, and what each check found."""

    claim_file_id = UnicodeAttribute()
    line_id = UnicodeAttribute()
    payee_org_id = UnicodeAttribute()
    amount_pence = NumberAttribute()
    payee_net_pence = NumberAttribute()
    drawn = BooleanAttribute(default=True)
    before_payment = JSONAttribute(null=True)
    after_payment = JSONAttribute(null=True)


class ObligationItem(_PaymentRecord):
    """pk `chain#<programme>#<period>`; sk `owed#<subcontractor>`: what its prime owes it from the files the
    commissioner paid, and what the prime passed on."""

    programme_id = UnicodeAttribute()
    period = UnicodeAttribute()
    prime_org_id = UnicodeAttribute()
    subcontractor_org_id = UnicodeAttribute()
    owed_pence = NumberAttribute(default=0)
    commissioner_paid_on = UnicodeAttribute(null=True)
    due_on = UnicodeAttribute(null=True)
    passed_pence = NumberAttribute(default=0)
    first_passed_on = UnicodeAttribute(null=True)
    last_passed_on = UnicodeAttribute(null=True)
    settled_on = UnicodeAttribute(null=True)
    paid_files = ListAttribute(of=UnicodeAttribute, default=list)
    version = NumberAttribute()


class PassThroughItem(_PaymentRecord):
    """pk `chain#<programme>#<period>`; sk `pass-through#<subcontractor>#<recorded at>#<id>`: a payment the prime
    passed on."""

    pass_through_id = UnicodeAttribute()
    programme_id = UnicodeAttribute()
    period = UnicodeAttribute()
    prime_org_id = UnicodeAttribute()
    subcontractor_org_id = UnicodeAttribute()
    amount_pence = NumberAttribute()
    paid_on = UnicodeAttribute()
    reference = UnicodeAttribute()
    line_ids = ListAttribute(of=UnicodeAttribute, default=list)
    recorded_by = UnicodeAttribute()
    recorded_at = UnicodeAttribute()


class FilePartItem(_PaymentRecord):
    """pk `file-parts#<claim file>`; sk `<build token>#<n>`: the lines one lock of a claim file's build took,
    written in the same transaction as the lock, so a build that takes over from a stopped one knows, by a
    consistent read of the table itself, every line already in the file."""

    claim_file_id = UnicodeAttribute()
    line_ids = ListAttribute(of=UnicodeAttribute, default=list)


class PendingWorkItem(SharedModel):
    """What a nightly run must act on: one item per pending deadline or tranche of a referral.

    Partitioned by shard; sorted by the day it needs action, so a run reads exactly the items due."""

    class Meta:
        table_name = _TableName("pending-work")
        region = _Region()

    shard = UnicodeAttribute(hash_key=True)
    work_key = UnicodeAttribute(range_key=True)  # act_on + referral id + rule
    referral_id = UnicodeAttribute()
    programme_id = UnicodeAttribute()
    provider_org_id = UnicodeAttribute()
    prime_org_id = UnicodeAttribute()
    rule = UnicodeAttribute()
    due = UnicodeAttribute()
    act_on = UnicodeAttribute()
    description = UnicodeAttribute()
    # What a tranche's payment line needs, so a run reads nothing but the due items themselves:
    participant_ref = UnicodeAttribute(null=True)
    management_fee_bp = NumberAttribute(default=0)
    amount_pence = NumberAttribute(default=0)
    funder = UnicodeAttribute(null=True)


class FlagsByProvider(_AllIndex):
    class Meta(_AllIndex.Meta):
        index_name = "by-provider"

    provider_org_id = UnicodeAttribute(hash_key=True)
    flag_sort = UnicodeAttribute(range_key=True)


class FlagsByPrime(_AllIndex):
    class Meta(_AllIndex.Meta):
        index_name = "by-prime"

    prime_org_id = UnicodeAttribute(hash_key=True)
    flag_sort = UnicodeAttribute(range_key=True)


class FlagsByReferral(_AllIndex):
    class Meta(_AllIndex.Meta):
        index_name = "by-referral"

    referral_id = UnicodeAttribute(hash_key=True)
    flag_id = UnicodeAttribute(range_key=True)


class FlagItem(SharedModel):
    """A missed deadline (or a participant due to exit). Resolves itself when the missing event is recorded."""

    class Meta:
        table_name = _TableName("flags")
        region = _Region()

    flag_id = UnicodeAttribute(hash_key=True)  # referral + rule + due date: a run raises it once
    flag_sort = UnicodeAttribute()  # status + raised on + id: open flags first, newest first within
    referral_id = UnicodeAttribute(null=True)  # (none on a key's flag)
    programme_id = UnicodeAttribute(null=True)
    provider_org_id = UnicodeAttribute()
    prime_org_id = UnicodeAttribute()
    rule = UnicodeAttribute()
    due = UnicodeAttribute()
    description = UnicodeAttribute()
    status = UnicodeAttribute()  # open | resolved
    raised_on = UnicodeAttribute()
    run_id = UnicodeAttribute(null=True)
    resolved_on = UnicodeAttribute(null=True)
    action = UnicodeAttribute(null=True)  # what the run did beyond flagging (e.g. closed the referral)
    key_id = UnicodeAttribute(null=True)  # an API key's flag: the key
    # A key's count of person-held refusals in a day: an item of its own (attempts#key#day), in no index.
    attempts = NumberAttribute(null=True)

    by_provider = FlagsByProvider()
    by_prime = FlagsByPrime()
    by_referral = FlagsByReferral()


class RunItem(SharedModel):
    """One nightly run: which shards are done and what it found, per rule and provider."""

    class Meta:
        table_name = _TableName("runs")
        region = _Region()

    run_id = UnicodeAttribute(hash_key=True)  # job + run date
    run_date = UnicodeAttribute()
    started_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    shards_done = ListAttribute(of=UnicodeAttribute, default=list)
    # shard (or shard+invocation) -> JSON of what one invocation found there: written without reading, merged
    # when the run is read
    shard_counts: MapAttribute = MapAttribute(default=dict)
    checks = JSONAttribute(default=list)


class AccessByParticipant(_AllIndex):
    class Meta(_AllIndex.Meta):
        index_name = "by-participant"

    participant_key = UnicodeAttribute(hash_key=True)  # controller + pseudonymous reference
    entry_key = UnicodeAttribute(range_key=True)


class AccessLogItem(SharedModel):
    """Who read which participant's personal fields, and when: never the fields themselves."""

    class Meta:
        table_name = _TableName("access-log")
        region = _Region()

    controller_org_id = UnicodeAttribute(hash_key=True)  # the programme's commissioner
    entry_key = UnicodeAttribute(range_key=True)  # read at + entry id: newest first per controller
    participant_key = UnicodeAttribute()
    participant_ref = UnicodeAttribute()
    referral_id = UnicodeAttribute()
    reader_org_id = UnicodeAttribute()
    reader_key_id = UnicodeAttribute()
    what = UnicodeAttribute()
    read_at = UnicodeAttribute()
    entry_id = UnicodeAttribute()

    by_participant = AccessByParticipant()


ALL_MODELS = (OrganisationItem, ApiKey, ReferralItem, ReferralPartyItem, ReferralEventItem, ParticipantItem,
              SealedFieldsItem, AllocationItem, IdempotencyItem, PaymentLineItem, ClaimFileItem, PendingWorkItem,
              FlagItem, RunItem, ProgrammeStatsItem, SampleRateItem, LineCheckItem, ObligationItem, PassThroughItem,
              AccessLogItem)

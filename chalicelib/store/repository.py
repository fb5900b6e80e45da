"""Reads and transactional writes for organisations, keys, referrals, people, places and idempotency records.

The only module that turns these items into domain objects and back. Writes are added to a `Transaction` so a
request commits all of them or none; each carries the domain error its condition means.
"""
from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import asdict
from datetime import date, datetime
from typing import Any, cast

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, PynamoDBException

from .. import settings
from ..domain import cursors
from ..domain.access import ApiKeyRecord, Organisation
from ..domain.errors import (
    ClaimRefused,
    FieldError,
    IdempotencyKeyTaken,
    ReferralRefused,
    ServiceUnavailable,
    ValidationFailed,
)
from ..domain.idempotency import IdempotencyRecord, Needs, Resource
from ..domain.journey import already_active
from ..domain.parties import DELIVERER, REFERRER, Contact, Party
from ..domain.referral import Event, Participant, ParticipantRecord, RecordedEvent, Referral
from . import sealing
from .models import (
    AllocationItem,
    ApiKey,
    ClaimFileItem,
    IdempotencyItem,
    OrganisationItem,
    ParticipantItem,
    PaymentLineItem,
    ReferralEventItem,
    ReferralItem,
    ReferralPartyItem,
    SealedFieldsItem,
)
from .transaction import Transaction, aws_error_code, is_busy, low_level_client, translate_read_error

PROGRAMME_TOTAL = "*"
CONTRACT_VALUE = "$contract-value"  # pence committed against the programme's contract value


# The items a write read ahead with its idempotency record (read_ahead), by model and key: a consistent read of
# this request's (each request runs in a context of its own), None where the item does not exist.
_READ_AHEAD: ContextVar[dict[tuple[Any, Any], Any] | None] = ContextVar("refpay_read_ahead", default=None)


def _nameable(*key: Any) -> bool:
    """Whether the key can name an item (DynamoDB rejects an empty or oversized one)."""
    return all(key) and not any(len(str(k).encode()) > 1024 for k in key)


def get_item(model: Any, *key: Any, consistent: bool = True) -> Any:
    if not _nameable(*key):
        return None
    ahead = _READ_AHEAD.get()
    named = key[0] if len(key) == 1 else key
    if consistent and ahead is not None and (model, named) in ahead:
        return ahead[(model, named)]
    try:
        return model.get(*key, consistent_read=consistent)
    except DoesNotExist:
        return None
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def strings(values: Any) -> tuple[str, ...]:
    """A list attribute's values as strings (PynamoDB types them as attributes)."""
    return tuple(str(v) for v in values or ())


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


# ------------------------------------------------------------------ organisations and keys


def _organisation(item: OrganisationItem) -> Organisation:
    return Organisation(org_id=item.org_id, name=item.name, kind=item.kind, created_at=item.created_at,
                        level=int(item.level) if item.level is not None else None, prime_org_id=item.prime_org_id)


def get_organisation(org_id: str) -> Organisation | None:
    item = get_item(OrganisationItem, org_id, consistent=False)
    return _organisation(item) if item else None


def save_organisation(org: Organisation) -> None:
    OrganisationItem(**asdict(org)).save()


def _api_key(item: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(key_hash=item.key_hash, key_id=item.key_id, org_id=item.org_id, roles=strings(item.roles),
                        label=item.label, created_at=item.created_at, revoked=bool(item.revoked))


def get_api_key(key_hash: str) -> ApiKeyRecord | None:
    item = get_item(ApiKey, key_hash, consistent=False)
    return _api_key(item) if item else None


def save_api_key(key: ApiKeyRecord) -> None:
    data = asdict(key)
    data["roles"] = list(key.roles)
    ApiKey(**data).save(condition=ApiKey.key_hash.does_not_exist())


# ------------------------------------------------------------------ referrals: mapping


def _party(raw: dict) -> Party:
    return Party(org_id=raw["org_id"], role=raw["role"], since=date.fromisoformat(raw["since"]),
                 added_by=raw["added_by"], until=_d(raw.get("until")), end_reason=raw.get("end_reason"),
                 handover_ref=raw.get("handover_ref"))


def _party_json(p: Party) -> dict:
    return _present({"org_id": p.org_id, "role": p.role, "since": p.since.isoformat(), "added_by": p.added_by,
                     "until": _iso(p.until), "end_reason": p.end_reason, "handover_ref": p.handover_ref})


def _present(values: dict) -> dict:
    """The values that are set: an unset one is left out of the item (every byte is paid for on each write)."""
    return {k: v for k, v in values.items() if v is not None}


def _or_none(collection: Any) -> Any:
    """An empty collection as None, so the item leaves it out (it reads back empty)."""
    return collection or None


def _contact(raw: dict) -> Contact:
    return Contact(id=raw["id"], org_id=raw["org_id"], on=date.fromisoformat(raw["on"]), minutes=int(raw["minutes"]),
                   mode=raw["mode"], notes_ref=raw.get("notes_ref"))


def _contact_json(c: Contact) -> dict:
    return _present({"id": c.id, "org_id": c.org_id, "on": c.on.isoformat(), "minutes": c.minutes, "mode": c.mode,
                     "notes_ref": c.notes_ref})


def _parties_of(item: ReferralItem) -> tuple[Party, ...]:
    """The referral's parties; an item written before parties were kept has its referrer and holder."""
    if item.parties:
        return tuple(_party(p) for p in item.parties)
    referred = date.fromisoformat(item.referred_on)
    return (Party(item.referrer_org_id, REFERRER, referred, item.referrer_org_id),
            Party(item.provider_org_id, DELIVERER, referred, item.referrer_org_id))


def _participant(referral_id: str, sealed: SealedFieldsItem | None) -> Participant | None:
    if sealed is None:
        return None  # erased
    p = sealing.open_sealed(referral_id, sealed.participant_sealed)
    return Participant(
        nino=p["nino"], given_name=p["given_name"], family_name=p["family_name"],
        date_of_birth=date.fromisoformat(p["date_of_birth"]), postcode=p["postcode"],
        eligibility=p.get("eligibility") or {})


def to_referral(item: ReferralItem, sealed: SealedFieldsItem | None) -> Referral:
    """The referral from its item and its sealed personal fields' (None: erased)."""
    participant = _participant(item.referral_id, sealed)
    return Referral(
        id=item.referral_id, programme_id=item.programme_id, status=item.status, version=int(item.version),
        referrer_org_id=item.referrer_org_id, provider_org_id=item.provider_org_id,
        prime_org_id=item.prime_org_id, participant_hash=item.participant_hash, participant=participant,
        support_level=item.support_level, referred_on=date.fromisoformat(item.referred_on),
        created_at=datetime.fromisoformat(item.created_at), consent_given_on=date.fromisoformat(item.consent_given_on),
        status_reason=item.status_reason,
        module_id=item.module_id, module_since=_d(item.module_since), accepted_on=_d(item.accepted_on),
        started_on=_d(item.started_on), assessed_on=_d(item.assessed_on), action_plan_on=_d(item.action_plan_on),
        last_review_on=_d(item.last_review_on), extra_reviews_on=dict(item.extra_reviews_on or {}),
        job_start=item.job_start, sustainments=dict(item.sustainments or {}), progression_on=_d(item.progression_on),
        closed_on=_d(item.closed_on), exit_reason=item.exit_reason, previous_referral_id=item.previous_referral_id,
        notes_ref=item.notes_ref, milestones_earned=strings(item.milestones_earned), parties=_parties_of(item),
        agreed_price_pence=int(item.agreed_price_pence) if item.agreed_price_pence is not None else None,
        agreed_activity=item.agreed_activity, contacts=tuple(_contact(c) for c in item.contacts or ()),
        eligibility_decision=item.eligibility_decision, leaver=item.leaver,
        late_approvals=dict(item.late_approvals or {}),
        module_extension=item.module_extension, erased_on=_d(item.erased_on),
        barriers=dict(item.barriers or {}), support_costs={k: int(v) for k, v in (item.support_costs or {}).items()},
        incentives=dict(item.incentives or {}), withdrawn_incentives=tuple(sorted(item.withdrawn_incentives or ())),
        flagged=tuple(sorted(item.flagged or ())))


def sealed_key(referral_id: str) -> str:
    return f"sealed#{referral_id}"


def sealed_item(r: Referral) -> SealedFieldsItem | None:
    """The referral's personal fields, sealed, as their own item (None: erased)."""
    if r.participant is None:
        return None
    participant = asdict(r.participant)
    participant["date_of_birth"] = r.participant.date_of_birth.isoformat()
    return SealedFieldsItem(participant_hash=sealed_key(r.id), referral_id=r.id,
                            participant_sealed=sealing.seal(r.id, participant))


def to_item(r: Referral) -> ReferralItem:
    """The referral's item: what is unset or empty is left out (each step rewrites the whole item)."""
    return ReferralItem(
        referral_id=r.id, listed_at=f"{r.created_at.isoformat()}#{r.id}", programme_id=r.programme_id,
        status=r.status, status_reason=r.status_reason, version=r.version, referrer_org_id=r.referrer_org_id,
        provider_org_id=r.provider_org_id, prime_org_id=r.prime_org_id, participant_hash=r.participant_hash,
        support_level=r.support_level,
        referred_on=r.referred_on.isoformat(),
        created_at=r.created_at.isoformat(), consent_given_on=r.consent_given_on.isoformat(),
        module_id=r.module_id, module_since=_iso(r.module_since),
        accepted_on=_iso(r.accepted_on), started_on=_iso(r.started_on), assessed_on=_iso(r.assessed_on),
        action_plan_on=_iso(r.action_plan_on), last_review_on=_iso(r.last_review_on),
        extra_reviews_on=_or_none(dict(r.extra_reviews_on)), job_start=r.job_start,
        sustainments=_or_none(dict(r.sustainments)),
        progression_on=_iso(r.progression_on), closed_on=_iso(r.closed_on), exit_reason=r.exit_reason,
        previous_referral_id=r.previous_referral_id, notes_ref=r.notes_ref,
        milestones_earned=_or_none(list(r.milestones_earned)), parties=[_party_json(p) for p in r.parties],
        agreed_price_pence=r.agreed_price_pence, agreed_activity=r.agreed_activity,
        contacts=_or_none([_contact_json(c) for c in r.contacts]), eligibility_decision=r.eligibility_decision,
        leaver=r.leaver, late_approvals=_or_none(dict(r.late_approvals)),
        module_extension=r.module_extension, erased_on=_iso(r.erased_on), barriers=_or_none(dict(r.barriers)),
        support_costs=_or_none(dict(r.support_costs)), incentives=_or_none(dict(r.incentives)),
        withdrawn_incentives=set(r.withdrawn_incentives) or None, flagged=set(r.flagged) or None)


def _recorded(item: ReferralEventItem) -> RecordedEvent:
    return RecordedEvent(
        referral_id=item.referral_id, seq=int(item.seq), type=item.type,
        occurred_on=date.fromisoformat(item.occurred_on),
        recorded_at=datetime.fromisoformat(item.recorded_at), actor_org_id=item.actor_org_id,
        actor_key_id=item.actor_key_id, from_status=item.from_status, to_status=item.to_status, data=item.data or {})


# ------------------------------------------------------------------ referrals: reads


def get_referral(referral_id: str) -> Referral | None:
    """The referral, read consistently with its personal fields (one batch read, or the request's read ahead)."""
    if not _nameable(referral_id):
        return None
    return _referral_in(_ahead_or_read(_referral_keys([referral_id])), referral_id)


def _referral_keys(ids: Iterable[str]) -> list[tuple[Any, str]]:
    return [key for i in ids for key in ((ReferralItem, i), (SealedFieldsItem, sealed_key(i)))]


def _referral_in(found: dict[tuple[Any, str], Any], referral_id: str) -> Referral | None:
    item = found.get((ReferralItem, referral_id))
    return to_referral(item, found.get((SealedFieldsItem, sealed_key(referral_id)))) if item else None


_INDEXES = {"referrer": ReferralItem.by_referrer, "provider": ReferralItem.by_provider,
            "prime": ReferralItem.by_prime}


def list_referrals(view: str, org_id: str, limit: int, cursor: str | None,
                   status: str | None = None, programme_id: str | None = None,
                   provider_org_id: str | None = None) -> tuple[list[Referral], str | None]:
    """One page of the organisation's referrals, newest first: a page of the index designed for its role (keys
    only), then the referrals themselves in one strongly consistent batch read. The filters apply to the
    referrals, so a filtered page may hold fewer than `limit` (the cursor goes on from where the page ended)."""
    if view == "party":
        return _list_as_party(org_id, limit, cursor, status, programme_id, provider_org_id)
    if view == "provider" and provider_org_id not in (None, org_id):
        return [], None  # the index's own key: the organisation queried holds them all
    entries, next_cursor = query_page(_INDEXES[view], org_id, f"{view}:{org_id}", limit, cursor,
                                      scan_index_forward=False)
    return _matching(entries, status, programme_id, provider_org_id), next_cursor


def _list_as_party(org_id: str, limit: int, cursor: str | None, status: str | None, programme_id: str | None,
                   provider_org_id: str | None) -> tuple[list[Referral], str | None]:
    """The referrals the organisation mentors or takes as a spoke: a page of the party index (the partition is the
    organisation's), then the referrals themselves, filtered, as `list_referrals` reads them."""
    condition = all_equal((ReferralPartyItem.programme_id, programme_id))
    entries, next_cursor = query_page(ReferralPartyItem, org_id, f"party:{org_id}", limit, cursor,
                                      filter_condition=condition, scan_index_forward=False)
    return _matching(entries, status, None, provider_org_id), next_cursor


def _matching(entries: list, status: str | None, programme_id: str | None,
              provider_org_id: str | None) -> list[Referral]:
    """The referrals the index entries name, in their order, that have the status, programme and provider asked
    for (each filter only where given)."""
    found = referrals_by_id([e.referral_id for e in entries])
    wanted = [found[e.referral_id] for e in entries if e.referral_id in found]
    return [r for r in wanted if (not status or r.status == status)
            and (not programme_id or r.programme_id == programme_id)
            and (not provider_org_id or r.provider_org_id == provider_org_id)]


def referrals_by_id(ids: list[str]) -> dict[str, Referral]:
    """The referrals (with their personal fields) in consistent batch reads; absent ones left out."""
    unique = [i for i in dict.fromkeys(ids) if _nameable(i)]
    found = _batch_get_consistent(_referral_keys(unique)) if unique else {}
    return {i: r for i in unique if (r := _referral_in(found, i)) is not None}


def query_page(source: Any, hash_key: str, scope: str, limit: int, cursor: str | None, range_condition: Any = None,
               filter_condition: Any = None, scan_index_forward: bool = True) -> tuple[list, str | None]:
    """One page of a table's or index's query, continuing from a signed cursor bound to `scope`; returns the
    items and the cursor for the next page (None on the last)."""
    secret = settings.get().cursor_secret
    start_key = cursors.decode(cursor, scope, secret) if cursor else None
    if start_key is not None and not _is_position_in(source, hash_key, start_key):
        raise _not_this_lists_cursor()
    try:
        results = source.query(hash_key, range_condition, filter_condition=filter_condition, limit=limit,
                               scan_index_forward=scan_index_forward, last_evaluated_key=start_key,
                               page_size=limit if filter_condition is None else None)
        items = list(results)
    except PynamoDBException as exc:
        if start_key is not None and aws_error_code(exc) == "ValidationException":
            # A validly signed cursor whose position the database cannot use: still not one this list returned.
            raise _not_this_lists_cursor() from None
        raise translate_read_error(exc) from None
    next_key = results.last_evaluated_key
    return items, cursors.encode(next_key, scope, secret) if next_key else None


def _not_this_lists_cursor() -> ValidationFailed:
    return ValidationFailed.one("cursor", "valid_cursor", "cursor is not one this list returned")


_NUMBER = re.compile(r"-?[0-9]{1,38}(\.[0-9]{1,38})?")


def _is_position_in(source: Any, hash_key: str, key: dict[str, Any]) -> bool:
    """Whether a signed cursor's position is one this query can have returned: exactly the key attributes of the
    index (and of its table), each of its declared type, in the partition being queried. (A validly signed cursor
    can still be forged by anyone holding the signing key; the database must not be the one to notice.)"""
    model: Any = source if isinstance(source, type) else source._model
    index_schema = None if isinstance(source, type) else source._get_schema()
    types = {a.attr_name: a.attr_type for a in (model._hash_key_attribute(), model._range_key_attribute()) if a}
    partition = model._hash_key_attribute().attr_name
    if index_schema is not None:
        types.update({d["AttributeName"]: d["AttributeType"] for d in index_schema["attribute_definitions"]})
        partition = next(k["AttributeName"] for k in index_schema["key_schema"] if k["KeyType"] == "HASH")
    if set(key) != set(types):
        return False
    for name, wanted in types.items():
        value = key[name]
        if list(value) != [wanted] or not isinstance(value[wanted], str) or len(value[wanted]) > 1024:
            return False
        if wanted == "N" and not _NUMBER.fullmatch(value[wanted]):
            return False
    return key[partition][types[partition]] == str(hash_key)


def all_equal(*pairs: tuple[Any, Any]) -> Any:
    """A filter that every given (attribute, value) holds; pairs without a value are left out (None: no filter)."""
    condition = None
    for attr, wanted in pairs:
        if wanted:
            condition = (attr == wanted) if condition is None else condition & (attr == wanted)
    return condition


def list_events(referral_id: str, limit: int, cursor: str | None) -> tuple[list[RecordedEvent], str | None]:
    items, next_cursor = query_page(ReferralEventItem, referral_id, f"events:{referral_id}", limit, cursor)
    return [_recorded(i) for i in items], next_cursor


# ------------------------------------------------------------------ participants


def get_participant(participant_hash: str) -> ParticipantRecord | None:
    item = get_item(ParticipantItem, participant_hash)
    if item is None:
        return None
    return ParticipantRecord(participant_hash=item.participant_hash, active_referral_id=item.active_referral_id,
                             programmes=strings(item.programmes), referrals=strings(item.referrals),
                             version=int(item.version))


# ------------------------------------------------------------------ writes (added to one transaction)


def _event_item(referral: Referral, event: Event, actor_org_id: str, actor_key_id: str,
                now: datetime) -> ReferralEventItem:
    return ReferralEventItem(
        referral_id=referral.id, seq=referral.version, type=event.type, occurred_on=event.occurred_on.isoformat(),
        recorded_at=now.isoformat(), actor_org_id=actor_org_id, actor_key_id=actor_key_id,
        from_status=event.from_status, to_status=event.to_status, data=event.data)


def add_new_referral(tx: Transaction, referral: Referral, event: Event, actor_org_id: str, actor_key_id: str,
                     now: datetime, participant: ParticipantRecord | None, capacity: int | None,
                     total_capacity: int | None) -> None:
    """Create the referral, claim the person and a place on the provider's allocation, record the event."""
    tx.put(to_item(referral), condition=ReferralItem.referral_id.does_not_exist())
    sealed = sealed_item(referral)
    if sealed is not None:
        tx.put(sealed, condition=SealedFieldsItem.participant_hash.does_not_exist())
    tx.put(_event_item(referral, event, actor_org_id, actor_key_id, now))
    _claim_participant(tx, referral, participant)
    _take_place(tx, referral.programme_id, referral.provider_org_id, capacity)
    _take_place(tx, referral.programme_id, PROGRAMME_TOTAL, total_capacity)


def _claim_participant(tx: Transaction, referral: Referral, participant: ParticipantRecord | None) -> None:
    if participant is None:
        item = ParticipantItem(participant_hash=referral.participant_hash, active_referral_id=referral.id,
                               programmes=[], referrals=[referral.id], version=1)
        tx.put(item, condition=ParticipantItem.participant_hash.does_not_exist(), on_fail=already_active)
        return
    tx.update(ParticipantItem(participant_hash=participant.participant_hash), actions=[
        ParticipantItem.active_referral_id.set(referral.id),
        ParticipantItem.referrals.set(cast(Any, [*participant.referrals, referral.id])),
        ParticipantItem.version.set(participant.version + 1),
    ], condition=(ParticipantItem.version == participant.version)
        & ParticipantItem.active_referral_id.does_not_exist(), on_fail=already_active)


def _allocation_full() -> Exception:
    return ReferralRefused("allocation_full", "the provider's allocation on this programme is full",
                           [FieldError("provider_id", "allocation", "no places left")])


def _take_place(tx: Transaction, programme_id: str, org_id: str, capacity: int | None) -> None:
    """Count a place taken; where there is a cap, only while places are left under it."""
    item = AllocationItem(programme_id=programme_id, org_id=org_id)
    if capacity is None:
        tx.update(item, actions=[AllocationItem.used.add(1)])
        return
    tx.update(item, actions=[AllocationItem.used.add(1)],
              condition=AllocationItem.used.does_not_exist() | (AllocationItem.used < capacity),
              on_fail=_allocation_full)


def _give_place_back(tx: Transaction, programme_id: str, org_id: str) -> None:
    item = AllocationItem(programme_id=programme_id, org_id=org_id)
    tx.update(item, actions=[AllocationItem.used.add(-1)], condition=AllocationItem.used > 0)


def add_referral_change(tx: Transaction, before: Referral, after: Referral, event: Event,
                        actor_org_id: str, actor_key_id: str, now: datetime) -> None:
    """Save the changed referral (only if nobody changed it since it was read) and record the event; its sealed
    personal fields only where they changed (erased: deleted)."""
    tx.put(to_item(after), condition=ReferralItem.version == before.version)
    if after.participant != before.participant:
        sealed = sealed_item(after)
        if sealed is None:
            tx.delete(SealedFieldsItem(participant_hash=sealed_key(after.id)))
        else:
            tx.put(sealed)
    tx.put(_event_item(after, event, actor_org_id, actor_key_id, now),
           condition=ReferralEventItem.seq.does_not_exist())


def add_incentive_withdrawn(tx: Transaction, referral_id: str, incentive_ids: frozenset[str]) -> None:
    """The payer rejected or clawed back an employer incentive: it no longer counts against the participant's
    limit. A new version of the referral, so that a step that read the one before is refused, not overwriting it."""
    tx.update(ReferralItem(referral_id=referral_id),
              actions=[ReferralItem.withdrawn_incentives.add(set(incentive_ids)), ReferralItem.version.add(1)],
              condition=ReferralItem.referral_id.exists())


def add_flag_raised(tx: Transaction, referral_id: str, key: str) -> None:
    """The nightly run flagged one of the referral's deadlines as missed: the referral records it (so the step that
    answers the deadline resolves the flag, and only then writes to it), as a new version, so that a step that read
    the one before is refused rather than leaving the flag open."""
    tx.update(ReferralItem(referral_id=referral_id),
              actions=[ReferralItem.flagged.add({key}), ReferralItem.version.add(1)],
              condition=ReferralItem.referral_id.exists())


def add_party_index(tx: Transaction, referral: Referral, org_id: str, roles: tuple[str, ...]) -> None:
    """List the referral for the organisation that now mentors it or takes it as a spoke (`roles`: every such
    role it has held on it)."""
    tx.put(ReferralPartyItem(org_id=org_id, listed_at=f"{referral.created_at.isoformat()}#{referral.id}",
                             referral_id=referral.id, programme_id=referral.programme_id, roles=list(roles)))


def add_release(tx: Transaction, referral: Referral, participated: bool) -> None:
    """The participant leaves this referral: free them for other programmes. A referral that never started
    gives its place back; one that did is remembered as taking part (for programmes that allow no return)."""
    actions = [ParticipantItem.active_referral_id.remove(), ParticipantItem.version.add(1)]
    if participated:
        actions.append(ParticipantItem.programmes.set(
            ParticipantItem.programmes.append([referral.programme_id])))
    tx.update(ParticipantItem(participant_hash=referral.participant_hash), actions=actions,
              condition=ParticipantItem.active_referral_id == referral.id)
    if not participated:
        _give_place_back(tx, referral.programme_id, referral.provider_org_id)
        _give_place_back(tx, referral.programme_id, PROGRAMME_TOTAL)


def add_transfer_places(tx: Transaction, programme_id: str, from_org: str, to_org: str,
                        to_capacity: int | None) -> None:
    _take_place(tx, programme_id, to_org, to_capacity)
    _give_place_back(tx, programme_id, from_org)


def add_commitment(tx: Transaction, programme_id: str, amount: int, contract_value: int) -> None:
    """Commit claimed money against the programme's contract value, refusing what would exceed it."""
    item = AllocationItem(programme_id=programme_id, org_id=CONTRACT_VALUE)
    tx.update(item, actions=[AllocationItem.used.add(amount)],
              condition=AllocationItem.used.does_not_exist() | (AllocationItem.used <= contract_value - amount),
              on_fail=lambda: ClaimRefused("contract_value_exhausted",
                                           "the programme's contract value would be exceeded", "amount_pence"))


def add_counts(tx: Transaction, programme_id: str, counts: Mapping[str, int],
               capped: tuple[str, int] | None = None) -> None:
    """Add to a programme's named counters in the request's transaction; `capped` (counter, cap): that counter
    may not go above the cap (a flexible fund's committed spend against its budget), refused otherwise."""
    for counter, amount in counts.items():
        item = AllocationItem(programme_id=programme_id, org_id=counter)
        if capped and counter == capped[0] and amount > 0:
            if amount > capped[1]:
                raise _over_budget()
            tx.update(item, actions=[AllocationItem.used.add(amount)],
                      condition=AllocationItem.used.does_not_exist() | (AllocationItem.used <= capped[1] - amount),
                      on_fail=_over_budget)
        else:
            tx.update(item, actions=[AllocationItem.used.add(amount)])


def _over_budget() -> ClaimRefused:
    return ClaimRefused("fund_budget_exceeded", "the spend is more than what remains of the authority's flexible "
                        "fund budget", "amount_pence")


def counts_under(programme_id: str, prefix: str) -> dict[str, int]:
    """A programme's named counters starting with `prefix` (one query of the programme's partition)."""
    try:
        return {i.org_id: int(i.used) for i in AllocationItem.query(
            programme_id, AllocationItem.org_id.startswith(prefix), consistent_read=True)}
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def add_referral_counter(tx: Transaction, programme_id: str, counter: str) -> None:
    """A programme's named count (referrals by the referring organisation's kind), beside its place counts."""
    tx.update(AllocationItem(programme_id=programme_id, org_id=counter), actions=[AllocationItem.used.add(1)])


def allocation_used(programme_id: str, org_ids: Iterable[str]) -> dict[str, int]:
    wanted = list(org_ids)
    keys = [(programme_id, o) for o in wanted]
    try:
        found = {i.org_id: int(i.used) for i in AllocationItem.batch_get(keys)}
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None
    return {o: found.get(o, 0) for o in wanted}


# ------------------------------------------------------------------ idempotency


def _idempotency(item: IdempotencyItem) -> IdempotencyRecord:
    resource = Resource(item.resource_kind, strings(item.resource_ids)) if item.resource_kind else None
    return IdempotencyRecord(scope_key=item.scope_key, fingerprint=item.fingerprint,
                             status_code=int(item.status_code), resource=resource, location=item.location,
                             created_at=item.created_at, expires_at=int(item.expires_at))


# The other store modules' items a write's Needs can name, as (model, key) (a key of two parts: hash and range).
AHEAD: list[Callable[[Needs], list[tuple[Any, Any]]]] = []


@contextlib.contextmanager
def read_ahead(scope_key: str | None, needs: Needs) -> Iterator[IdempotencyRecord | None]:
    """One TransactGetItems of the idempotency record and the items `needs` names (the referral a step changes,
    the person a new referral names, the payment lines a claim write reads or makes, the claim file a validation
    or a cut reads, and what AHEAD adds); within the block, get_item answers those from it.

    Transactional, so the read is isolated from a transaction still committing: it sees all of another request's
    writes or none (a batch read may see some: a retry racing its first request could find the first one's
    idempotency record and the referral as it was before, and answer with that)."""
    named: list[tuple[Any, Any]] = [(IdempotencyItem, scope_key), (ParticipantItem, needs.participant_hash),
                                    (ClaimFileItem, needs.claim_file_id)]
    if needs.referral_id:
        named += _referral_keys([needs.referral_id])
    named += [(PaymentLineItem, line_id) for line_id in needs.line_ids]
    named += [key for more in AHEAD for key in more(needs)]
    wanted = [(model, key) for model, key in named if key and _nameable(*_parts(key))]
    found = _transact_get(wanted) if wanted else {}
    token = _READ_AHEAD.set(found)
    try:
        item = found.get((IdempotencyItem, scope_key)) if scope_key else None
        yield _idempotency(item) if item is not None else None
    finally:
        _READ_AHEAD.reset(token)


BATCH_GET_MAX = 100  # keys in one BatchGetItem
BATCH_GET_TRIES = 6


def forget(model: Any, key: Any) -> None:
    """An item the request writes outside its transaction (a claim file's record): read afresh from now on,
    not answered from the request's read ahead."""
    ahead = _READ_AHEAD.get()
    if ahead is not None:
        ahead.pop((model, key), None)


def get_items(model: Any, keys: list[Any]) -> dict[Any, Any]:
    """The items (None: absent) of `model` by key (a tuple: hash and range), read consistently in one
    BatchGetItem, or from the request's read ahead where it holds them all."""
    found = _ahead_or_read([(model, key) for key in dict.fromkeys(keys) if _nameable(*_parts(key))])
    return {key: found.get((model, key)) for key in keys}


def _ahead_or_read(wanted: list[tuple[Any, Any]]) -> dict[tuple[Any, Any], Any]:
    """The items, from the request's read ahead where it holds them all; else, within a write (or its replay:
    the referral a new referral's record names), read as the read ahead reads, isolated from a transaction still
    committing; outside one, consistently in one batch."""
    ahead = _READ_AHEAD.get()
    if ahead is not None and all(k in ahead for k in wanted):
        return ahead
    if not wanted:
        return {}
    return _transact_get(wanted) if ahead is not None else _batch_get_consistent(wanted)


def _parts(key: Any) -> tuple[str, ...]:
    return key if isinstance(key, tuple) else (key,)


TRANSACT_GET_MAX = 100  # items in one TransactGetItems
TRANSACT_GET_TRIES = 8


def _transact_get(wanted: list[tuple[Any, Any]]) -> dict[tuple[Any, Any], Any]:
    """The items (None: absent), by model and key, read in one TransactGetItems: serializable with transactional
    writes, so either all of another request's transaction or none of it. A read that meets a transaction still
    committing is refused by the engine and asked again, after a growing pause (still refused after the last
    try: the database is busy, 503). More items than one TransactGetItems takes (none of the API's writes needs
    as many) are read 100 at a time, each hundred isolated."""
    found: dict[tuple[Any, Any], Any] = {}
    by_item: dict[tuple[str, Any], tuple[Any, Any]] = {}
    for model, key in wanted:
        found[(model, key)] = None
        by_item.setdefault((model.Meta.table_name, key), (model, key))
    asked = list(by_item.values())
    for start in range(0, len(asked), TRANSACT_GET_MAX):
        found.update(_transact_get_some(asked[start:start + TRANSACT_GET_MAX]))
    for model, key in wanted:  # two models of one table and key are one item
        found[(model, key)] = found[by_item[(model.Meta.table_name, key)]]
    return found


def _transact_get_some(asked: list[tuple[Any, Any]]) -> dict[tuple[Any, Any], Any]:
    found: dict[tuple[Any, Any], Any] = dict.fromkeys(asked)
    request = [{"Get": {"TableName": model.Meta.table_name, "Key": _raw_key(model, key)}} for model, key in asked]
    client = low_level_client()
    for _ in _attempts(TRANSACT_GET_TRIES, 0.02):
        try:
            answer = client.transact_get_items(TransactItems=request)
        except ClientError as exc:
            if _refused_for_a_transaction(exc):
                continue
            raise translate_read_error(exc) from None
        except BotoCoreError as exc:
            raise translate_read_error(exc) from None
        for (model, key), response in zip(asked, answer.get("Responses", []), strict=True):
            if response.get("Item"):
                found[(model, key)] = model.from_raw_data(response["Item"])
        return found
    raise ServiceUnavailable("the database is busy; retry shortly", retry_after=1)


def _attempts(tries: int, pause: float) -> Iterator[int]:
    """Each attempt of a read the engine may refuse or leave partly undone: before each but the first, a pause that
    doubles, up to a second."""
    for attempt in range(tries):
        if attempt:
            time.sleep(min(pause * 2 ** attempt, 1.0))
        yield attempt


def _raw_key(model: Any, key: Any) -> dict[str, Any]:
    attributes = [model._hash_key_attribute(), model._range_key_attribute()]
    return {a.attr_name: {"S": part} for a, part in zip(attributes, _parts(key), strict=False)}


def _refused_for_a_transaction(exc: ClientError) -> bool:
    """A TransactGetItems the engine refused because an item it reads is in a transaction still committing (or
    throttled): asked again."""
    code = exc.response.get("Error", {}).get("Code")
    if is_busy(code):
        return True
    reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", []) or []]
    return code == "TransactionCanceledException" and any(r == "TransactionConflict" or is_busy(r) for r in reasons)


def _batch_get_consistent(wanted: list[tuple[Any, Any]]) -> dict[tuple[Any, Any], Any]:
    """The items (None: absent) of tables keyed by string keys (a hash key, or a hash and a range key: a tuple),
    by model and key, read consistently in one BatchGetItem per 100 keys (and again for any keys the engine
    leaves unprocessed). Two models may share a table: their keys tell them apart."""
    found: dict[tuple[Any, Any], Any] = dict.fromkeys(wanted)
    model_of = {(model.Meta.table_name, key): model for model, key in found}
    keys = list(found)
    for start in range(0, len(keys), BATCH_GET_MAX):
        request: dict[str, Any] = {}
        for model, key in keys[start:start + BATCH_GET_MAX]:
            request.setdefault(model.Meta.table_name, {"Keys": [], "ConsistentRead": True})["Keys"].append(
                _raw_key(model, key))
        names = {table: list(asked["Keys"][0]) for table, asked in request.items()}
        for table, raw in _batch_get_all(request):
            parts = tuple(raw[name]["S"] for name in names[table])
            key = parts[0] if len(parts) == 1 else parts
            model = model_of[(table, key)]
            found[(model, key)] = model.from_raw_data(raw)
    return found


def _batch_get_all(request: dict[str, Any]) -> Iterator[tuple[str, dict]]:
    """Every item a BatchGetItem request names that exists, as (table, raw item). Keys the engine leaves
    unprocessed (throttled) are asked for again, after a growing pause; still unprocessed after the last try:
    the database is busy (503)."""
    client = low_level_client()
    for _ in _attempts(BATCH_GET_TRIES, 0.05):
        try:
            answer = client.batch_get_item(RequestItems=request)
        except (ClientError, BotoCoreError) as exc:
            raise translate_read_error(exc) from None
        for table, items in answer.get("Responses", {}).items():
            for raw in items:
                yield table, raw
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return
    raise ServiceUnavailable("the database is busy; retry shortly", retry_after=1)


def add_idempotency(tx: Transaction, record: IdempotencyRecord) -> None:
    item = IdempotencyItem(scope_key=record.scope_key, fingerprint=record.fingerprint,
                           status_code=record.status_code, location=record.location, created_at=record.created_at,
                           expires_at=record.expires_at,
                           resource_kind=record.resource.kind if record.resource else None,
                           resource_ids=list(record.resource.ids) if record.resource else [])
    tx.put(item, condition=IdempotencyItem.scope_key.does_not_exist(),
           on_fail=lambda: IdempotencyKeyTaken(record.scope_key))

"""The data's lifetime and the controller's rights over it (UK GDPR): erasure when retention ends (nightly) or on
the controller's request, a subject access export, and the access log of who read which participant's
personal fields.

The controller of a programme's participant data is its commissioner (`commissioner_org_id` in the rulebook):
its `admin` keys make erasure and subject access requests and read the access log, for its programmes only.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from .. import clock, settings
from ..adapters.rulebooks import get_rulebook
from ..domain import compliance, retention
from ..domain.access import Principal, may_see_personal_data
from ..domain.access_log import AccessEntry, new_entry
from ..domain.compliance import PendingWork
from ..domain.errors import NotFound
from ..domain.participants import participant_hash, pseudonymous_reference
from ..domain.referral import Referral
from ..payments import lines as pl
from .deps import store
from .journey import pending, rulebook_for
from .ports import UnitOfWork

NIGHTLY = "refpay-nightly"
OPEN_LINE_STATUSES = (pl.SUBMITTED, pl.APPROVED)


# ------------------------------------------------------------------ who the controller is


def controlled_referral(principal: Principal, referral_id: str) -> Referral:
    """A referral of a programme this caller's organisation controls (its commissioner); NotFound otherwise, as
    for any referral a caller may not see."""
    principal.require("admin")
    return _controlled(principal, store().referrals.get(referral_id))


def _controlled(principal: Principal, referral: Referral | None) -> Referral:
    if referral is None or not _controls(principal, referral):
        raise NotFound("no such referral")
    return referral


def _controls(principal: Principal, referral: Referral) -> bool:
    return rulebook_for(referral.programme_id).commissioner_org_id == principal.org_id


# ------------------------------------------------------------------ erasure


def open_claims(referral: Referral) -> int:
    """The referral's payment lines still awaiting a decision or payment (filed in a claim file not yet paid)."""
    db = store()
    count, files = 0, {}
    for line in db.lines.of_referral(referral.id):
        if line.status in OPEN_LINE_STATUSES:
            count += 1
        elif line.status == pl.FILED and line.claim_file_id:
            if line.claim_file_id not in files:
                files[line.claim_file_id] = db.claim_files.get(line.claim_file_id)
            record = files[line.claim_file_id]
            count += record is None or record.paid_on is None
    return count


def _erase(tx: UnitOfWork, referral: Referral, on: date, why: str, actor_org: str, actor_key: str) -> Referral:
    rulebook = rulebook_for(referral.programme_id)
    after, event = retention.erase(referral, on, why)
    db = store()
    db.referrals.add_change(tx, referral, after, event, actor_org, actor_key, clock.now())
    puts, deletes = compliance.pending_changes(referral, pending(rulebook, referral), after, pending(rulebook, after),
                                               0)
    db.compliance.add_pending_changes(tx, puts, deletes)
    return after


def request_erasure(principal: Principal, referral_id: str, tx: UnitOfWork) -> Referral:
    """The controller's erasure request: honoured where the law allows, refused with a named reason otherwise. A
    referral already erased is answered as it is."""
    referral = controlled_referral(principal, referral_id)
    if referral.erased_on is not None:
        return referral
    refusal = retention.erasure_refusal(rulebook_for(referral.programme_id), referral, open_claims(referral),
                                        clock.today())
    if refusal is not None:
        raise refusal
    return _erase(tx, referral, clock.today(), retention.CONTROLLER_REQUEST, principal.org_id, principal.key_id)


def erase_due(work: PendingWork, on: date) -> str:
    """The nightly run's erasure of a referral whose retention has ended. Retention is computed again from the
    rulebook as it is now: a later closure date moves the item instead (what was kept stays kept)."""
    db = store()
    referral = db.referrals.get(work.referral_id)
    tx = db.transaction()
    if referral is None or referral.erased_on is not None:
        db.compliance.done_with(tx, work)
        tx.commit()
        return "done"
    rulebook = rulebook_for(referral.programme_id)
    ends = retention.retention_ends(rulebook, referral)
    if ends is not None and ends >= on:
        moved = compliance.work_item(referral, compliance.pending_retention(rulebook, referral).pop(), 0)
        db.compliance.add_pending_changes(tx, [moved], [work])
        tx.commit()
        return "kept"
    _erase(tx, referral, on, retention.RETENTION_ENDED, NIGHTLY, NIGHTLY)
    tx.commit()
    return "erased"


# ------------------------------------------------------------------ subject access


def subject_access(principal: Principal, nino: str, tx: UnitOfWork) -> list[Referral]:
    """The referrals of one person on the programmes this controller controls (found by the keyed hash of the
    NINO), read in one batch read. The export is rendered from them (`export_of`); the request itself is logged as
    a read of each."""
    principal.require("admin")
    db = store()
    person = db.referrals.participant(participant_hash(nino, settings.get().participant_key))
    named = list(person.referrals) if person else []
    held = db.referrals.get_many(named) if named else {}
    referrals = [r for i in named if (r := held.get(i)) is not None and _controls(principal, r)]
    if not referrals:
        raise NotFound("no personal data is held about this person on your programmes")
    now = clock.now()
    for r in referrals:
        db.access_log.add(tx, new_entry(principal.org_id, pseudonymous_reference(r.participant_hash), r.id,
                                        principal.org_id, principal.key_id, "POST /subject-access", now))
    return referrals


def export(principal: Principal, referral_ids: tuple[str, ...]) -> dict[str, Any]:
    """The export of these referrals (read in one batch read), each one this controller controls."""
    principal.require("admin")
    held = store().referrals.get_many(list(referral_ids)) if referral_ids else {}
    return export_of(principal, [_controlled(principal, held.get(rid)) for rid in referral_ids])


def export_of(principal: Principal, referrals: list[Referral]) -> dict[str, Any]:
    """Everything held about the person on these referrals: personal fields, each referral's record and audit
    trail, its payment lines, and who read their personal fields."""
    db = store()
    out: list[dict[str, Any]] = []
    reads: list[AccessEntry] = []
    for referral in referrals:
        rid = referral.id
        reference = pseudonymous_reference(referral.participant_hash)
        record = asdict(referral)
        record.pop("participant_hash")
        events, cursor = db.referrals.events(rid, 200, None)
        while cursor:
            more, cursor = db.referrals.events(rid, 200, cursor)
            events += more
        entries, cursor = db.access_log.page(principal.org_id, reference, 200, None)
        reads += [e for e in entries if e.referral_id == rid]
        out.append({"referral": record, "reference": reference,
                    "events": [asdict(e) for e in events],
                    "payment_lines": [asdict(line) for line in db.lines.of_referral(rid)]})
    return {"controller": principal.org_id, "produced_at": clock.now().isoformat(), "referrals": out,
            "personal_data_reads": [asdict(e) for e in reads]}


# ------------------------------------------------------------------ the access log


def log_reads(principal: Principal, referrals: list[Referral], what: str) -> None:
    """An entry for each referral whose personal fields this caller was shown (never the fields)."""
    shown = [r for r in referrals if r.participant is not None and may_see_personal_data(principal, r)]
    if not shown:
        return
    now = clock.now()
    entries = []
    for r in shown:
        rulebook = get_rulebook(r.programme_id)
        controller = rulebook.commissioner_org_id if rulebook else ""
        entries.append(new_entry(controller, pseudonymous_reference(r.participant_hash), r.id, principal.org_id,
                                 principal.key_id, what, now))
    store().access_log.record(entries)


def access_log(principal: Principal, participant_ref: str | None, limit: int,
               cursor: str | None) -> tuple[list[AccessEntry], str | None]:
    principal.require("admin")
    return store().access_log.page(principal.org_id, participant_ref, limit, cursor)

"""Cutting claim files: approved lines not yet in any file are locked to one file, written once to S3."""
from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import TextIO

from .. import clock
from ..adapters.rulebooks import get_rulebook
from ..domain.access import Principal
from ..domain.errors import ConcurrentUpdate, NotFound, ValidationFailed
from ..payments import claim_file
from ..payments.claim_file import BUILDING, READY, ClaimFile
from ..payments.lines import PaymentLine
from .deps import store

LOCK_BATCH = 25
DOWNLOAD_SECONDS = 900


def file_id(programme_id: str, period: str, owner: str, payee: str | None) -> str:
    return f"cf-{programme_id}-{period}-{owner}" + (f"-{payee}" if payee else "")


def _check_cut(principal: Principal, programme_id: str, period: str, payee: str | None) -> None:
    principal.require("finance")
    if principal.org_kind not in ("prime", "local_authority"):
        raise ValidationFailed.one("programme_id", "prime_finance", "claim files are cut by a prime's finance team")
    rulebook = get_rulebook(programme_id)
    if rulebook is None:
        raise ValidationFailed.one("programme_id", "known_programme", f"no programme {programme_id!r}")
    mine = rulebook.provider(principal.org_id)
    if mine is None or mine.role == "subcontractor":
        raise NotFound(f"your organisation holds no contract on {programme_id}")
    if payee and payee != principal.org_id and not any(
            o.org_id == payee for o in rulebook.subcontractors_of(principal.org_id)):
        raise ValidationFailed.one("payee_org_id", "your_payee", "the payee is neither you nor your subcontractor "
                                   "on this programme")
    if period > clock.today().strftime("%Y-%m"):
        raise ValidationFailed.one("period", "not_in_future", "the period has not started yet")


def cut(principal: Principal, programme_id: str, period: str, payee: str | None) -> ClaimFile:
    """The claim file for a programme and period (and optionally one payee). Cutting again returns the same
    file; an interrupted cut resumes. Lines of earlier periods still waiting are included."""
    _check_cut(principal, programme_id, period, payee)
    db = store()
    fid = file_id(programme_id, period, principal.org_id, payee)
    existing = db.claim_files.get(fid)
    if existing is not None and existing.status == READY:
        return existing
    record = existing or ClaimFile(
        claim_file_id=fid, programme_id=programme_id, period=period, payee_org_id=payee,
        owner_org_id=principal.org_id, status=BUILDING, created_at=clock.now().isoformat(),
        created_by=principal.key_id)
    if existing is None and not db.claim_files.create(record):
        found = db.claim_files.get(fid)
        assert found is not None
        if found.status == READY:
            return found
        record = found
    _lock_waiting_lines(fid, programme_id, period, principal.org_id, payee)
    return write(record)


def _lock_waiting_lines(fid: str, programme_id: str, period: str, owner: str, payee: str | None) -> None:
    batch: list[PaymentLine] = []
    for line in store().lines.queued(programme_id, period, owner, payee):
        batch.append(line)
        if len(batch) == LOCK_BATCH:
            _lock(fid, batch)
            batch = []
    if batch:
        _lock(fid, batch)


def _lock(fid: str, batch: list[PaymentLine]) -> None:
    try:
        store().lines.lock(fid, batch)
    except ConcurrentUpdate:
        # Another cut took some of these lines: lock the rest one by one.
        for line in batch:
            try:
                store().lines.lock(fid, [line])
            except ConcurrentUpdate:
                continue


def write(record: ClaimFile, on_line: Callable[[], None] | None = None) -> ClaimFile:
    """Stream the file's lines into CSV on disk (memory stays flat), upload it, and record its totals."""
    db = store()
    key = f"claim-files/{record.programme_id}/{record.period}/{record.claim_file_id}.csv"
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+b") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        totals = claim_file.write(db.lines.in_file(record.claim_file_id), text, on_line)
        text.detach()  # flushes, and leaves the binary file open for the upload
        raw.seek(0)
        db.files.upload(key, raw)  # type: ignore[arg-type]
    return db.claim_files.finish(record, totals.line_count, totals.as_dict(), key)


def get(claim_file_id: str) -> ClaimFile | None:
    return store().claim_files.get(claim_file_id)


def export(claim_file_id: str, out: TextIO, on_line: Callable[[], None] | None = None) -> claim_file.Totals:
    """The same file written to a local stream (the finance CLI)."""
    if store().claim_files.get(claim_file_id) is None:
        raise NotFound(f"no claim file {claim_file_id!r}")
    return claim_file.write(store().lines.in_file(claim_file_id), out, on_line)


def download_url(record: ClaimFile) -> str | None:
    """A presigned (SigV4) link to the file, once it is written."""
    if record.status != READY or not record.s3_key:
        return None
    return store().files.download_url(record.s3_key, DOWNLOAD_SECONDS)


def is_commissioner_of(principal: Principal, record: ClaimFile) -> bool:
    """The finance of the programme's commissioner: it validates and pays the files its primes cut."""
    rulebook = get_rulebook(record.programme_id)
    return rulebook is not None and "finance" in principal.roles and principal.org_id == rulebook.commissioner_org_id


def read(principal: Principal, fid: str) -> tuple[ClaimFile, str | None]:
    """The prime that cut the file, or the commissioner that pays it."""
    record = store().claim_files.get(fid)
    if record is None or (record.owner_org_id != principal.org_id and not is_commissioner_of(principal, record)):
        raise NotFound("no such claim file")
    return record, download_url(record)

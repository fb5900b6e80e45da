"""Cutting claim files: approved lines not yet in any file are locked to one file, written once to S3."""
from __future__ import annotations

import io
import tempfile
from typing import Callable

from .. import clock
from ..domain.access import Principal
from ..domain.errors import ConcurrentUpdate, NotFound, ValidationFailed
from ..domain.rulebook import get_rulebook
from ..payments import claim_file
from ..store import files
from ..store import payments as store
from ..store.models import ClaimFileItem, PaymentLineItem

LOCK_BATCH = 25
DOWNLOAD_SECONDS = 900


def file_id(programme_id: str, period: str, owner: str, payee: str | None) -> str:
    return f"cf-{programme_id}-{period}-{owner}" + (f"-{payee}" if payee else "")


def cut(principal: Principal, programme_id: str, period: str, payee: str | None) -> ClaimFileItem:
    """The claim file for a programme and period (and optionally one payee). Cutting again returns the same
    file; an interrupted cut resumes. Lines of earlier periods still waiting are included."""
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
            o.org_id == payee and o.prime == principal.org_id for o in rulebook.delivery_organisations):
        raise ValidationFailed.one("payee_org_id", "your_payee", "the payee is neither you nor your subcontractor "
                                   "on this programme")
    if period > clock.today().strftime("%Y-%m"):
        raise ValidationFailed.one("period", "not_in_future", "the period has not started yet")
    fid = file_id(programme_id, period, principal.org_id, payee)
    existing = store.get_file(fid)
    if existing is not None and existing.status == "ready":
        return existing
    record = existing or ClaimFileItem(
        claim_file_id=fid, programme_id=programme_id, period=period, payee_org_id=payee,
        owner_org_id=principal.org_id, status="building", created_at=clock.now().isoformat(),
        created_by=principal.key_id)
    if existing is None and not store.create_file(record):
        record = store.get_file(fid)
        if record.status == "ready":
            return record
    _lock_waiting_lines(fid, programme_id, period, principal.org_id, payee)
    return write(record)


def _lock_waiting_lines(fid: str, programme_id: str, period: str, owner: str, payee: str | None) -> None:
    condition = PaymentLineItem.prime_org_id == owner
    if payee:
        condition &= PaymentLineItem.payee_org_id == payee
    batch: list[PaymentLineItem] = []
    for item in store.queued_lines(programme_id, period, condition):
        batch.append(item)
        if len(batch) == LOCK_BATCH:
            _lock(fid, batch)
            batch = []
    if batch:
        _lock(fid, batch)


def _lock(fid: str, batch: list[PaymentLineItem]) -> None:
    try:
        store.lock_lines(fid, batch)
    except ConcurrentUpdate:
        # Another cut took some of these lines: lock the rest one by one.
        for item in batch:
            try:
                store.lock_lines(fid, [item])
            except ConcurrentUpdate:
                continue


def write(record: ClaimFileItem, on_line: Callable[[], None] | None = None) -> ClaimFileItem:
    """Stream the file's lines into CSV on disk (memory stays flat), upload it, and record its totals."""
    key = f"claim-files/{record.programme_id}/{record.period}/{record.claim_file_id}.csv"
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+b") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        totals = claim_file.write(store.lines_in_file(record.claim_file_id), text, on_line)
        text.detach()  # flushes, and leaves the binary file open for the upload
        raw.seek(0)
        files.upload(key, raw)
    store.finish_file(record, totals.line_count, totals.as_dict(), key)
    return record


def export(claim_file_id: str, out, on_line: Callable[[], None] | None = None) -> claim_file.Totals:
    """The same file written to a local stream (the finance CLI)."""
    if store.get_file(claim_file_id) is None:
        raise NotFound(f"no claim file {claim_file_id!r}")
    return claim_file.write(store.lines_in_file(claim_file_id), out, on_line)


def download_url(record: ClaimFileItem) -> str | None:
    """A presigned (SigV4) link to the file, once it is written."""
    return files.download_url(record.s3_key, DOWNLOAD_SECONDS) if record.status == "ready" else None


def read(principal: Principal, fid: str) -> tuple[ClaimFileItem, str | None]:
    record = store.get_file(fid)
    if record is None or record.owner_org_id != principal.org_id:
        raise NotFound("no such claim file")
    return record, download_url(record)

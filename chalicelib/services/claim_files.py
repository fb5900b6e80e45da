"""Cutting claim files: approved lines not yet in any file are locked to one file, written once to S3.

A cut records the file as `building` and answers at once; a worker builds it. Deployed, the worker is the
claim-file worker function, invoked asynchronously (REFPAY_CLAIM_FILE_WORKER_FUNCTION names it); locally and in
tests the same code runs in-process once the request has committed. The worker:

- holds the build (a conditional write of its token and until when: one worker at a time, and one that stopped
  is taken over once its hold has run out);
- locks the waiting lines in batches, several at once, each batch one transaction that also records the ids it
  locked (a part): every line must still be approved, in no file and as read, so a line is in one file at most;
- writes the CSV from the lines it locked itself (and, taking over, from the parts of the build before it, read
  consistently from the table, never from an eventually consistent index), through a spooled temporary file
  sent to S3 in one PUT read from that file in chunks, so memory stays flat whatever the file's size;
- marks the file `ready` with the count and totals of exactly those lines, only while it still holds the build.
"""
from __future__ import annotations

import io
import itertools
import logging
import secrets
import tempfile
import time
from calendar import monthrange
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import date
from typing import TextIO

from .. import clock, settings
from ..adapters import workers
from ..adapters.rulebooks import all_rulebooks, get_rulebook
from ..domain.access import Principal
from ..domain.errors import ConcurrentUpdate, Forbidden, NotFound, ValidationFailed
from ..logs import error_summary
from ..payments import claim_file
from ..payments.claim_file import BUILDING, READY, ClaimFile
from ..payments.lines import PaymentLine
from .deps import store
from .ports import UnitOfWork

log = logging.getLogger("refpay.claim_files")

LOCK_BATCH = 99  # lines per lock: with the part that records them, the 100 items a DynamoDB transaction takes
# Locks in flight at once: two keep the database busy while the next batch is built (Amazon's DynamoDB Local
# runs transactions one at a time, and more only contend: 8 were slower than 2, bench/claim_files.py); on DynamoDB
# a 50,000-line file is about 505 transactions, a minute or less two at a time, well within the worker's time.
PARALLEL_LOCKS = 2
PROGRESS_EVERY = 10  # locks between two progress records
HOLD_SECONDS = 960  # longer than the worker function's timeout (900 s): a build still held is still running
LOCKING_SECONDS = 780  # then stop locking and write what is locked, well within the hold; the rest waits
DOWNLOAD_SECONDS = 900


def file_id(programme_id: str, period: str, owner: str, payee: str | None) -> str:
    return f"cf-{programme_id}-{period}-{owner}" + (f"-{payee}" if payee else "")


def named_by(claim_file_id: str) -> tuple[str, str, str, str | None] | None:
    """The programme, period, owner and payee (or None) a claim file's id was made of (`file_id`), as far as the
    programmes' rulebooks name them; None where they do not (ids join names that may hold hyphens)."""
    for programme_id, rulebook in all_rulebooks().items():
        prefix = f"cf-{programme_id}-"
        if not claim_file_id.startswith(prefix):
            continue
        period, rest = claim_file_id[len(prefix):len(prefix) + 7], claim_file_id[len(prefix) + 8:]
        # The longest first: of `acme` and `acme-north`, `...-acme-north` is acme-north's file, not acme's for north.
        for holder in sorted(rulebook.contract_holders(), key=lambda o: -len(o.org_id)):
            if rest == holder.org_id:
                return programme_id, period, holder.org_id, None
            if rest.startswith(holder.org_id + "-"):
                return programme_id, period, holder.org_id, rest[len(holder.org_id) + 1:]
    return None


def _check_period(period: str) -> None:
    """A period is cut once it is over: its lines are then all in."""
    year, month = int(period[:4]), int(period[5:7])
    last_day = date(year, month, monthrange(year, month)[1])
    if clock.today() <= last_day:
        raise ValidationFailed.one("period", "period_ended", f"the period {period} has not ended: it can be cut "
                                   f"from {date.fromordinal(last_day.toordinal() + 1).isoformat()}")


def _check_cut(principal: Principal, programme_id: str, period: str, payee: str | None) -> None:
    principal.require("finance")
    if principal.org_kind not in ("prime", "local_authority"):
        raise Forbidden("claim files are cut by a prime's (or a local authority's) finance team", rule="prime_finance")
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
    _check_period(period)


def cut(principal: Principal, programme_id: str, period: str, payee: str | None,
        tx: UnitOfWork) -> tuple[ClaimFile, bool]:
    """The claim file for a programme and a period that has ended (and optionally one payee), and whether this
    cut creates it (in `tx`; once committed, `start_build` builds it). Cutting again returns the same file, as it
    is now; a cut racing another that creates it first runs again and returns it. Lines of earlier periods still
    waiting are included."""
    _check_cut(principal, programme_id, period, payee)
    db = store()
    fid = file_id(programme_id, period, principal.org_id, payee)
    existing = db.claim_files.get(fid)
    if existing is not None:
        return existing, False
    record = ClaimFile(
        claim_file_id=fid, programme_id=programme_id, period=period, payee_org_id=payee,
        owner_org_id=principal.org_id, status=BUILDING, created_at=clock.now().isoformat(),
        created_by=principal.key_id)
    db.claim_files.add(tx, record)
    return record, True


def needs_worker(record: ClaimFile) -> bool:
    """A building file no worker holds (its worker stopped, or was never started): a cut starts one."""
    return record.status == BUILDING and record.build_until < time.time()


def start_build(claim_file_id: str) -> None:
    """Hand the build to the worker function (deployed), or build in-process (locally, in tests)."""
    target = settings.get().claim_file_worker_function
    if target:
        workers.invoke_async(target, {"claim_file_id": claim_file_id})
        return
    try:
        build(claim_file_id)
    except Exception as exc:  # the file stays `building`, free to take: cutting again resumes it
        log.error("claim file build stopped", extra={"claim_file_id": claim_file_id, "error": error_summary(exc)})


def build(claim_file_id: str, time_left_ms: Callable[[], int] | None = None) -> ClaimFile | None:
    """Build a file (the worker): if it is building and no other worker holds it. Returns it as left."""
    db = store()
    record = db.claim_files.get(claim_file_id)
    if record is None or record.status != BUILDING:
        return record
    token = secrets.token_hex(8)
    now = int(time.time())
    held = db.claim_files.take_build(record, token, now, now + HOLD_SECONDS)
    if held is None:
        return record  # another worker holds it
    seconds = LOCKING_SECONDS if time_left_ms is None else min(LOCKING_SECONDS, time_left_ms() / 1000 - 120)
    try:
        return _build(held, token, time.monotonic() + seconds)
    except BaseException:
        db.claim_files.release_build(claim_file_id, token)
        raise


def _build(record: ClaimFile, token: str, stop_locking_at: float) -> ClaimFile:
    db = store()
    key = f"claim-files/{record.programme_id}/{record.period}/{record.claim_file_id}.csv"
    with tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+b") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = claim_file.Writer(text)
        for ids in db.lines.parts(record.claim_file_id):  # locked by a build that stopped before finishing
            for lines in _chunks(ids, 100):
                for line in db.lines.get_many(list(lines)):
                    writer.add(line)
        _lock_waiting(record, token, writer, stop_locking_at)
        text.detach()  # flushes, and leaves the binary file open for the upload
        raw.seek(0)
        db.files.upload(key, raw)  # type: ignore[arg-type]
    totals = writer.totals
    done = db.claim_files.finish(record, token, totals.line_count, totals.as_dict(), key)
    log.info("claim file ready", extra={"claim_file_id": record.claim_file_id, "lines": totals.line_count})
    return done


def _chunks(items: Iterable[PaymentLine] | list[str], size: int) -> Iterator[tuple]:
    it = iter(items)
    while chunk := tuple(itertools.islice(it, size)):
        yield chunk


def _lock_waiting(record: ClaimFile, token: str, writer: claim_file.Writer, stop_at: float) -> None:
    """Lock the waiting lines, PARALLEL_LOCKS batches at a time, writing each batch's lines once it is locked."""
    db = store()
    waiting = db.lines.queued(record.programme_id, record.period, record.owner_org_id, record.payee_org_id)
    done = 0

    def collect(finished: set[Future]) -> None:
        nonlocal done
        for future in finished:
            for line in future.result():
                writer.add(line)
            done += 1
            if done % PROGRESS_EVERY == 0:
                db.claim_files.record_progress(record.claim_file_id, token, writer.totals.line_count)

    with ThreadPoolExecutor(PARALLEL_LOCKS) as pool:
        running: set[Future] = set()
        for n, batch in enumerate(_chunks(waiting, LOCK_BATCH)):
            if time.monotonic() > stop_at:
                break  # the rest waits for the next file
            running.add(pool.submit(_lock, record.claim_file_id, f"{token}#{n:06d}", list(batch)))
            if len(running) >= 2 * PARALLEL_LOCKS:  # a bounded number of batches in memory
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                collect(finished)
        collect(wait(running).done)


def _lock(fid: str, part: str, batch: list[PaymentLine]) -> list[PaymentLine]:
    """The lines of the batch this build locked: all, or (another cut took or changed some) one by one."""
    try:
        store().lines.lock(fid, part, batch)
        return batch
    except ConcurrentUpdate:
        locked = []
        for i, line in enumerate(batch):
            try:
                store().lines.lock(fid, f"{part}.{i:02d}", [line])
                locked.append(line)
            except ConcurrentUpdate:
                continue
        return locked


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

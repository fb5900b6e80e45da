"""Payment lines and claim files in DynamoDB."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import PynamoDBException

from ..domain.errors import AlreadyClaimed, ConcurrentUpdate, Conflict, MadeMeanwhile
from ..domain.parties import DELIVERER
from ..payments.claim_file import BUILDING, READY, ClaimFile
from ..payments.lines import (
    APPROVED,
    FILED,
    ORGANISATION,
    PENDING_APPROVAL,
    REJECTED,
    REMOVED,
    SUBMITTED,
    PaymentLine,
)
from .models import ClaimFileItem, FilePartItem, FileQueue, PaymentLineItem
from .repository import all_equal, forget, get_item, query_page
from .transaction import Transaction, aws_error_code, low_level_client, translate_read_error

__all__ = ["APPROVED", "FILED", "REJECTED", "SUBMITTED"]


def _queued(line: PaymentLine) -> dict[str, str | None]:
    """Approved lines not yet in a file sit in the sparse file-queue index; all others stay out of it."""
    if line.claimable:
        return {"queue_programme_id": line.programme_id, "queue_key": f"{line.period}#{line.line_id}"}
    return {"queue_programme_id": None, "queue_key": None}


def to_item(line: PaymentLine, actor: str, now: datetime) -> PaymentLineItem:
    data: dict[str, Any] = {**asdict(line), **_queued(line)}
    data["event_date"] = line.event_date.isoformat()
    data["last_day_on_provision"] = line.last_day_on_provision.isoformat() if line.last_day_on_provision else None
    data["contact_ids"] = list(line.contact_ids)
    return PaymentLineItem(**data, listed_at=f"{line.period}#{line.line_id}", period=line.period,
                           created_at=now.isoformat(), created_by=actor)


def to_line(item: PaymentLineItem) -> PaymentLine:
    return _line(lambda name: getattr(item, name))


def _line(field: Callable[[str], Any]) -> PaymentLine:
    """A line from its stored fields, however they were read (a model, or a raw item of the file queue)."""
    last_day = field("last_day_on_provision")
    return PaymentLine(
        line_id=field("line_id"), referral_id=field("referral_id"), programme_id=field("programme_id"),
        participant_ref=field("participant_ref"), kind=field("kind"), fee_id=field("fee_id"),
        milestone=field("milestone"), funder=field("funder"), payee_org_id=field("payee_org_id"),
        prime_org_id=field("prime_org_id"), management_fee_bp=int(field("management_fee_bp") or 0),
        amount_pence=int(field("amount_pence")), prime_retained_pence=int(field("prime_retained_pence") or 0),
        payee_net_pence=int(field("payee_net_pence")), status=field("status"),
        event_date=date.fromisoformat(field("event_date")), evidence_ref=field("evidence_ref"),
        reason=field("reason"), reverses_line_id=field("reverses_line_id"), claim_file_id=field("claim_file_id"),
        version=int(field("version") or 1), funder_org_id=field("funder_org_id") or "",
        payer_org_id=field("payer_org_id"), line_ref=field("line_ref") or "", provider_ref=field("provider_ref"),
        last_day_on_provision=date.fromisoformat(last_day) if last_day else None,
        payee_role=field("payee_role") or DELIVERER, contact_ids=tuple(str(c) for c in field("contact_ids") or ()),
        payee_kind=field("payee_kind") or ORGANISATION, payee_name=field("payee_name"), category=field("category"),
        barrier_id=field("barrier_id"), requested_by=field("requested_by"),
        authority_org_id=field("authority_org_id"))


def _raw_fields(raw: dict[str, Any]) -> Callable[[str], Any]:
    return lambda name: _raw_value(raw.get(name))


def _raw_value(value: dict[str, Any] | None) -> Any:
    """A DynamoDB attribute value as Python (the types a line's attributes have)."""
    if not value:
        return None
    (kind, inner), = value.items()
    if kind == "N":
        return int(inner)
    if kind == "L":
        return [_raw_value(v) for v in inner]
    return None if kind == "NULL" else inner


def add_line(tx: Transaction, line: PaymentLine, actor: str, now: datetime) -> None:
    """A new line, only if its deterministic id is unused: a milestone is paid at most once."""
    tx.put(to_item(line, actor, now), condition=PaymentLineItem.line_id.does_not_exist(),
           on_fail=lambda: AlreadyClaimed(line.line_id))


def get_line(line_id: str) -> PaymentLine | None:
    item = get_item(PaymentLineItem, line_id)
    return to_line(item) if item else None


def add_decision(tx: Transaction, line: PaymentLine, approve: bool, reason: str | None, actor: str,
                 now: datetime) -> None:
    """Approve or reject a submitted line (a line is decided once; a filed line is never touched)."""
    actions = [PaymentLineItem.status.set(APPROVED if approve else REJECTED),
               PaymentLineItem.decided_at.set(now.isoformat()), PaymentLineItem.decided_by.set(actor),
               PaymentLineItem.version.add(1)]
    if approve and replace(line, status=APPROVED).claimable:
        actions += [PaymentLineItem.queue_programme_id.set(line.programme_id),
                    PaymentLineItem.queue_key.set(f"{line.period}#{line.line_id}")]
    else:
        actions.append(PaymentLineItem.reason.set(reason or ""))
    tx.update(PaymentLineItem(line_id=line.line_id), actions=actions,
              condition=(PaymentLineItem.status == SUBMITTED) & (PaymentLineItem.version == line.version))


def add_spot_decision(tx: Transaction, line: PaymentLine, approve: bool, reason: str | None, actor: str,
                      now: datetime) -> None:
    """The coordinator's decision on a spot purchase waiting for it: submitted to the payer, or rejected."""
    actions = [PaymentLineItem.status.set(SUBMITTED if approve else REJECTED),
               PaymentLineItem.decided_at.set(now.isoformat()), PaymentLineItem.decided_by.set(actor),
               PaymentLineItem.version.add(1)]
    if not approve:
        actions.append(PaymentLineItem.reason.set(reason or ""))
    tx.update(PaymentLineItem(line_id=line.line_id), actions=actions,
              condition=(PaymentLineItem.status == PENDING_APPROVAL) & (PaymentLineItem.version == line.version),
              on_fail=lambda: Conflict("the spot purchase was decided first", reason="already_decided"))


_INDEXES = {"payee": PaymentLineItem.by_payee, "prime": PaymentLineItem.by_prime, "payer": PaymentLineItem.by_payer}


def list_lines(view: str, org_id: str, limit: int, cursor: str | None, *, status: str | None = None,
               programme_id: str | None = None, period: str | None = None, payee_org_id: str | None = None,
               ) -> tuple[list[PaymentLine], str | None]:
    if view == "payee" and payee_org_id:
        # The index's own key: DynamoDB refuses a filter on it (it is the organisation queried, or nothing).
        if payee_org_id != org_id:
            return [], None
        payee_org_id = None
    condition = all_equal((PaymentLineItem.status, status), (PaymentLineItem.programme_id, programme_id),
                          (PaymentLineItem.payee_org_id, payee_org_id))
    range_condition = PaymentLineItem.listed_at.startswith(f"{period}#") if period else None
    items, next_cursor = query_page(_INDEXES[view], org_id, f"lines:{view}:{org_id}", limit, cursor,
                                    range_condition, condition)
    return [to_line(i) for i in items], next_cursor


def all_lines(view: str, org_id: str, period: str) -> Iterator[PaymentLine]:
    """Every line of one organisation and period, page by page (for the cascade statement)."""
    index = _INDEXES[view]
    try:
        for item in index.query(org_id, PaymentLineItem.listed_at.startswith(f"{period}#")):
            yield to_line(item)
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def lines_of_referral(referral_id: str) -> list[PaymentLine]:
    try:
        return [to_line(i) for i in PaymentLineItem.by_referral.query(referral_id)]
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


# ---------------------------------------------------------------- claim files


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _claim_file(item: ClaimFileItem) -> ClaimFile:
    return ClaimFile(claim_file_id=item.claim_file_id, programme_id=item.programme_id, period=item.period,
                     owner_org_id=item.owner_org_id, status=item.status, created_at=item.created_at,
                     created_by=item.created_by, payee_org_id=item.payee_org_id,
                     line_count=int(item.line_count or 0), totals=dict(item.totals or {}), s3_key=item.s3_key,
                     sample_seed=item.sample_seed, sample_rate_bp=_int(item.sample_rate_bp),
                     sample_size=_int(item.sample_size), sample_checked=int(item.sample_checked or 0),
                     sampled_by=item.sampled_by, removed_line_count=int(item.removed_line_count or 0),
                     removed_pence=int(item.removed_pence or 0),
                     paid_on=date.fromisoformat(item.paid_on) if item.paid_on else None,
                     paid_pence=_int(item.paid_pence), paid_reference=item.paid_reference, paid_by=item.paid_by,
                     build_token=item.build_token, build_until=int(item.build_until or 0),
                     locked_lines=int(item.locked_lines or 0))


def get_file(claim_file_id: str) -> ClaimFile | None:
    item = get_item(ClaimFileItem, claim_file_id)
    return _claim_file(item) if item else None


_CUT_FIELDS = ("claim_file_id", "programme_id", "period", "payee_org_id", "owner_org_id", "status", "line_count",
               "totals", "s3_key", "created_at", "created_by")


def add_file(tx: Transaction, record: ClaimFile) -> None:
    """The file's record, in the cut's transaction, only if no other cut created it meanwhile, or is creating it
    (then the cut runs again, and finds it once that cut has committed)."""
    forget(ClaimFileItem, record.claim_file_id)  # read afresh from now on (the build, once committed)
    fields = asdict(record)

    def made() -> Exception:
        return MadeMeanwhile(f"claim file {record.claim_file_id} was cut by another request")

    # Made first, or being made by another cut's transaction as this one commits: either way, run again.
    tx.put(ClaimFileItem(**{k: fields[k] for k in _CUT_FIELDS}), condition=ClaimFileItem.claim_file_id.does_not_exist(),
           on_fail=made, on_conflict=made)


def queued_lines(programme_id: str, up_to_period: str, owner: str, payee: str | None = None,
                 page_size: int = 1000) -> Iterator[PaymentLine]:
    """Approved lines not in any file whose prime is `owner` (and payee `payee`), for a programme, with event
    periods up to and including `up_to_period` (the sparse file-queue index holds nothing else).

    The claim-file build's hot path, read with the low-level client: a 50,000-line file is 50,000 items, and
    making a model object of each cost more than the engine's own work. Pages of 1,000 (the engine's cost is
    per page as much as per item)."""
    names = {"#p": "queue_programme_id", "#k": "queue_key", "#o": "prime_org_id"}
    values: dict[str, Any] = {":p": {"S": programme_id}, ":k": {"S": f"{up_to_period}#\uffff"}, ":o": {"S": owner}}
    condition = "#o = :o"
    if payee:
        names["#y"], values[":y"], condition = "payee_org_id", {"S": payee}, condition + " AND #y = :y"
    request = {"TableName": PaymentLineItem.Meta.table_name, "IndexName": FileQueue.Meta.index_name,
               "KeyConditionExpression": "#p = :p AND #k <= :k", "FilterExpression": condition,
               "ExpressionAttributeNames": names, "ExpressionAttributeValues": values, "Limit": page_size}
    client = low_level_client()
    try:
        while True:
            page = client.query(**request)
            for raw in page.get("Items", []):
                yield _line(_raw_fields(raw))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except ClientError as exc:
        raise translate_read_error(exc) from None


_LOCK_NAMES = {"#f": "claim_file_id", "#s": "status", "#v": "version", "#qp": "queue_programme_id",
               "#qk": "queue_key"}


def lock_lines(claim_file_id: str, part: str, lines: list[PaymentLine]) -> None:
    """Put lines into a file in one transaction, with the part that records them: each line must still be
    approved, in no file, and as read (its version), so the row written for it is the line as stored.

    Written as the low-level request (one template, each line's id and version): the build sends 99 of these a
    transaction, and PynamoDB's model and expression objects per line cost more than the engine's work. Any
    failed condition is reported as a concurrent update: the build then locks the batch's lines one by one."""
    table = PaymentLineItem.Meta.table_name
    common = {":f": {"S": claim_file_id}, ":filed": {"S": FILED}, ":approved": {"S": APPROVED}, ":one": {"N": "1"}}
    items: list[dict[str, Any]] = [{"Update": {
        "TableName": table, "Key": {"line_id": {"S": line.line_id}},
        "UpdateExpression": "SET #f = :f, #s = :filed ADD #v :one REMOVE #qp, #qk",
        "ConditionExpression": "#s = :approved AND attribute_not_exists(#f) AND #v = :version",
        "ExpressionAttributeNames": _LOCK_NAMES,
        "ExpressionAttributeValues": {**common, ":version": {"N": str(line.version)}}}} for line in lines]
    part_item = FilePartItem(pk=_parts_pk(claim_file_id), sk=part, claim_file_id=claim_file_id,
                             line_ids=[x.line_id for x in lines])
    items.append({"Put": {"TableName": FilePartItem.Meta.table_name, "Item": part_item.serialize(),
                          "ConditionExpression": "attribute_not_exists(pk)"}})
    try:
        low_level_client().transact_write_items(TransactItems=items)
    except ClientError as exc:
        reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
        code = exc.response.get("Error", {}).get("Code")
        if code == "TransactionConflictException" or reasons & {"ConditionalCheckFailed", "TransactionConflict"}:
            raise ConcurrentUpdate("another build or decision changed these lines first") from None
        raise translate_read_error(exc) from None


def _parts_pk(claim_file_id: str) -> str:
    return f"file-parts#{claim_file_id}"


def file_parts(claim_file_id: str) -> Iterator[list[str]]:
    """The line ids of every lock committed for a file, by a consistent query of the table (not an index)."""
    try:
        for item in FilePartItem.query(_parts_pk(claim_file_id), consistent_read=True):
            yield [str(x) for x in item.line_ids or []]
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def get_lines(line_ids: list[str]) -> list[PaymentLine]:
    """Lines by id, read consistently (BatchGetItem), in the order asked."""
    try:
        found = {i.line_id: to_line(i) for i in PaymentLineItem.batch_get(line_ids, consistent_read=True)}
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None
    return [found[x] for x in line_ids if x in found]


def lines_in_file(claim_file_id: str, page_size: int = 500) -> Iterator[PaymentLine]:
    """A file's lines in line-id order, streamed page by page (memory does not grow with the file)."""
    try:
        for item in PaymentLineItem.by_file.query(claim_file_id, page_size=page_size):
            yield to_line(item)
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def _conditional_update(claim_file_id: str, actions: list, condition: Any) -> bool:
    forget(ClaimFileItem, claim_file_id)
    try:
        ClaimFileItem(claim_file_id=claim_file_id).update(actions=actions, condition=condition)
        return True
    except PynamoDBException as exc:
        if aws_error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise translate_read_error(exc) from None


def take_build(record: ClaimFile, token: str, now: int, until: int) -> ClaimFile | None:
    """Hold the file's build until `until` (epoch seconds), if it is building and no other worker holds it."""
    held = _conditional_update(
        record.claim_file_id, [ClaimFileItem.build_token.set(token), ClaimFileItem.build_until.set(until)],
        (ClaimFileItem.status == BUILDING) & (ClaimFileItem.build_until.does_not_exist()
                                              | (ClaimFileItem.build_until < now)))
    return replace(record, build_token=token, build_until=until) if held else None


def record_progress(claim_file_id: str, token: str, locked: int) -> None:
    _conditional_update(claim_file_id, [ClaimFileItem.locked_lines.set(locked)],
                        ClaimFileItem.build_token == token)


def release_build(claim_file_id: str, token: str) -> None:
    """Let another worker take the build now (this one stopped before finishing)."""
    _conditional_update(claim_file_id, [ClaimFileItem.build_until.set(0)],
                        (ClaimFileItem.build_token == token) & (ClaimFileItem.status == BUILDING))


def finish_file(record: ClaimFile, token: str, line_count: int, totals: dict, s3_key: str) -> ClaimFile:
    """The file is ready with the count and totals of the lines its build locked, only if that build still holds
    it: a second build (or a stale one) cannot overwrite them."""
    if not _conditional_update(
            record.claim_file_id,
            [ClaimFileItem.status.set(READY), ClaimFileItem.line_count.set(line_count),
             ClaimFileItem.totals.set(totals), ClaimFileItem.s3_key.set(s3_key),
             ClaimFileItem.locked_lines.set(line_count)],
            (ClaimFileItem.status == BUILDING) & (ClaimFileItem.build_token == token)):
        raise Conflict("another build of this claim file holds it", reason="build_taken_over")
    return replace(record, status=READY, line_count=line_count, totals=totals, s3_key=s3_key,
                   locked_lines=line_count)


# ---------------------------------------------------------------- validation and payment of a claim file


def start_sample(record: ClaimFile, seed: str, rate_bp: int, by: str, now: datetime) -> ClaimFile:
    """Record the sample's seed and rate before any line is drawn, once: a second draw with the same seed
    resumes; with another seed it is refused (the first seed stands)."""
    forget(ClaimFileItem, record.claim_file_id)
    try:
        ClaimFileItem(claim_file_id=record.claim_file_id).update(
            actions=[ClaimFileItem.sample_seed.set(seed), ClaimFileItem.sample_rate_bp.set(rate_bp),
                     ClaimFileItem.sampled_by.set(by), ClaimFileItem.sampled_at.set(now.isoformat())],
            condition=ClaimFileItem.sample_seed.does_not_exist() & ClaimFileItem.paid_on.does_not_exist())
    except PynamoDBException as exc:
        if aws_error_code(exc) != "ConditionalCheckFailedException":
            raise translate_read_error(exc) from None
        found = get_file(record.claim_file_id)
        if found is None or found.sample_seed != seed:
            raise Conflict("the claim file was sampled with another seed, or paid, first",
                           reason="sampled_with_another_seed") from None
        return found
    return replace(record, sample_seed=seed, sample_rate_bp=rate_bp, sampled_by=by)


def finish_sample(record: ClaimFile, size: int) -> ClaimFile:
    forget(ClaimFileItem, record.claim_file_id)
    ClaimFileItem(claim_file_id=record.claim_file_id).update(actions=[ClaimFileItem.sample_size.set(size)])
    return replace(record, sample_size=size)


def add_check_count(tx: Transaction, record: ClaimFile, removed: PaymentLine | None) -> None:
    """One more drawn line checked before payment (and, if it failed, removed from the claim): only while the
    file is unpaid."""
    actions = [ClaimFileItem.sample_checked.add(1)]
    if removed is not None:
        actions += [ClaimFileItem.removed_line_count.add(1), ClaimFileItem.removed_pence.add(removed.amount_pence)]
    tx.update(ClaimFileItem(claim_file_id=record.claim_file_id), actions=actions,
              condition=ClaimFileItem.paid_on.does_not_exist(),
              on_fail=lambda: Conflict("the claim file was paid first", reason="already_paid"))


def add_payment(tx: Transaction, record: ClaimFile, paid_on: date, reference: str, by: str, now: datetime) -> None:
    """The commissioner paid the file: what it paid is the file less the lines removed, as read (a check
    recorded meanwhile makes this fail rather than pay the wrong amount)."""
    tx.update(ClaimFileItem(claim_file_id=record.claim_file_id),
              actions=[ClaimFileItem.paid_on.set(paid_on.isoformat()), ClaimFileItem.paid_pence.set(
                  record.payable_pence), ClaimFileItem.paid_reference.set(reference), ClaimFileItem.paid_by.set(by),
                  ClaimFileItem.paid_at.set(now.isoformat())],
              condition=ClaimFileItem.paid_on.does_not_exist() & _checked_as_read(record.sample_checked))


def _checked_as_read(checked: int) -> Any:
    """The file's count of checks is still what was read (a file recorded before checks were counted has none)."""
    same = ClaimFileItem.sample_checked == checked
    return same | ClaimFileItem.sample_checked.does_not_exist() if checked == 0 else same


def add_removal(tx: Transaction, line: PaymentLine, reason: str, actor: str, now: datetime) -> None:
    """Take a filed, unpaid line out of its claim file's payment (validation failed before payment)."""
    tx.update(PaymentLineItem(line_id=line.line_id),
              actions=[PaymentLineItem.status.set(REMOVED), PaymentLineItem.reason.set(reason),
                       PaymentLineItem.decided_at.set(now.isoformat()), PaymentLineItem.decided_by.set(actor),
                       PaymentLineItem.version.add(1)],
              condition=(PaymentLineItem.status == FILED) & (PaymentLineItem.version == line.version))

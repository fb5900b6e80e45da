"""The access log on DynamoDB: one item per read of a participant's personal fields, in the controller's
partition (newest first), and by participant through the `by-participant` index."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pynamodb.exceptions import PynamoDBException

from ..domain.access_log import AccessEntry
from .models import AccessLogItem
from .repository import query_page
from .transaction import Transaction, translate_read_error


def _item(entry: AccessEntry) -> AccessLogItem:
    return AccessLogItem(
        controller_org_id=entry.controller_org_id, entry_key=entry.entry_key,
        participant_key=f"{entry.controller_org_id}#{entry.participant_ref}", participant_ref=entry.participant_ref,
        referral_id=entry.referral_id, reader_org_id=entry.reader_org_id, reader_key_id=entry.reader_key_id,
        what=entry.what, read_at=entry.read_at.isoformat(), entry_id=entry.entry_id)


def _entry(item: AccessLogItem) -> AccessEntry:
    return AccessEntry(
        controller_org_id=item.controller_org_id, participant_ref=item.participant_ref,
        referral_id=item.referral_id, reader_org_id=item.reader_org_id, reader_key_id=item.reader_key_id,
        what=item.what, read_at=datetime.fromisoformat(item.read_at), entry_id=item.entry_id)


def record(entries: Iterable[AccessEntry]) -> None:
    """Write entries outside any unit of work (a read has none): batched, 25 a request."""
    try:
        with AccessLogItem.batch_write() as batch:
            for entry in entries:
                batch.save(_item(entry))
    except PynamoDBException as exc:
        raise translate_read_error(exc) from None


def add(tx: Transaction, entry: AccessEntry) -> None:
    tx.put(_item(entry))


def page(controller_org_id: str, participant_ref: str | None, limit: int,
         cursor: str | None) -> tuple[list[AccessEntry], str | None]:
    """One page of the controller's entries, newest first: all of them, or one participant's."""
    if participant_ref:
        key = f"{controller_org_id}#{participant_ref}"
        items, next_cursor = query_page(AccessLogItem.by_participant, key, f"access:{key}", limit, cursor,
                                        scan_index_forward=False)
    else:
        items, next_cursor = query_page(AccessLogItem, controller_org_id, f"access:{controller_org_id}", limit,
                                        cursor, scan_index_forward=False)
    return [_entry(i) for i in items], next_cursor

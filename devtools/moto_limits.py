"""moto's DynamoDB as DynamoDB is today where moto differs: a TransactGetItems reads up to 100 items (AWS raised
the limit from 25 in September 2022; moto 5 still refuses more than 25), and refuses a request that reads one
item twice (moto reads it twice). Applied wherever the app runs on moto: the unit and API tests, and the local
run's fallback engine."""
from __future__ import annotations

import json

TRANSACT_GET_ITEMS_MAX = 100


def as_dynamodb_today() -> None:
    from moto.dynamodb import responses
    from moto.dynamodb.exceptions import MockValidationException

    responses.TRANSACTION_MAX_ITEMS = TRANSACT_GET_ITEMS_MAX
    handler = responses.DynamoHandler
    if getattr(handler.transact_get_items, "refuses_one_item_twice", False):
        return
    read = handler.transact_get_items

    def transact_get_items(self):  # type: ignore[no-untyped-def]
        named = [(g["Get"]["TableName"], json.dumps(g["Get"]["Key"], sort_keys=True))
                 for g in self.body.get("TransactItems", [])]
        if len(set(named)) != len(named):
            raise MockValidationException("Transaction request cannot include multiple operations on one item")
        return read(self)

    transact_get_items.refuses_one_item_twice = True  # type: ignore[attr-defined]
    handler.transact_get_items = transact_get_items

"""moto's DynamoDB as DynamoDB is today where moto lags behind: a TransactGetItems reads up to 100 items (AWS
raised the limit from 25 in September 2022; moto 5 still refuses more than 25). Applied wherever the app runs on
moto: the unit and API tests, and the local run's fallback engine."""
from __future__ import annotations

TRANSACT_GET_ITEMS_MAX = 100


def as_dynamodb_today() -> None:
    from moto.dynamodb import responses

    responses.TRANSACTION_MAX_ITEMS = TRANSACT_GET_ITEMS_MAX

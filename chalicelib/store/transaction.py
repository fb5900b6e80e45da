"""One DynamoDB transaction per request: every write of a request commits together or not at all.

Each operation carries the domain error to raise if its own condition fails, so a cancelled transaction is
reported as what it means (allocation full, person already active, concurrent update...), never as a botocore
error.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from .. import settings
from ..domain.errors import ConcurrentUpdate, ServiceUnavailable
from .connection import connection

_THROTTLED = {"ThrottlingException", "ProvisionedThroughputExceededException", "ThrottlingError",
              "ProvisionedThroughputExceeded", "RequestLimitExceeded", "InternalServerError", "InternalFailure",
              "ServiceUnavailable"}


def is_busy(code: str | None) -> bool:
    """An AWS error code, or a cancelled transaction's reason, meaning the database is busy (throttled, or an item
    still in another transaction): the same request may pass a moment later."""
    return code in _THROTTLED or code == "TransactionInProgressException"


def low_level_client() -> Any:
    """The botocore DynamoDB client the models and transactions share (store/connection.py), for the few hot paths
    that build their requests themselves (and calls PynamoDB does not make, such as a BatchGetItem across tables)."""
    return connection(settings.get().region).client


_SEND_ORDER = {"condition_check": 0, "delete": 1, "save": 2, "update": 3}


@dataclass
class _Op:
    kind: str
    item: Any
    kwargs: dict
    on_fail: Callable[[], Exception]
    on_conflict: Callable[[], Exception] | None = None


def _concurrent() -> Exception:
    return ConcurrentUpdate("another request changed this data first; retry the request")


class Transaction:
    def __init__(self) -> None:
        self._ops: list[_Op] = []
        self.after_commit: list[Callable[[], None]] = []

    def __len__(self) -> int:
        return len(self._ops)

    def put(self, item, condition=None, on_fail: Callable[[], Exception] = _concurrent,
            on_conflict: Callable[[], Exception] | None = None) -> None:
        """`on_conflict`: what it means when another request's transaction was writing this item at the same time
        (the default: a concurrent update, 409)."""
        self._ops.append(_Op("save", item, {"condition": condition}, on_fail, on_conflict))

    def update(self, item, actions, condition=None, on_fail: Callable[[], Exception] = _concurrent) -> None:
        self._ops.append(_Op("update", item, {"actions": actions, "condition": condition}, on_fail))

    def delete(self, item, condition=None, on_fail: Callable[[], Exception] = _concurrent) -> None:
        self._ops.append(_Op("delete", item, {"condition": condition}, on_fail))

    def check(self, model_cls, hash_key, range_key=None, condition=None,
              on_fail: Callable[[], Exception] = _concurrent) -> None:
        self._ops.append(_Op("condition_check", model_cls,
                             {"hash_key": hash_key, "range_key": range_key, "condition": condition}, on_fail))

    def commit(self) -> None:
        if self._ops:
            self._send()
        for callback in self.after_commit:
            callback()

    def _send(self) -> None:
        try:
            with TransactWrite(connection=connection(settings.get().region)) as tx:  # the models' connection
                for op in self._ops:
                    getattr(tx, op.kind)(op.item, **op.kwargs)
        except TransactWriteError as exc:
            raise self._translate(exc) from None
        except PynamoDBException as exc:
            raise _infrastructure_error(exc) from None

    def _translate(self, exc: TransactWriteError) -> Exception:
        reasons = exc.cancellation_reasons or []
        # PynamoDB sends condition checks, then deletes, puts and updates: the reasons come in that order.
        sent = sorted(self._ops, key=lambda op: _SEND_ORDER[op.kind])
        for op, reason in zip(sent, reasons, strict=False):
            if reason is not None and reason.code == "ConditionalCheckFailed":
                return op.on_fail()
        for op, reason in zip(sent, reasons, strict=False):
            if reason is not None and reason.code == "TransactionConflict" and op.on_conflict is not None:
                return op.on_conflict()
        codes = {r.code for r in reasons if r is not None}
        if "TransactionConflict" in codes or aws_error_code(exc) == "TransactionConflictException":
            return _concurrent()
        return _infrastructure_error(exc)


def aws_error_code(exc: PynamoDBException) -> str | None:
    """The AWS error code behind a PynamoDB error (None for a timeout or connection failure)."""
    response = getattr(getattr(exc, "cause", None), "response", None) or {}
    return response.get("Error", {}).get("Code")


def _infrastructure_error(exc: PynamoDBException) -> Exception:
    code = aws_error_code(exc)
    cause = getattr(exc, "cause", None)
    if is_busy(code) or _is_timeout(cause):
        return ServiceUnavailable("the database is busy or did not answer in time; retry shortly", retry_after=1)
    return exc


def _is_timeout(cause) -> bool:
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    return isinstance(cause, (ConnectTimeoutError, ReadTimeoutError))


def translate_read_error(exc: Exception) -> Exception:
    """Map a failed read to a domain error (throttled or timed out: 503)."""
    if isinstance(exc, PynamoDBException):
        return _infrastructure_error(exc)
    if isinstance(exc, ClientError):
        return ServiceUnavailable("the database is busy; retry shortly", retry_after=1)
    return exc


__all__ = ["Transaction", "translate_read_error"]

"""One botocore session and one DynamoDB client per container, shared by every model and the transactions.

PynamoDB left alone gives each model class its own `Connection`, and each connection its own botocore session
(one per thread) and client: a request touching six tables would build six sessions and six clients (loading the
service model, the endpoint rules and the credential chain each time) before its first call. Here every model
(`SharedModel`, the base of chalicelib/store/models.py) and `store/transaction.py` use the one `Connection` of
their region, whose session and client are made once, under a lock: botocore sessions are not safe to make
clients from in parallel (the claim-file worker locks lines from several threads), while a client, once made, is.
"""
from __future__ import annotations

import threading
from typing import Any

import botocore.session
from pynamodb.connection import Connection, TableConnection
from pynamodb.models import Model

_lock = threading.RLock()
_session: botocore.session.Session | None = None
_connections: dict[str, SharedConnection] = {}


def session() -> botocore.session.Session:
    """The container's botocore session, made on first use."""
    global _session
    with _lock:
        if _session is None:
            _session = botocore.session.get_session()
        return _session


class SharedConnection(Connection):
    """A PynamoDB connection that takes the container's session and makes its client once, under the lock."""

    @property
    def session(self) -> botocore.session.Session:
        return session()

    @property
    def client(self) -> Any:
        with _lock:  # PynamoDB remakes a client whose credentials came back empty: checked under the lock too
            return super().client


def connection(region: str | None) -> SharedConnection:
    """The one connection (and client) of a region, shared by every model and transaction."""
    with _lock:
        key = region or ""
        if key not in _connections:
            _connections[key] = SharedConnection(region=region)
        return _connections[key]


def reset() -> None:
    """Forget the session and the connections: the next call makes new ones (a benchmark counting a cold
    container's calls, a test counting sessions)."""
    global _session
    with _lock:
        _session = None
        _connections.clear()


class SharedModel(Model):
    """The base of every model: its table's operations go through the region's shared connection."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        table = cls._connection
        shared = connection(cls.Meta.region)
        if table is None or table.table_name != cls.Meta.table_name or table.connection is not shared:
            table = super()._get_connection()  # the table's schema; its own Connection is never used
            meta = table.connection.get_meta_table(table.table_name)
            with _lock:
                shared._tables.setdefault(table.table_name, meta)  # models sharing a table describe it alike
            table.connection = shared
        return table

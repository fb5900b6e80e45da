"""The store the use cases run against: DynamoDB unless a test (or a tool) installs another, e.g. the in-memory
fake of tests/fakes/memory.py. Created on first use, once per container."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .ports import Store

_store: Store | None = None


def store() -> Store:
    global _store
    if _store is None:
        from ..store import dynamo

        _store = Store(**dynamo.components())
    return _store


def use(replacement: Store | None) -> None:
    """Install a store (None: back to DynamoDB on next use)."""
    global _store
    _store = replacement


@contextlib.contextmanager
def using(replacement: Store) -> Iterator[Store]:
    previous = _store
    use(replacement)
    try:
        yield replacement
    finally:
        use(previous)

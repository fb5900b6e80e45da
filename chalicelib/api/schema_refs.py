"""Schemas named, not imported: what a cold start does not pay for.

The route declarations and the renderers refer to api/schemas.py's classes as `s.ReferralIn`, `s.ReferralOut`...
with `from .schema_refs import schemas as s`. At run time each such name is a `SchemaRef`: marshmallow and
api/schemas.py are imported the first time a request is validated, a body rendered or the OpenAPI document
generated, not when the app is imported (what a new Lambda container pays before its first request). For the type
checker `s` is api/schemas.py itself, so every name used is checked against the classes it defines.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from marshmallow import Schema

    from ..domain.steps import StepDef


class SchemaRef:
    """A schema class by name, imported on first use. Calling it makes a schema instance, as the class would."""

    __slots__ = ("_make", "_schema", "name")

    def __init__(self, name: str, make: Callable[[], type[Schema]]) -> None:
        self.name = name
        self._make = make
        self._schema: type[Schema] | None = None

    def resolve(self) -> type[Schema]:
        schema = self._schema
        if schema is None:
            with _resolving:  # a step's schema class is made once, whichever thread asks first
                if self._schema is None:
                    self._schema = self._make()
                schema = self._schema
        return schema

    def __call__(self, **kwargs: Any) -> Schema:
        return self.resolve()(**kwargs)

    def __repr__(self) -> str:
        return f"SchemaRef({self.name!r})"


_resolving = threading.RLock()


def schema_class(schema: type[Schema] | SchemaRef) -> type[Schema]:
    """The class itself, importing it if it was only named."""
    return schema.resolve() if isinstance(schema, SchemaRef) else schema


def _module() -> Any:
    return import_module(".schemas", __package__)


class _Names:
    """`s.ReferralOut` -> the SchemaRef of api/schemas.py's ReferralOut (one per name)."""

    def __getattr__(self, name: str) -> SchemaRef:
        if name.startswith("_"):
            raise AttributeError(name)
        ref = SchemaRef(name, lambda: getattr(_module(), name))
        self.__dict__[name] = ref
        return ref

    @staticmethod
    def step_schema(step: StepDef) -> SchemaRef:
        """The request schema of a journey step (api/schemas.py step_schema), made on first use."""
        return SchemaRef(f"step:{step.name}", lambda: _module().step_schema(step))


if TYPE_CHECKING:
    from . import schemas
else:
    schemas = _Names()

__all__ = ["SchemaRef", "schema_class", "schemas"]

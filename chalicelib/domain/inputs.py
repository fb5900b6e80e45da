"""What a journey step takes as input, declared as plain values.

A step's registry entry says which fields its request carries (a date, a reason from a list, hours...). The API
layer turns these declarations into request schemas and the OpenAPI document; the domain functions receive the
values already typed (dates as `date`, hours as `Decimal`). Nothing here validates a request itself.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Input:
    kind: str                       # date | text | choice | int | decimal | bool | object | list
    required: bool = True
    description: str = ""
    max_length: int | None = None   # text
    choices: tuple[str, ...] = ()   # choice
    minimum: int | None = None      # int, decimal
    maximum: int | None = None      # int, decimal
    places: int | None = None       # decimal
    default: object = None          # bool
    fields: Mapping[str, Input] = field(default_factory=dict)  # object; a list's item object
    max_items: int | None = None    # list


def Date(required: bool = True, description: str = "") -> Input:
    return Input("date", required, description)


def Text(max_length: int, required: bool = True, description: str = "") -> Input:
    return Input("text", required, description, max_length=max_length)


def Choice(choices: tuple[str, ...], required: bool = True, description: str = "") -> Input:
    return Input("choice", required, description, choices=tuple(choices))


def Int(minimum: int, maximum: int, required: bool = True, description: str = "") -> Input:
    return Input("int", required, description, minimum=minimum, maximum=maximum)


def Decimal(minimum: int, maximum: int, places: int = 2, required: bool = True, description: str = "") -> Input:
    return Input("decimal", required, description, minimum=minimum, maximum=maximum, places=places)


def Bool(default: bool = False, description: str = "") -> Input:
    return Input("bool", False, description, default=default)


def Object(fields: Mapping[str, Input], required: bool = True, description: str = "") -> Input:
    return Input("object", required, description, fields=dict(fields))


def List(fields: Mapping[str, Input], max_items: int, required: bool = False, description: str = "") -> Input:
    """A list of up to `max_items` objects, each with `fields`."""
    return Input("list", required, description, fields=dict(fields), max_items=max_items)

"""Looking for a person's details in plain text: every item of every table, and any text such as log lines."""
from __future__ import annotations

import json
import re
from datetime import date
from typing import Any


def variants(person: dict[str, str]) -> set[str]:
    """The forms a person's details could be written in: as given, spaced, compact, lower case, dates as written
    in the UK."""
    nino = person["nino"].replace(" ", "").upper()
    postcode = person["postcode"].upper()
    born = date.fromisoformat(person["date_of_birth"])
    forms = {nino, nino[:8], " ".join([nino[:2], nino[2:4], nino[4:6], nino[6:8], nino[8:]]).strip(),
             person["given_name"], person["family_name"], postcode, postcode.replace(" ", ""),
             born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%Y%m%d")}
    return {f for f in forms if f} | {f.lower() for f in forms if f}


def found_in(text: str, person: dict[str, str]) -> set[str]:
    haystack = text.lower()
    return {form for form in variants(person) if form.lower() in haystack}


def all_items() -> dict[str, list[dict[str, Any]]]:
    """Every item of every table (a test's scan, past the API: the store never scans)."""
    import boto3

    client = boto3.client("dynamodb")
    out: dict[str, list[dict[str, Any]]] = {}
    for table in client.list_tables()["TableNames"]:
        items, kwargs = [], {"TableName": table, "ConsistentRead": True}
        while True:
            page = client.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        out[table] = items
    return out


def text_of(item: dict[str, Any]) -> str:
    """An item as text; binary attributes (sealed values) as the text a byte-level search would see."""
    def plain(value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return value.decode("latin-1")
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value
    return json.dumps(plain(item), default=str, ensure_ascii=False)


def leaks(person: dict[str, str], tables: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, set[str]]]:
    """(table, item key, forms found) for every item holding one of the person's details in plain text."""
    out = []
    for table, items in tables.items():
        for item in items:
            found = found_in(text_of(item), person)
            if found:
                out.append((table, next(iter(item.values())).__repr__()[:80], found))
    return out


_NINO_SHAPE = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")


def nino_shaped(text: str) -> list[str]:
    return _NINO_SHAPE.findall(text)

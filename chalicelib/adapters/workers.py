"""Background work deployed as asynchronous Lambda invocations (the client is created on first use)."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _client() -> Any:
    import boto3

    return boto3.client("lambda")


def invoke_async(function_name: str, payload: dict[str, Any]) -> None:
    """Run `function_name` with `payload` in the background: Lambda queues the event, retries a failed run twice,
    and answers at once."""
    _client().invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload).encode())

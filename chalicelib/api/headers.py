"""Headers every HTTP response carries, whatever it holds.

`Cache-Control: no-store`: responses may carry personal data, which no browser, proxy or gateway cache may keep.
`X-Content-Type-Options: nosniff`: a client takes the declared media type, never guesses one from the content.
`Strict-Transport-Security`: a browser that met the API once over HTTPS never uses plain HTTP for it again (browsers
ignore the header over plain HTTP, so the local server may send it too). API Gateway's own error responses carry
the same headers (infra/template.json).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

HSTS = "max-age=31536000; includeSubDomains"
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                    "Strict-Transport-Security": HSTS}


def security_headers(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice HTTP middleware: the headers above on every response."""
    response = get_response(event)
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response

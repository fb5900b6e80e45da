"""RFC 9457 problem details: the one place errors become HTTP responses."""
from __future__ import annotations

import json
import logging

from chalice import Response

from ..domain.errors import DomainError, FieldError, ValidationFailed

log = logging.getLogger("refpay.api")

PROBLEM_TYPE_BASE = "https://refpay.dev/problems/"
PROBLEM_JSON = "application/problem+json"

# Every domain error code -> (HTTP status, problem title). The only place a status is chosen for an error.
PROBLEMS: dict[str, tuple[int, str]] = {
    "bad-request": (400, "Bad request"),
    "validation-error": (422, "The request breaks a validation rule"),
    "referral-refused": (422, "The referral is refused by the programme's rules"),
    "claim-refused": (422, "The claim breaks a payment rule"),
    "idempotency-key-reused": (422, "This Idempotency-Key was used with a different request"),
    "invalid-transition": (409, "The referral's current state does not allow this"),
    "conflict": (409, "The resource changed or is already in use"),
    "concurrent-update": (409, "Another request changed this resource first; retry with the same Idempotency-Key"),
    "already-claimed": (409, "This milestone is already claimed or paid"),
    "erasure-refused": (409, "The law does not allow erasing these personal fields now (see reason)"),
    "not-found": (404, "Not found"),
    "unauthenticated": (401, "A valid API key is required"),
    "forbidden": (403, "Your role does not allow this"),
    "unsupported-media-type": (415, "Send the body as application/json"),
    "payload-too-large": (413, "The body is too large"),
    "method-not-allowed": (405, "The method is not allowed on this path"),
    "service-unavailable": (503, "The service is busy; retry later"),
}


def status_of(exc: DomainError) -> int:
    return PROBLEMS.get(exc.code, PROBLEMS["bad-request"])[0]


def problem_response(status: int, type_: str, title: str, detail: str, instance: str | None,
                     errors: list[FieldError] | None = None, extra: dict | None = None,
                     headers: dict | None = None) -> Response:
    body = {"type": PROBLEM_TYPE_BASE + type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    all_headers = {"Content-Type": PROBLEM_JSON, **(headers or {})}
    return Response(body=json.dumps(body), status_code=status, headers=all_headers)


def from_domain(exc: DomainError, instance: str | None) -> Response:
    status, title = PROBLEMS.get(exc.code, PROBLEMS["bad-request"])
    headers = {}
    retry_after = exc.extra.get("retry_after")
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="refpay"'
    if status == 405:
        headers["Allow"] = ", ".join(exc.extra["allow"])
    extra = {k: v for k, v in exc.extra.items() if k != "retry_after"}
    return problem_response(status, exc.code, title, exc.detail, instance, exc.errors, extra, headers)


def flatten_marshmallow(messages, prefix: str = "") -> list[FieldError]:
    """marshmallow's nested messages as a flat list of (field path, rule, message)."""
    out: list[FieldError] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix and key != "_schema" else (prefix or str(key))
            if key == "_schema":
                name = prefix or "(body)"
            out.extend(flatten_marshmallow(value, name))
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                out.extend(flatten_marshmallow(message, prefix))
            else:
                out.append(FieldError(prefix or "(body)", _rule_of(str(message)), str(message)))
    else:
        out.append(FieldError(prefix or "(body)", _rule_of(str(messages)), str(messages)))
    return out


_RULES = (
    ("Missing data for required field", "required"),
    ("Unknown field", "unknown_field"),
    ("Not a valid", "type"),
    ("Field may not be null", "not_null"),
    ("Must be one of", "one_of"),
    ("Length must be", "length"),
    ("Shorter than", "length"),
    ("Longer than", "length"),
    ("Must be greater", "range"),
    ("Must be less", "range"),
    ("Must be at", "range"),
)


def _rule_of(message: str) -> str:
    if message.startswith("[") and "]" in message:
        return message[1:message.index("]")]
    for prefix, rule in _RULES:
        if message.startswith(prefix):
            return rule
    return "invalid"


def validation_failed(messages, where: str = "") -> ValidationFailed:
    """A schema's refusal (marshmallow's messages) as the domain's validation error: a 422 problem naming each
    field and the rule it broke."""
    errors = flatten_marshmallow(messages, where)
    for e in errors:
        if e.message.startswith("[") and "]" in e.message:
            e.message = e.message[e.message.index("]") + 1:].strip()
    return ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors[:5]), errors)


def internal_error(instance: str | None, request_id: str | None) -> Response:
    return problem_response(500, "internal-error", "Internal error",
                            "the request failed; nothing was changed. Quote the request id when reporting it",
                            instance, extra={"request_id": request_id} if request_id else None)

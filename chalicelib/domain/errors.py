"""Domain exceptions. The API maps each to an RFC 9457 problem in exactly one place."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FieldError:
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class DomainError(Exception):
    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, errors: list[FieldError] | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra


class ValidationFailed(DomainError):
    """The request is well-formed JSON but breaks a rule about one or more fields."""

    status = 422
    type = "validation-error"
    title = "The request breaks a validation rule"

    @classmethod
    def one(cls, field_name: str, rule: str, message: str) -> "ValidationFailed":
        return cls(message, [FieldError(field_name, rule, message)])


class ReferralRefused(DomainError):
    """A referral the programme's rules do not allow (window, allocation, eligibility...)."""

    status = 422
    type = "referral-refused"
    title = "The referral is refused by the programme's rules"

    def __init__(self, reason: str, detail: str, errors: list[FieldError] | None = None):
        super().__init__(detail, errors, reason=reason)
        self.reason = reason


class InvalidTransition(DomainError):
    status = 409
    type = "invalid-transition"
    title = "The referral's current state does not allow this"

    def __init__(self, action: str, current_state: str, allowed_from: list[str]):
        super().__init__(
            f"'{action}' is not allowed while the referral is '{current_state}'"
            f" (allowed from: {', '.join(allowed_from) or 'nowhere'})",
            current_state=current_state,
            action=action,
        )
        self.current_state = current_state


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = "The resource changed or is already in use"


class ConcurrentUpdate(Conflict):
    type = "concurrent-update"
    title = "Another request changed this resource first; retry with the same Idempotency-Key"

    def __init__(self, detail: str, **extra):
        extra.setdefault("retry_after", 1)
        super().__init__(detail, **extra)


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = "Not found"


class Unauthenticated(DomainError):
    status = 401
    type = "unauthenticated"
    title = "A valid API key is required"


class Forbidden(DomainError):
    status = 403
    type = "forbidden"
    title = "Your role does not allow this"


class IdempotencyMismatch(DomainError):
    status = 422
    type = "idempotency-key-reused"
    title = "This Idempotency-Key was used with a different request"


class ServiceUnavailable(DomainError):
    status = 503
    type = "service-unavailable"
    title = "The service is busy; retry later"


class RulebookError(Exception):
    """A programme rulebook failed validation when loaded: names the file and the field."""

    def __init__(self, source: str, problems: dict):
        self.source = source
        self.problems = problems
        super().__init__(f"invalid rulebook {source}: {_flatten(problems)}")


def _flatten(problems, prefix: str = "") -> str:
    parts: list[str] = []
    if isinstance(problems, dict):
        for key, value in problems.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            parts.append(_flatten(value, name))
    elif isinstance(problems, list) and all(isinstance(p, str) for p in problems):
        parts.append(f"{prefix}: {' '.join(problems)}")
    else:
        parts.append(f"{prefix}: {problems}")
    return "; ".join(parts)

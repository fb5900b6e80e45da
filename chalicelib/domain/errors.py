"""Domain exceptions. Each carries a stable `code`; the API's problem map (chalicelib/api/problems.py) turns a code
into an HTTP status, a problem type URI and a title, in exactly one place. Nothing here knows about HTTP."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FieldError:
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


class DomainError(Exception):
    """A request the rules refuse. `code` is stable (clients and the problem map key on it)."""

    code = "bad-request"

    def __init__(self, detail: str, errors: list[FieldError] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra


class ValidationFailed(DomainError):
    """The request is well-formed JSON but breaks a rule about one or more fields."""

    code = "validation-error"

    @classmethod
    def one(cls, field_name: str, rule: str, message: str) -> ValidationFailed:
        return cls(message, [FieldError(field_name, rule, message)])


class ReferralRefused(DomainError):
    """A referral the programme's rules do not allow (window, allocation, eligibility...)."""

    code = "referral-refused"

    def __init__(self, reason: str, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail, errors, reason=reason)
        self.reason = reason


class InvalidTransition(DomainError):
    code = "invalid-transition"

    def __init__(self, action: str, current_state: str, allowed_from: list[str]) -> None:
        super().__init__(
            f"'{action}' is not allowed while the referral is '{current_state}'"
            f" (allowed from: {', '.join(allowed_from) or 'nowhere'})",
            current_state=current_state,
            action=action,
        )
        self.current_state = current_state


class Conflict(DomainError):
    code = "conflict"


class ConcurrentUpdate(Conflict):
    code = "concurrent-update"

    def __init__(self, detail: str, **extra: Any) -> None:
        extra.setdefault("retry_after", 1)
        super().__init__(detail, **extra)


class MadeMeanwhile(ConcurrentUpdate):
    """What the write would make was made by another request meanwhile (a cut of the same claim file with another
    key): the write runs again, once, against the state now, and then finds it."""


class NotFound(DomainError):
    code = "not-found"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class IdempotencyMismatch(DomainError):
    code = "idempotency-key-reused"


class ServiceUnavailable(DomainError):
    code = "service-unavailable"


class UnsupportedMediaType(DomainError):
    code = "unsupported-media-type"


class PayloadTooLarge(DomainError):
    code = "payload-too-large"


class MethodNotAllowed(DomainError):
    """The path exists, but not with this method: `allow` lists the methods it takes."""

    code = "method-not-allowed"

    def __init__(self, method: str, allow: list[str]) -> None:
        super().__init__(f"{method} is not allowed here; this path takes {', '.join(allow)}", allow=allow)


class ClaimRefused(DomainError):
    """A claim or payment action that breaks a payment rule (names the rule as `reason`)."""

    code = "claim-refused"

    def __init__(self, reason: str, detail: str, field: str = "(body)") -> None:
        super().__init__(detail, [FieldError(field, reason, detail)], reason=reason)
        self.reason = reason


class AlreadyClaimed(DomainError):
    code = "already-claimed"

    def __init__(self, line_id: str) -> None:
        super().__init__(f"line {line_id} already exists: a milestone is paid at most once", reason="already_claimed",
                         line_id=line_id)


class IdempotencyKeyTaken(Conflict):
    """Another request with the same Idempotency-Key committed first."""

    code = "concurrent-update"

    def __init__(self, scope_key: str) -> None:
        super().__init__("another request with this Idempotency-Key committed first", retry_after=1)
        self.scope_key = scope_key


class FlagExists(Exception):
    """The flag for this referral, rule and due date was raised before (an internal signal of the nightly run)."""


class WorkSettled(Exception):
    """A pending item the nightly run read was settled meanwhile: a step answered its deadline, or moved it (an
    internal signal of the nightly run: there is nothing left to flag)."""


class RulebookError(Exception):
    """A programme rulebook failed validation when loaded: names the file and the field."""

    def __init__(self, source: str, problems: Any) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid rulebook {source}: {_flatten(problems)}")


def _flatten(problems: Any, prefix: str = "") -> str:
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

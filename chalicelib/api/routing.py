"""How every endpoint is declared: one decorator registers the Chalice route, documents it for OpenAPI,
authenticates the caller, parses and validates input, runs writes in one idempotent transaction, and maps
every error to a problem response.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from chalice import Response
from marshmallow import Schema, ValidationError

from .. import clock
from ..logs import error_summary
from ..domain.errors import DomainError, IdempotencyMismatch, ValidationFailed
from ..store import repository as repo
from ..store.transaction import IdempotencyKeyTaken, Transaction
from . import problems
from .auth import api_key, principal_of

log = logging.getLogger("refpay.api")
JSON_TYPES = ("application/json",)
# Chalice would refuse other media types with a body of its own: every type reaches the view, which answers
# anything but JSON with a 415 problem.
ACCEPTED_CONTENT_TYPES = ["*/*"]
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class RouteDoc:
    path: str
    method: str
    summary: str
    tags: list[str]
    authenticated: bool
    roles: tuple[str, ...]
    body: type[Schema] | None
    query: type[Schema] | None
    response: type[Schema] | None
    status: int
    errors: tuple[int, ...] = field(default_factory=tuple)


ROUTES: list[RouteDoc] = []


@dataclass(frozen=True)
class Written:
    """What a write handler returns: the response to send (and store for idempotent replay)."""

    status: int
    body: dict
    location: str | None = None


def json_response(status: int, body: Any, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(body), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def _parse_body(request, schema: type[Schema]) -> dict:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    raw = request.raw_body or b""
    if content_type and content_type not in JSON_TYPES:
        raise _UnsupportedMediaType(content_type)
    if len(raw) > MAX_BODY_BYTES:
        raise _TooLarge(len(raw))
    try:
        document = json.loads(raw.decode("utf-8")) if raw else None
        # Text must be encodable as UTF-8 to be stored: a lone surrogate escape ("\ud800") is not.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise ValidationFailed.one("(body)", "utf8", "the body's text must be valid UTF-8 (no lone surrogates)") from None
    except RecursionError:
        raise ValidationFailed.one("(body)", "depth", "the body nests too deeply") from None
    except ValueError as exc:  # invalid JSON, or a number too long to read
        raise ValidationFailed.one("(body)", "json", f"the body is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(document, dict):
        raise ValidationFailed.one("(body)", "object", "the body must be a JSON object")
    return schema().load(document)


class _UnsupportedMediaType(DomainError):
    status = 415
    type = "unsupported-media-type"
    title = "Send the body as application/json"

    def __init__(self, given: str):
        super().__init__(f"Content-Type {given!r} is not supported; use application/json")


class _TooLarge(DomainError):
    status = 413
    type = "payload-too-large"
    title = "The body is too large"

    def __init__(self, size: int):
        super().__init__(f"the body is {size} bytes; at most {MAX_BODY_BYTES} are accepted")


def _parse_query(request, schema: type[Schema] | None) -> dict:
    params = dict(request.query_params or {})
    if schema is None:
        return {}
    return schema().load(params)

def _fingerprint(request, params: dict) -> str:
    raw = request.raw_body or b""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode() if raw else b""
    except (UnicodeDecodeError, json.JSONDecodeError):
        canonical = raw
    target = json.dumps([request.method, (request.context or {}).get("resourcePath", ""), params], sort_keys=True)
    return hashlib.sha256(target.encode() + b"\n" + canonical).hexdigest()


def _idempotency_key(request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationFailed.one("Idempotency-Key", "format", "a printable string of 1..255 characters")
    return key


def _replay(record, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise IdempotencyMismatch("this Idempotency-Key was first used with a different request; use a new key")
    headers = {"Idempotent-Replayed": "true"}
    if record.location:
        headers["Location"] = record.location
    return Response(body=record.body, status_code=int(record.status_code),
                    headers={"Content-Type": "application/json", **headers})


def run_write(principal, request, params: dict, handler: Callable[[Transaction], Written]) -> Response:
    """Run a write in one transaction, honouring Idempotency-Key (replay the first response; a reused key
    with a different body is refused; concurrent duplicates commit once)."""
    key = _idempotency_key(request)
    scope = f"{principal.org_id}#{key}" if key else None
    fingerprint = _fingerprint(request, params) if key else ""
    if scope:
        existing = repo.get_idempotency(scope)
        if existing is not None:
            return _replay(existing, fingerprint)
    tx = Transaction()
    written = handler(tx)
    body = json.dumps(written.body)
    if scope:
        repo.add_idempotency(tx, scope, fingerprint, written.status, body, written.location, clock.now())
    try:
        tx.commit()
    except (IdempotencyKeyTaken, DomainError):
        # A concurrent duplicate may have committed first: its response is the answer.
        existing = repo.get_idempotency(scope) if scope else None
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    headers = {"Location": written.location} if written.location else {}
    return Response(body=body, status_code=written.status, headers={"Content-Type": "application/json", **headers})


def endpoint(bp, path: str, method: str, *, summary: str, tags: list[str], roles: tuple[str, ...] | None = (),
             body: type[Schema] | None = None, query: type[Schema] | None = None,
             response: type[Schema] | None = None, status: int = 200, errors: tuple[int, ...] = ()):
    """Declare an endpoint. `roles=None` makes it public; otherwise the caller needs a valid key (and, where
    given, one of the roles; finer checks live in the services)."""
    authenticated = roles is not None
    ROUTES.append(RouteDoc(path, method, summary, tags, authenticated, tuple(roles or ()), body, query,
                           response, status, errors))

    def decorate(fn):
        @bp.route(path, methods=[method], authorizer=api_key if authenticated else None,
                  content_types=ACCEPTED_CONTENT_TYPES)
        @functools.wraps(fn)
        def view(**params):
            request = bp.current_request
            started = time.perf_counter()
            instance = _instance(request)
            response: Response
            org = None
            try:
                principal = principal_of(request) if authenticated else None
                org = principal.org_id if principal else None
                if principal and roles:
                    principal.require(*roles)
                args = _parse_query(request, query)
                if method == "GET":
                    response = json_response(status, fn(principal, params, args))
                else:
                    payload = _parse_body(request, body) if body else {}
                    response = run_write(principal, request, params,
                                         lambda tx: fn(principal, params, payload, tx))
            except DomainError as exc:
                response = problems.from_domain(exc, instance)
            except ValidationError as exc:
                response = problems.from_validation(exc, instance)
            except Exception as exc:  # noqa: BLE001 - the last resort: never leak a traceback or personal data
                log.error("unhandled error", extra={"route": f"{method} {path}", "error": error_summary(exc)})
                response = problems.internal_error(instance, _request_id(request))
            log.info("request", extra={"route": f"{method} {path}", "status": response.status_code,
                                        "org_id": org, "ms": round((time.perf_counter() - started) * 1000, 1),
                                        "request_id": _request_id(request)})
            return response

        return view

    return decorate


def _instance(request) -> str | None:
    return (request.context or {}).get("path") or None


def _request_id(request) -> str | None:
    return (request.context or {}).get("requestId")

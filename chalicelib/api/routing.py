"""How every endpoint is declared and served.

`@endpoint(...)` declares a route: its path, method, request and response schemas, roles and the errors it can
answer. Declarations are collected, not bound: `build_blueprint(routes)` turns a list of them into a Chalice
blueprint whose views authenticate the caller, parse and validate input, run writes idempotently in one unit of
work, and map every error to an RFC 9457 problem. The journey steps' routes are declared from the step registry
(steps.py), and the OpenAPI document is generated from the same list, so a route, its schema and its
documentation cannot drift apart.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from chalice import Blueprint, Response

from .. import settings
from ..domain.access import Principal
from ..domain.errors import DomainError, MethodNotAllowed, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from ..domain.idempotency import Needs, Resource
from ..logs import error_summary
from ..services import writes
from ..services.ports import UnitOfWork
from ..services.writes import Written
from . import problems
from .auth import api_key, principal_of
from .schema_refs import SchemaRef, schema_class

if TYPE_CHECKING:
    from marshmallow import Schema

    SchemaLike = type[Schema] | SchemaRef

log = logging.getLogger("refpay.api")
JSON_TYPES = ("application/json",)
# Chalice would refuse other media types with a body of its own: every type reaches the view, which answers
# anything but JSON with a 415 problem.
ACCEPTED_CONTENT_TYPES = ["*/*"]
MAX_BODY_BYTES = 1024 * 1024
# Every path answers these methods: the ones it does not take get a 405 problem naming those it does.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

__all__ = ["DECLARED", "RouteDoc", "Written", "build_blueprint", "endpoint", "json_response"]

ReadHandler = Callable[[Principal, dict, dict], Any]
WriteHandler = Callable[[Principal, dict, dict, UnitOfWork], Written]
Renderer = Callable[[Principal, Resource], Any]


@dataclass
class RouteDoc:
    path: str
    method: str
    summary: str
    tags: list[str]
    authenticated: bool
    roles: tuple[str, ...]
    body: SchemaLike | None  # a schema class or a SchemaRef to one (imported on first use: api/schema_refs.py)
    query: SchemaLike | None
    response: SchemaLike | None
    status: int
    errors: tuple[int, ...]
    handler: Callable[..., Any]
    name: str
    deprecated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    also: tuple[int, ...] = ()  # other success statuses, with the same body (e.g. 200: made before)
    # What else a write reads that only its request and caller tell (principal, params, payload -> Needs): read
    # ahead with its idempotency record too (the claim file a cut makes, the obligation a pass-through changes, the
    # payment lines whose ids the request fixes: a replay renders them from that one read).
    reads: Callable[[Principal, dict, dict], Needs] | None = None


# Routes declared with @endpoint at import time (the step routes are added from the registry when an app is built).
DECLARED: list[RouteDoc] = []
# How a replayed write re-renders what it made or changed: resource kind -> renderer.
RENDERERS: dict[str, Renderer] = {}


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        RENDERERS[kind] = fn
        return fn

    return register


def json_response(status: int, body: Any, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(body), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def route(path: str, method: str, *, summary: str, tags: list[str], roles: tuple[str, ...] | None = (),
          body: SchemaLike | None = None, query: SchemaLike | None = None,
          response: SchemaLike | None = None, status: int = 200, errors: tuple[int, ...] = (),
          handler: Callable[..., Any], name: str | None = None, deprecated: bool = False,
          also: tuple[int, ...] = (), reads: Callable[[Principal, dict, dict], Needs] | None = None) -> RouteDoc:
    """A route declaration. `roles=None` makes it public; otherwise the caller needs a valid key (and, where
    given, one of the roles; finer checks live in the services)."""
    return RouteDoc(path, method, summary, tags, roles is not None, tuple(roles or ()), body, query, response, status,
                    errors, handler, name or handler.__name__, deprecated, also=also, reads=reads)


def endpoint(path: str, method: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a route served by the decorated function (collected in DECLARED)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        DECLARED.append(route(path, method, handler=fn, **kwargs))
        return fn

    return decorate


# ------------------------------------------------------------------ request parsing


def _load(schema: SchemaLike, data: dict) -> dict:
    """`data` loaded with the route's schema (marshmallow is imported here, by the first request that validates
    input); what breaks a rule is a 422 problem naming each field and rule."""
    from marshmallow import ValidationError

    try:
        loaded: dict = schema_class(schema)().load(data)
    except ValidationError as exc:
        raise problems.validation_failed(exc.messages) from None
    return loaded


def _parse_body(request: Any, schema: SchemaLike) -> dict:
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    raw = request.raw_body or b""
    # A body is read only when it says it is JSON: a missing Content-Type is not taken for JSON. (An empty body
    # needs no type: it is an empty request.)
    if content_type not in JSON_TYPES and (raw or content_type):
        shown = repr(content_type[:100]) if content_type else "missing"
        raise UnsupportedMediaType(f"Content-Type {shown} is not supported; send the body as application/json")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {len(raw)} bytes; at most {MAX_BODY_BYTES} are accepted")
    try:
        document = json.loads(raw.decode("utf-8")) if raw else None
        # Text must be encodable as UTF-8 to be stored: a lone surrogate escape ("\ud800") is not.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise ValidationFailed.one("(body)", "utf8",
                                   "the body's text must be valid UTF-8 (no lone surrogates)") from None
    except RecursionError:
        raise ValidationFailed.one("(body)", "depth", "the body nests too deeply") from None
    except ValueError as exc:  # invalid JSON, or a number too long to read
        raise ValidationFailed.one("(body)", "json", f"the body is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(document, dict):
        raise ValidationFailed.one("(body)", "object", "the body must be a JSON object")
    return _load(schema, document)


def _parse_query(request: Any, schema: SchemaLike | None) -> dict:
    params = dict(request.query_params or {})
    if schema is None:
        return {}
    return _load(schema, params)


def _fingerprint(request: Any, params: dict) -> str:
    raw = request.raw_body or b""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode() if raw else b""
    except (UnicodeDecodeError, json.JSONDecodeError):
        canonical = raw
    target = json.dumps([request.method, (request.context or {}).get("resourcePath", ""), params], sort_keys=True)
    # Keyed: a plain hash of a body that names a person would let anyone holding the record confirm a guess of
    # who it was (and a NINO alone is few enough to try them all). The idempotency record holds nothing personal.
    return hmac.new(_fingerprint_key(), target.encode() + b"\n" + canonical, hashlib.sha256).hexdigest()


def _fingerprint_key() -> bytes:
    return hmac.new(settings.get().participant_key, b"idempotency-fingerprint", hashlib.sha256).digest()


def _idempotency_key(request: Any) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationFailed.one("Idempotency-Key", "format", "a printable string of 1..255 characters")
    return key


def _render(principal: Principal) -> Callable[[Resource | None], Any]:
    def render(resource: Resource | None) -> Any:
        if resource is None:
            return {}
        return RENDERERS[resource.kind](principal, resource)

    return render


def _write(doc: RouteDoc, principal: Principal, request: Any, params: dict, payload: dict) -> Response:
    outcome = writes.run(principal, _idempotency_key(request), _fingerprint(request, params),
                         lambda tx: doc.handler(principal, params, payload, tx), _render(principal),
                         writes.needs_of(params, payload,
                                         doc.reads(principal, params, payload) if doc.reads else Needs()))
    headers = {"Location": outcome.location} if outcome.location else {}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(outcome.status, outcome.body, headers)


# ------------------------------------------------------------------ serving


def _view(bp: Blueprint, doc: RouteDoc) -> Callable[..., Response]:
    def view(**raw: str) -> Response:
        request = bp.current_request
        # A client may percent-encode a path parameter (`%3A` for the `:` in a line id): the value is decoded here,
        # whether the gateway passed it encoded (`chalice local`) or decoded. An id never holds a `%` itself.
        params = {name: unquote(value) for name, value in raw.items()}
        started = time.perf_counter()
        instance = (request.context or {}).get("path") or None
        response: Response
        org = None
        try:
            principal = principal_of(request) if doc.authenticated else None
            org = principal.org_id if principal else None
            if principal and doc.roles:
                principal.require(*doc.roles)
            args = _parse_query(request, doc.query)
            if doc.method == "GET":
                response = json_response(doc.status, doc.handler(principal, params, args))
            else:
                payload = _parse_body(request, doc.body) if doc.body else {}
                response = _write(doc, principal, request, params, payload)  # type: ignore[arg-type]
        except DomainError as exc:
            response = problems.from_domain(exc, instance)
        except Exception as exc:
            log.error("unhandled error", extra={"route": f"{doc.method} {doc.path}", "error": error_summary(exc)})
            response = problems.internal_error(instance, _request_id(request))
        log.info("request", extra={"route": f"{doc.method} {doc.path}", "status": response.status_code,
                                    "org_id": org, "ms": round((time.perf_counter() - started) * 1000, 1),
                                    "request_id": _request_id(request)})
        return response

    return view


def _not_allowed(bp: Blueprint, allow: list[str]) -> Callable[..., Response]:
    """The view of the methods a path does not take: a 405 problem with an Allow header, from the API itself (so
    the deployed gateway, which would otherwise answer an unknown method as an unknown path, and the local server
    answer alike). It needs no key: which methods a path takes is public in the OpenAPI document."""

    def view(**params: str) -> Response:
        request = bp.current_request
        return problems.from_domain(MethodNotAllowed(request.method, allow),
                                    (request.context or {}).get("path") or None)

    return view


def build_blueprint(routes: list[RouteDoc]) -> Blueprint:
    """A fresh blueprint serving `routes` (one per app: a blueprint answers the requests of the app it was
    registered with last), and a 405 problem for every other method on their paths."""
    bp = Blueprint(__name__)
    taken: dict[str, list[str]] = defaultdict(list)
    for doc in routes:
        view = _view(bp, doc)
        functools.update_wrapper(view, doc.handler)
        view.__name__ = doc.name
        # An authenticated route is metered per key (api_key_required: the usage plan's limits apply to the key
        # the authorizer names); a public one only by the stage's own throttle.
        bp.route(doc.path, methods=[doc.method], authorizer=api_key if doc.authenticated else None,
                 api_key_required=doc.authenticated, content_types=ACCEPTED_CONTENT_TYPES)(view)
        taken[doc.path].append(doc.method)
    for n, (path, methods) in enumerate(sorted(taken.items())):
        others = [m for m in METHODS if m not in methods]
        if others:
            bp.route(path, methods=others, content_types=ACCEPTED_CONTENT_TYPES,
                     name=f"method_not_allowed_{n}")(_not_allowed(bp, sorted(methods)))
    return bp


def _request_id(request: Any) -> str | None:
    value = (request.context or {}).get("requestId")
    return str(value) if value is not None else None

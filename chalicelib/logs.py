"""Structured JSON logs (Powertools Logger), a correlation id per request and per nightly run, and business
metrics as CloudWatch EMF (Powertools Metrics).

Only what is passed as `extra` is logged: never request bodies, never personal data. Errors are logged by
type and place only, since an exception's message may quote data.

Powertools is imported on first use (the first invocation, or the first metric), not when the app is imported:
every function of the app imports it at cold start, and most of them never log before they are invoked.
"""
from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

SERVICE = "refpay"
_logger: Logger | None = None
_metrics: Metrics | None = None


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (test runners swap it). Lambda sends stderr to CloudWatch like
    stdout, and a command-line user keeps stdout for the command's own output."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_logging() -> Logger:
    """The 'refpay' logger, formatted by Powertools; every 'refpay.*' module logger writes through it."""
    global _logger
    if _logger is None:
        from aws_lambda_powertools import Logger

        _logger = Logger(service=SERVICE, level=settings.get().log_level,
                         logger_handler=_StderrHandler(), serialize_stacktrace=False)
    return _logger


def set_correlation_id(value: str | None = None) -> str:
    correlation = value or str(uuid.uuid4())
    configure_logging().set_correlation_id(correlation)
    return correlation


_SAFE_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:#-]{1,64}")


def safe_correlation_id(value: str | None) -> str | None:
    """A client's X-Correlation-Id, if it is at most 64 characters of letters, digits and . _ : # - (it goes into
    every log line and back in a header); anything else is dropped, and the request gets an id of its own."""
    return value if value and _SAFE_CORRELATION_ID.fullmatch(value) else None


def error_summary(exc: BaseException) -> dict:
    """An exception's type and where it happened in our code, without its message."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if "site-packages" not in path:
            frames.append(f"{path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}:{tb.tb_lineno}")
        tb = tb.tb_next
    return {"type": type(exc).__name__, "at": frames[-6:]}


def metrics() -> Metrics:
    """The business metrics of this invocation, flushed as one EMF document when it ends."""
    global _metrics
    if _metrics is None:
        from aws_lambda_powertools import Metrics

        _metrics = Metrics(namespace="refpay", service=SERVICE)
    return _metrics


def count(name: str, value: int = 1) -> None:
    """A business metric (EMF): referrals, starts, outcomes, claims approved, flags raised..."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)


def pence(name: str, value: int) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    metrics().add_metric(name=name, unit=MetricUnit.NoUnit, value=value)


_tracer: Any = None


def tracer() -> Any:
    """The Powertools Tracer (X-Ray), created on the first invocation that needs it, and only where tracing is on:
    the X-Ray SDK is a large import that a cold start should not pay unless traces are wanted."""
    global _tracer
    if _tracer is None and settings.get().tracing:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service=SERVICE)
    return _tracer


def _traced(name: str, correlation: str, run: Callable[[], Any]) -> Any:
    active = tracer()
    if active is None:
        return run()
    with active.provider.in_subsegment(f"## {name}") as subsegment:
        subsegment.put_annotation("correlation_id", correlation)
        return run()


def middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every function: a correlation id in every log line, a trace segment per invocation
    (where tracing is on), metrics flushed once."""
    headers = getattr(event, "headers", None)
    context = getattr(event, "context", None)
    request_id = context.get("requestId") if isinstance(context, dict) else getattr(context, "aws_request_id", None)
    given = (headers or {}).get("x-correlation-id") if headers is not None else None
    correlation = set_correlation_id(safe_correlation_id(given) or request_id)
    name = getattr(event, "path", None) or type(event).__name__
    try:
        response = _traced(str(name), correlation, lambda: get_response(event))
    finally:
        if _metrics is not None and _metrics.metric_set:
            _metrics.flush_metrics()
    if headers is not None and hasattr(response, "headers"):
        response.headers["X-Correlation-Id"] = correlation
    return response

"""Structured JSON logs. Only what is passed as `extra` is logged: never request bodies or personal data."""
from __future__ import annotations

import json
import logging
import os
import sys

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S")}
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            # The exception's type and where it happened; its message may quote data, so it is left out.
            exc_type, _, tb = record.exc_info
            frames = []
            while tb is not None:
                path = tb.tb_frame.f_code.co_filename
                if "site-packages" not in path:  # our own frames say where it went wrong
                    frames.append(f"{path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}:{tb.tb_lineno}")
                tb = tb.tb_next
            entry["error"] = {"type": exc_type.__name__ if exc_type else None, "at": frames[-6:]}
        return json.dumps(entry, default=str)


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


def configure_logging() -> None:
    root = logging.getLogger("refpay")
    if getattr(root, "_refpay_configured", False):
        return
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(os.environ.get("REFPAY_LOG_LEVEL", "INFO"))
    root.propagate = False
    root._refpay_configured = True  # type: ignore[attr-defined]

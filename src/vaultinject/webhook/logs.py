"""One log line per event, as text or JSON; a decision's fields come from `extra={"decision": ...}`."""

from __future__ import annotations

import logging
import sys
import time

import msgspec

_encode = msgspec.json.encode


class LineFormatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        fields = dict(getattr(record, "decision", {}))
        message = record.getMessage()
        if record.exc_info:
            fields["error"] = repr(record.exc_info[1])
        if self.as_json:
            line = {"time": stamp, "level": record.levelname.lower(), "logger": record.name, "msg": message}
            return _encode({**line, **fields}).decode()
        extra = "".join(f" {key}={value}" for key, value in fields.items())
        return f"{stamp} {record.levelname.lower():<7} {message}{extra}"


def configure(level: str = "info", as_json: bool = False) -> None:
    """Log to stderr: our lines, and uvicorn's errors, in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter(as_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.error").setLevel("WARNING")

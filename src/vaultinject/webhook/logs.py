"""One log line per event, as text or JSON; a decision's fields come from `extra={"decision": ...}`.

Decisions are the webhook's hot path: once `configure()` has run, `decision_lines()` writes them without
the logging machinery (a record, a handler lock, a write per line cost more than the decision itself),
gathering the lines of one event-loop turn into one write.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any, TextIO

import msgspec

_encode = msgspec.json.encode
DECISIONS = "vaultinject.webhook"


def render(
    created: float, level: str, logger: str, message: str, fields: dict[str, Any], *, as_json: bool
) -> str:
    """A log line without its newline: the same shape for every logger."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
    if as_json:
        return _encode({"time": stamp, "level": level, "logger": logger, "msg": message, **fields}).decode()
    extra = "".join(f" {key}={value}" for key, value in fields.items())
    return f"{stamp} {level:<7} {message}{extra}"


class LineFormatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields = dict(getattr(record, "decision", {}))
        if record.exc_info:
            fields["error"] = repr(record.exc_info[1])
        level = record.levelname.lower()
        return render(record.created, level, record.name, record.getMessage(), fields, as_json=self.as_json)


class DecisionLines:
    """Decision lines for `stream`, written once per event-loop turn (at once outside a loop)."""

    def __init__(self, stream: TextIO, as_json: bool) -> None:
        self.stream, self.as_json = stream, as_json
        self._pending: list[str] = []

    def __call__(self, message: str, fields: dict[str, Any]) -> None:
        self._pending.append(render(time.time(), "info", DECISIONS, message, fields, as_json=self.as_json))
        if len(self._pending) > 1:
            return
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:
            self.flush()

    def flush(self) -> None:
        lines, self._pending = self._pending, []
        if lines:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()


_configured: list[DecisionLines] = []  # the writer `configure()` set up, if it ran


def configure(level: str = "info", as_json: bool = False, stream: TextIO | None = None) -> None:
    """Log to stderr: our lines, and uvicorn's errors, in one format."""
    sink = stream or sys.stderr
    handler = logging.StreamHandler(sink)
    handler.setFormatter(LineFormatter(as_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.error").setLevel("WARNING")
    logging.getLogger("httpx").setLevel("WARNING")  # a line per API request would bury the decisions
    _configured[:] = [DecisionLines(sink, as_json)]


def decision_lines() -> DecisionLines | None:
    """The fast writer for decision lines, when `configure()` set the format and decisions are logged."""
    if not _configured or not logging.getLogger(DECISIONS).isEnabledFor(logging.INFO):
        return None
    return _configured[0]

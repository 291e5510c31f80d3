"""One line per event, as text or JSON, with every known secret value scrubbed out.

Nothing passes a secret to the logger on purpose; the scrubber is the second line of defence, for
error texts that might quote one (a template error, a server message).
"""

from __future__ import annotations

import json
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "warning": 3, "err": 4, "error": 4}
REDACTED = "[redacted]"
_SHORTEST_SECRET = 4  # shorter strings ("true", "1") would scrub ordinary words


class Logger:
    """Vault-style lines: `2026-11-23T10:00:00.000Z [INFO]  agent: rendered file=/vault/secrets/db`."""

    def __init__(
        self, level: str = "info", log_format: str = "standard", stream: TextIO | None = None
    ) -> None:
        self.threshold = LEVELS.get(level, 2)
        self.json = log_format == "json"
        self.stream = stream or sys.stderr
        self._secrets: set[str] = set()
        self._longest_first: list[str] = []  # the scrub order, rebuilt only after secrets were added

    def add_secret(self, value: object) -> None:
        """Never print this value (or any string inside it)."""
        if isinstance(value, str):
            if len(value) >= _SHORTEST_SECRET and value not in self._secrets:
                self._secrets.add(value)
                self._longest_first = []
        elif isinstance(value, dict):
            for item in value.values():
                self.add_secret(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self.add_secret(item)

    def trace(self, message: str, **fields: Any) -> None:
        self._log(0, "TRACE", message, fields)

    def debug(self, message: str, **fields: Any) -> None:
        self._log(1, "DEBUG", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._log(2, "INFO", message, fields)

    def warn(self, message: str, **fields: Any) -> None:
        self._log(3, "WARN", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._log(4, "ERROR", message, fields)

    def _log(self, level: int, name: str, message: str, fields: dict[str, Any]) -> None:
        if level < self.threshold:
            return
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        if self.json:
            record = {
                "@timestamp": stamp,
                "@level": name.lower(),
                "@module": "agent",
                "@message": message,
                **fields,
            }
            line = json.dumps(record, default=str)
        else:
            extras = " ".join(f"{key}={_text(value)}" for key, value in fields.items())
            line = f"{stamp} [{name}]{' ' * (6 - len(name))}agent: {message}" + (
                f" {extras}" if extras else ""
            )
        self.stream.write(self.scrub(line) + "\n")
        self.stream.flush()

    def scrub(self, text: str) -> str:
        if len(self._longest_first) != len(self._secrets):
            self._longest_first = sorted(self._secrets, key=len, reverse=True)
        for secret in self._longest_first:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def _text(value: object) -> str:
    text = str(value)
    return json.dumps(text) if (" " in text or not text or '"' in text) else text

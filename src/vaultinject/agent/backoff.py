"""Jittered exponential backoff between a minimum and a maximum delay."""

from __future__ import annotations

import os

DEFAULT_MIN = 1.0
DEFAULT_MAX = 300.0
AUTH_ERROR_CAP = 30.0  # a healed Vault is noticed within 30 s even if the configured maximum is longer


class Backoff:
    """Delays that double from `minimum` to `maximum`, each jittered to 75-100 %, reset on success."""

    def __init__(self, minimum: float | None = None, maximum: float | None = None) -> None:
        self.minimum = DEFAULT_MIN if minimum is None else max(minimum, 0.001)
        self.maximum = max(self.minimum, DEFAULT_MAX if maximum is None else maximum)
        self.attempts = 0

    def next(self, *, retry_after: float | None = None, cap: float | None = None) -> float:
        """The delay before the next attempt; Vault's Retry-After is honoured when it is longer."""
        ceiling = min(self.maximum, cap) if cap is not None else self.maximum
        delay = min(ceiling, self.minimum * (2.0**self.attempts)) * (0.75 + 0.25 * _fraction())
        self.attempts += 1
        return max(delay, retry_after or 0.0)

    def reset(self) -> None:
        self.attempts = 0


def _fraction() -> float:
    """A random number in [0, 1] (the `random` module costs the agent ~2 ms of imports)."""
    return int.from_bytes(os.urandom(2), "big") / 0xFFFF

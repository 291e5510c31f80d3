"""Rate-limit quotas, as Vault enforces them: per client address, refused with 429 and `Retry-After`.

- `sys/quotas/rate-limit/:name` `{path, rate, interval, block_interval}` (LIST, read, write, delete);
  `path` is "" (global), a mount (`secret/`) or a path prefix; the most specific quota applies.
- `sys/quotas/config` `{enable_rate_limit_response_headers, rate_limit_exempt_paths}`.
- Over the limit: 429 `request path "<path>": rate limit quota exceeded`, with `Retry-After` (seconds) and,
  when response headers are enabled, `X-Ratelimit-Limit`, `-Remaining` and `-Reset` on every answer.
- Vault's default exempt paths (health, seal-status, unseal, ...) are never limited.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaultinject.lab.vault import fields, responses
from vaultinject.lab.vault.envelope import Response, VaultError, bad_request, multierror, not_found
from vaultinject.lab.vault.request import Request
from vaultinject.lab.vault.router import Router
from vaultinject.lab.vault.store import StorageView

if TYPE_CHECKING:
    from vaultinject.lab.vault.clock import Clock

DEFAULT_EXEMPT_PATHS = (
    "sys/generate-recovery-token/attempt",
    "sys/generate-recovery-token/update",
    "sys/generate-root/attempt",
    "sys/generate-root/update",
    "sys/health",
    "sys/seal-status",
    "sys/unseal",
)


@dataclass
class _Window:
    """One client's usage of one quota: requests in the current interval, and any block."""

    started: float
    count: int = 0
    blocked_until: float = 0.0


@dataclass
class RateLimitQuota:
    name: str
    path: str
    rate: float
    interval: int
    block_interval: int
    windows: dict[str, _Window] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "rate": self.rate,
            "interval": self.interval,
            "block_interval": self.block_interval,
            "type": "rate-limit",
            "role": "",
            "inheritable": False,
        }


class QuotaManager:
    """The quotas, persisted under `sys/quotas/`, and the per-client counting."""

    def __init__(self, storage: StorageView, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock
        self.lock = threading.Lock()
        self.quotas: dict[str, RateLimitQuota] = {}
        self.headers_enabled = False
        self.exempt_paths: tuple[str, ...] = DEFAULT_EXEMPT_PATHS
        self.load()

    def load(self) -> None:
        config = self.storage.get("config") or {}
        self.headers_enabled = bool(config.get("enable_rate_limit_response_headers", False))
        self.exempt_paths = tuple(config.get("rate_limit_exempt_paths") or DEFAULT_EXEMPT_PATHS)
        self.quotas = {}
        for name in self.storage.keys("rate-limit/"):
            record = self.storage.get(f"rate-limit/{name}")
            if record:
                self.quotas[name] = RateLimitQuota(**record)

    def check(self, request: Request) -> list[tuple[str, str]]:
        """Count the request; raise 429 when it is over its quota; return response headers."""
        path = request.path
        if any(path == exempt or path.startswith(exempt + "/") for exempt in self.exempt_paths):
            return []
        quota = self._quota_for(path)
        if quota is None:
            return []
        with self.lock:
            now = self.clock.now()
            window = quota.windows.setdefault(request.remote_addr, _Window(now))
            if now - window.started >= quota.interval:
                window.started, window.count = now, 0
            limit = max(1, math.floor(quota.rate))
            reset = window.started + quota.interval
            if window.blocked_until > now or window.count >= limit:
                if quota.block_interval and window.blocked_until <= now:
                    window.blocked_until = now + quota.block_interval
                retry = max(window.blocked_until, reset) - now
                error = VaultError(429, multierror(f'request path "{path}": rate limit quota exceeded'))
                error.headers = [
                    ("Retry-After", str(max(1, math.ceil(retry)))),
                    *self._headers(limit, 0, reset - now),
                ]
                raise error
            window.count += 1
            return self._headers(limit, limit - window.count, reset - now) if self.headers_enabled else []

    def _headers(self, limit: int, remaining: int, reset_in: float) -> list[tuple[str, str]]:
        if not self.headers_enabled:
            return []
        return [
            ("X-Ratelimit-Limit", str(limit)),
            ("X-Ratelimit-Remaining", str(max(0, remaining))),
            ("X-Ratelimit-Reset", str(max(0, math.ceil(reset_in)))),
        ]

    def _quota_for(self, path: str) -> RateLimitQuota | None:
        """The most specific quota: the longest matching path, the global one ("") last."""
        matching = [quota for quota in self.quotas.values() if not quota.path or path.startswith(quota.path)]
        return max(matching, key=lambda quota: len(quota.path), default=None)

    # -- sys/quotas ----------------------------------------------------------------------------------

    def register(self, router: Router) -> None:
        router.add(r"quotas/config/?", read=self.read_config, update=self.write_config)
        router.add(r"quotas/rate-limit/?", list=self.list_quotas)
        router.add(
            r"quotas/rate-limit/(?P<name>[^/]+)",
            read=self.read_quota,
            update=self.write_quota,
            delete=self.delete_quota,
        )

    def read_config(self, _request: Request, _match: re.Match[str]) -> Response:
        return responses.data(
            {
                "enable_rate_limit_response_headers": self.headers_enabled,
                "enable_rate_limit_audit_logging": False,
                "rate_limit_exempt_paths": list(self.exempt_paths),
            }
        )

    def write_config(self, request: Request, _match: re.Match[str]) -> Response:
        data = request.data
        config = {
            "enable_rate_limit_response_headers": fields.boolean(
                data, "enable_rate_limit_response_headers", self.headers_enabled
            ),
            "rate_limit_exempt_paths": fields.string_list(
                data, "rate_limit_exempt_paths", list(self.exempt_paths)
            ),
        }
        self.storage.put("config", config)
        self.load()
        return responses.no_content()

    def list_quotas(self, _request: Request, _match: re.Match[str]) -> Response:
        names = sorted(self.quotas)
        if not names:
            raise not_found()
        return responses.keys(names)

    def read_quota(self, _request: Request, match: re.Match[str]) -> Response:
        quota = self.quotas.get(match["name"])
        if quota is None:
            raise not_found()
        return responses.data(quota.to_json())

    def write_quota(self, request: Request, match: re.Match[str]) -> Response:
        data, name = request.data, match["name"]
        existing = self.quotas.get(name)
        rate = fields.number(data, "rate", existing.rate if existing else 0.0)
        if rate <= 0:
            raise bad_request("'rate' is invalid")
        record: dict[str, Any] = {
            "name": name,
            "path": fields.string(data, "path", existing.path if existing else "").lstrip("/"),
            "rate": rate,
            "interval": fields.duration(data, "interval", existing.interval if existing else 1) or 1,
            "block_interval": fields.duration(
                data, "block_interval", existing.block_interval if existing else 0
            ),
        }
        self.storage.put(f"rate-limit/{name}", record)
        with self.lock:
            self.quotas[name] = RateLimitQuota(**record)
        return responses.no_content()

    def delete_quota(self, _request: Request, match: re.Match[str]) -> Response:
        self.storage.delete(f"rate-limit/{match['name']}")
        with self.lock:
            self.quotas.pop(match["name"], None)
        return responses.no_content()

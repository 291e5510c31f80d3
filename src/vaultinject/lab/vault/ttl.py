"""TTL arithmetic shared by tokens and leases (`framework.CalculateTTL` in the Vault SDK)."""

from __future__ import annotations

from dataclasses import dataclass

from vaultinject.lab.vault.durations import go_duration
from vaultinject.lab.vault.envelope import VaultError

SYSTEM_DEFAULT_TTL = 32 * 24 * 3600  # 768h
SYSTEM_MAX_TTL = 32 * 24 * 3600


@dataclass(frozen=True)
class TTLLimits:
    """A mount's effective default and maximum lease TTLs (its `logical.SystemView`)."""

    default_ttl: int = SYSTEM_DEFAULT_TTL
    max_ttl: int = SYSTEM_MAX_TTL


def capped_warning(ttl: int, limit: int) -> str:
    return (
        f'TTL of "{go_duration(ttl)}" exceeded the effective max_ttl of "{go_duration(limit)}"; '
        "TTL value is capped accordingly"
    )


def calculate_ttl(
    limits: TTLLimits,
    now: int,
    *,
    increment: int = 0,
    backend_ttl: int = 0,
    period: int = 0,
    backend_max_ttl: int = 0,
    explicit_max_ttl: int = 0,
    start: int | None = None,
) -> tuple[int, list[str]]:
    """The TTL to grant now, and Vault's warnings when it had to be capped.

    Raises a 400 `past the max TTL, cannot renew` once `start + max TTL` has passed.
    """
    start = now if start is None else start
    max_ttl = limits.max_ttl
    if 0 < backend_max_ttl < max_ttl:
        max_ttl = backend_max_ttl
    if 0 < explicit_max_ttl < max_ttl:
        max_ttl = explicit_max_ttl
    warnings: list[str] = []
    max_valid: int | None
    if period > 0:
        if period > max_ttl:
            warnings.append(
                f'period of "{go_duration(period)}" exceeded the effective max_ttl of '
                f'"{go_duration(max_ttl)}"; period value is capped accordingly'
            )
            period = max_ttl
        ttl = period
        max_valid = start + explicit_max_ttl if explicit_max_ttl > 0 else None
    else:
        ttl = increment if increment > 0 else backend_ttl if backend_ttl > 0 else limits.default_ttl
        max_valid = start + max_ttl
    if max_valid is not None:
        remaining = max_valid - now
        if remaining <= 0:
            raise VaultError(400, "past the max TTL, cannot renew")
        if remaining < ttl:
            warnings.append(capped_warning(ttl, remaining))
            ttl = remaining
    return ttl, warnings

"""What a diagnosis is tuned by: thresholds and the names it checks against."""

from __future__ import annotations

from dataclasses import dataclass

MINIMUM_VERSION = (1, 9, 3)  # the local service-account token reload came with Vault 1.9.3


@dataclass(frozen=True, kw_only=True)
class Settings:
    """`stuck_after`: seconds an agent may take before its pod counts as stuck (ours cap their auth
    backoff at 30 s, HashiCorp's at 5 min); `certificate_warning_days`: how early an expiring webhook
    certificate is a warning; `mount`: the Kubernetes auth mount."""

    stuck_after: float = 120.0
    certificate_warning_days: float = 7.0
    minimum_version: tuple[int, int, int] = MINIMUM_VERSION
    mount: str = "kubernetes"

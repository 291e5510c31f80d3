"""What a diagnosis says: findings with a severity, the evidence they rest on, the cause and the fix,
and the report that holds them, with its overall status, exit code and stable JSON form
(`docs/doctor-json.md`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

SCHEMA = "vaultinject.doctor/v1"
REDACTED = "[redacted]"

# Shapes of credentials that must never reach a finding, whatever text quoted them.
_SECRET_SHAPES = re.compile(
    r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"  # a JWT (base64url of '{"')
    r"|[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # any three-part token
    r"|\bhv[sbr]\.[A-Za-z0-9_-]{8,}"  # Vault service, batch and recovery tokens
    r"|\b[sbr]\.[A-Za-z0-9]{24}\b"  # Vault's legacy token format
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    re.DOTALL,
)
_BEARER = re.compile(r"(?i)\b(bearer|x-vault-token:?)\s+[A-Za-z0-9._~+/=-]{12,}")


class Severity(StrEnum):
    OK = "ok"
    WARNING = "warning"
    BROKEN = "broken"
    UNKNOWN = "unknown"  # the rules could not tell; counts as a warning


class Area(StrEnum):
    VAULT = "vault-server"
    AUTH_CONFIG = "auth-config"
    CANARY = "canary"
    RBAC = "rbac"
    PODS = "pods"
    INJECTOR = "injector"


def scrub(text: str) -> str:
    """`text` without anything shaped like a token, a JWT or a private key."""
    return _BEARER.sub(lambda m: f"{m[1]} {REDACTED}", _SECRET_SHAPES.sub(REDACTED, text))


@dataclass(frozen=True)
class EvidenceRef:
    """What a finding rests on: what was read and when (epoch seconds)."""

    source: str
    at: float


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One rule's verdict. `cause` says why, `fix` what to do, `command` a command to copy (if any);
    `details` are extra lines (a stuck workload's pods), `classification` a classified cause's name."""

    rule: str
    area: Area
    severity: Severity
    summary: str
    cause: str = ""
    fix: str = ""
    command: str = ""
    evidence: tuple[EvidenceRef, ...] = ()
    details: tuple[str, ...] = ()
    classification: str = ""

    def __post_init__(self) -> None:
        # Every text is scrubbed once, here, so no consumer can print a credential a source quoted.
        for name in ("summary", "cause", "fix", "command", "classification"):
            object.__setattr__(self, name, scrub(getattr(self, name)))
        object.__setattr__(self, "details", tuple(scrub(line) for line in self.details))
        refs = tuple(replace(ref, source=scrub(ref.source)) for ref in self.evidence)
        object.__setattr__(self, "evidence", refs)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "evidence":
                value = [{"source": ref.source, "at": ref.at} for ref in value]
            elif item.name == "details":
                value = list(value)
            elif isinstance(value, StrEnum):
                value = value.value
            document[item.name] = value
        return document


@dataclass(frozen=True)
class Report:
    """Every finding of one diagnosis, made at `generated_at` (the `now` it was given)."""

    findings: tuple[Finding, ...]
    generated_at: float
    counts: dict[str, int] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        counts = {severity.value: 0 for severity in Severity}
        for finding in self.findings:
            counts[finding.severity.value] += 1
        object.__setattr__(self, "counts", counts)

    @property
    def status(self) -> Severity:
        """broken if any finding is broken; warning if any is a warning or unknown; else ok."""
        if self.counts[Severity.BROKEN]:
            return Severity.BROKEN
        if self.counts[Severity.WARNING] or self.counts[Severity.UNKNOWN]:
            return Severity.WARNING
        return Severity.OK

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 warnings (or unknowns), 2 broken."""
        return {Severity.OK: 0, Severity.WARNING: 1, Severity.BROKEN: 2}[self.status]

    def in_area(self, area: Area) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.area == area)

    def to_json(self) -> dict[str, Any]:
        """The stable, versioned form documented in docs/doctor-json.md."""
        return {
            "schema": SCHEMA,
            "generated_at": self.generated_at,
            "status": self.status.value,
            "exit_code": self.exit_code,
            "counts": dict(self.counts),
            "findings": [finding.to_json() for finding in self.findings],
        }

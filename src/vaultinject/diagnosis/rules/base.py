"""What every rule is made of: a named check over the evidence, and the verdicts it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vaultinject.diagnosis.evidence import Evidence, Observation
from vaultinject.diagnosis.findings import Area, EvidenceRef, Finding, Severity
from vaultinject.diagnosis.settings import Settings

SETUP_COMMAND = "vaultinject vault-setup"
HEAL_COMMAND = "vaultinject heal"


@dataclass(frozen=True)
class Context:
    """The time of the diagnosis (rules never read the clock) and its settings."""

    now: float
    settings: Settings


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A finding before the engine names its rule and area."""

    severity: Severity
    summary: str
    cause: str = ""
    fix: str = ""
    command: str = ""
    evidence: tuple[EvidenceRef, ...] = ()
    details: tuple[str, ...] = ()
    classification: str = ""


Check = Callable[[Evidence, Context], Iterable[Verdict]]


@dataclass(frozen=True)
class Rule:
    """A named check in an area; calling it gives its findings."""

    name: str
    area: Area
    check: Check

    def __call__(self, evidence: Evidence, context: Context) -> tuple[Finding, ...]:
        return tuple(
            Finding(
                rule=self.name,
                area=self.area,
                severity=verdict.severity,
                summary=verdict.summary,
                cause=verdict.cause,
                fix=verdict.fix,
                command=verdict.command,
                evidence=verdict.evidence,
                details=verdict.details,
                classification=verdict.classification,
            )
            for verdict in self.check(evidence, context)
        )


def rule(area: Area) -> Callable[[Check], Rule]:
    """Make a function a rule of `area`, named by the function."""

    def make(check: Check) -> Rule:
        return Rule(check.__name__, area, check)

    return make


def refs(*observations: Observation | None) -> tuple[EvidenceRef, ...]:
    """The evidence references of the observations that were gathered."""
    return tuple(EvidenceRef(o.source, o.at) for o in observations if o is not None)


def unread(what: str, observation: Observation | None) -> Verdict | None:
    """An unknown verdict when `observation` was not gathered or could not be read; else None."""
    if observation is None:
        return Verdict(severity=Severity.UNKNOWN, summary=f"{what}: not gathered")
    if observation.error is not None:
        return Verdict(
            severity=Severity.UNKNOWN,
            summary=f"{what}: could not be read ({observation.error})",
            evidence=refs(observation),
        )
    return None


def missing(what: str, observation: Observation | None) -> Verdict:
    """The unknown verdict of an observation that was not gathered or could not be read."""
    return unread(what, observation) or unknown(f"{what}: could not be read", observation)


def ok(summary: str, *observations: Observation | None, cause: str = "") -> Verdict:
    return Verdict(severity=Severity.OK, summary=summary, cause=cause, evidence=refs(*observations))


def unknown(summary: str, *observations: Observation | None, cause: str = "", fix: str = "") -> Verdict:
    return Verdict(
        severity=Severity.UNKNOWN, summary=summary, cause=cause, fix=fix, evidence=refs(*observations)
    )

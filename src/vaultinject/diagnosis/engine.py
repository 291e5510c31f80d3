"""`diagnose`: every rule over the evidence, into one report. A rule that fails is an unknown finding
naming it, never a crash."""

from __future__ import annotations

from collections.abc import Sequence

from vaultinject.diagnosis.evidence import Evidence
from vaultinject.diagnosis.findings import Finding, Report, Severity
from vaultinject.diagnosis.rules import ALL_RULES, Context, Rule
from vaultinject.diagnosis.settings import Settings

__all__ = ["Settings", "diagnose", "run_rule"]


def run_rule(rule: Rule, evidence: Evidence, context: Context) -> tuple[Finding, ...]:
    """One rule's findings; a rule that raises gives one unknown finding naming it and the error's type."""
    try:
        return rule(evidence, context)
    except Exception as error:  # a rule's bug must not hide the other findings
        return (
            Finding(
                rule=rule.name,
                area=rule.area,
                severity=Severity.UNKNOWN,
                summary=f"rule {rule.name} failed ({type(error).__name__}), so what it checks is unknown",
                cause=str(error),
                fix="report this as a bug in vaultinject's diagnosis, with the evidence",
            ),
        )


def diagnose(
    evidence: Evidence, now: float, settings: Settings | None = None, rules: Sequence[Rule] = ALL_RULES
) -> Report:
    """Every rule over `evidence`, at time `now` (epoch seconds; rules never read the clock)."""
    context = Context(now, settings or Settings())
    findings = tuple(finding for rule in rules for finding in run_rule(rule, evidence, context))
    return Report(findings, now)

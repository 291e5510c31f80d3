"""The diagnosis engine: pure rules over gathered evidence, giving findings with a severity, the evidence
they rest on (what was read, when), the cause and the fix.

Nothing here does I/O or reads the clock: a gatherer fills `evidence.Evidence` from Vault and the
Kubernetes API, and `engine.diagnose(evidence, now, settings)` turns it into a `findings.Report`.
"""

from vaultinject.diagnosis.engine import Settings, diagnose
from vaultinject.diagnosis.findings import Area, Finding, Report, Severity

__all__ = ["Area", "Finding", "Report", "Settings", "Severity", "diagnose"]

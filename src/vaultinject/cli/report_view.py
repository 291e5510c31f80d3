"""A diagnosis report as a person reads it: a table per area, green/yellow/red, the fix as a command."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from vaultinject.diagnosis import Area, Report, Severity
from vaultinject.diagnosis.findings import Finding

TITLES = {
    Area.VAULT: "Vault server",
    Area.AUTH_CONFIG: "Kubernetes auth config",
    Area.CANARY: "Canary login",
    Area.RBAC: "RBAC",
    Area.PODS: "Vault-integrated pods",
    Area.INJECTOR: "Injector (webhook)",
}
MARKS = {
    Severity.OK: ("ok", "green"),
    Severity.WARNING: ("warn", "yellow"),
    Severity.UNKNOWN: ("?", "yellow"),
    Severity.BROKEN: ("FAIL", "bold red"),
}
STATUS_WORDS = {Severity.OK: "healthy", Severity.WARNING: "warnings", Severity.BROKEN: "broken"}


def render(report: Report, console: Console, *, verbose: bool = False) -> None:
    """Every area with findings as a table; the fixes under the findings that need one; the status."""
    for area in Area:
        findings = report.in_area(area)
        if findings:
            console.print(_table(area, findings, verbose))
    console.print(_status_line(report))


def _table(area: Area, findings: tuple[Finding, ...], verbose: bool) -> Table:
    table = Table(title=TITLES[area], title_justify="left", show_header=False, expand=True, box=None)
    table.add_column("mark", width=4, no_wrap=True)
    table.add_column("finding", ratio=1)
    for finding in findings:
        word, style = MARKS[finding.severity]
        table.add_row(Text(word, style=style), _body(finding, verbose))
    return table


def _body(finding: Finding, verbose: bool) -> Group | Text:
    headline = Text(finding.summary)
    if finding.severity is Severity.OK and not verbose:
        return headline
    parts: list[Text] = [headline]
    if finding.cause:
        parts.append(Text(f"cause: {finding.cause}", style="dim"))
    parts += [Text(f"  {line}", style="dim") for line in finding.details]
    if finding.fix:
        parts.append(Text(f"fix: {finding.fix}"))
    if finding.command:
        parts.append(Text(f"  $ {finding.command}", style="bold cyan"))
    if verbose:
        parts += [Text(f"  read: {ref.source}", style="dim") for ref in finding.evidence]
    return Group(*parts)


def _status_line(report: Report) -> Text:
    counts = report.counts
    word, style = STATUS_WORDS[report.status], MARKS[report.status][1]
    text = Text("\nstatus: ")
    text.append(word, style=style)
    text.append(
        f" ({counts['broken']} broken, {counts['warning']} warning, {counts['unknown']} unknown, "
        f"{counts['ok']} ok); exit {report.exit_code}"
    )
    return text

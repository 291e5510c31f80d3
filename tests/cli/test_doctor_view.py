"""doctor's text view of a report: a table per area, the marks, the fix as a command, the status line."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from tests.diagnosis.builders import NOW, canary, config, healthy, login, review_refused
from vaultinject.cli.report_view import render
from vaultinject.diagnosis import diagnose


def text_of(evidence: object, verbose: bool = False) -> str:
    out = io.StringIO()
    render(diagnose(evidence, NOW), Console(file=out, width=120, color_system=None), verbose=verbose)  # type: ignore[arg-type]
    return out.getvalue()


def test_a_healthy_cluster_shows_every_area_passing_and_exit_0() -> None:
    text = text_of(healthy())
    for title in ("Vault server", "Kubernetes auth config", "Canary login", "RBAC", "Vault-integrated pods"):
        assert title in text
    assert "FAIL" not in text
    assert text.rstrip().endswith("; exit 0")
    assert "status: healthy (0 broken" in text


def test_the_runbook_failure_shows_the_cause_and_the_command_that_fixes_it() -> None:
    evidence = dataclasses.replace(
        healthy(),
        auth_config=config(token_reviewer_jwt_set=True),
        canary=canary(login(403, "permission denied"), review_refused()),
    )
    text = text_of(evidence)
    assert "FAIL" in text
    assert "$ vaultinject heal" in text
    assert "reviewer" in text
    assert "status: broken" in text
    assert text.rstrip().endswith("; exit 2")


def test_verbose_names_what_each_finding_read() -> None:
    assert "read: GET /v1/sys/health" in text_of(healthy(), verbose=True)
    assert "read: GET /v1/sys/health" not in text_of(healthy())


def test_markup_in_evidence_is_printed_as_text_not_interpreted() -> None:
    evidence = dataclasses.replace(healthy(), canary=canary(login(400, "[bold red]role [x] not found[/]")))
    assert "[bold red]role [x] not found[/]" in text_of(evidence)

"""The short closing summary of `vaultinject inject --summary`: what was injected, what passed through."""

from __future__ import annotations

from vaultinject.cli.manifests import PodRef
from vaultinject.injector import Injection


def summary_lines(outcomes: list[tuple[PodRef, Injection]]) -> list[str]:
    """One headline, then a line per pod or pod template."""
    injected = sum(1 for _, result in outcomes if result.injected)
    lines = [
        f"summary: {len(outcomes)} pod(s) or pod template(s): {injected} injected, "
        f"{len(outcomes) - injected} passed through unchanged"
    ]
    lines += [f"  {_line(ref, result)}" for ref, result in outcomes]
    return lines


def _line(ref: PodRef, result: Injection) -> str:
    where = f"{ref.label} (namespace {ref.namespace})"
    if result.spec is None:
        return f"unchanged  {where}: {result.reason}"
    names = ", ".join(secret.name for secret in result.spec.secrets) or "none (login only)"
    count = len(result.spec.secrets)
    return f"injected   {where}: mode {result.spec.mode}, {count} secret(s): {names}"

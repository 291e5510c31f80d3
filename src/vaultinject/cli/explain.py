"""`vaultinject explain`: for each pod, what would be injected and why."""

from __future__ import annotations

import argparse
from typing import Any

from vaultinject.cli.manifests import PodRef, pod_ref
from vaultinject.cli.options import add_settings_options, add_source_options, read_inputs
from vaultinject.injector import Injection, SpecError, inject
from vaultinject.spec import InjectionSpec, Mode, SecretSpec

MODE_STORY = {
    Mode.NATIVE: "one agent as a native sidecar (init container with restartPolicy Always); its startup "
    "probe holds the app until every secret is rendered, its readiness probe keeps the pod NotReady "
    "while a secret is missing or expired",
    Mode.CLASSIC: "an init container renders every secret before the app starts; a sidecar resumes from its "
    "login and leases and keeps them fresh",
    Mode.INIT_ONLY: "an init container renders every secret once before the app starts; nothing keeps them "
    "fresh (for Jobs)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaultinject explain", description="Say what would be injected, and why."
    )
    add_source_options(parser)
    add_settings_options(parser)
    return parser


def main(argv: list[str]) -> int:
    """Explain every pod; exit 1 if any pod would be rejected."""
    arguments = build_parser().parse_args(argv)
    settings, documents = read_inputs(arguments)
    rejected = False
    refs = [ref for ref in (pod_ref(d, arguments.namespace) for d in documents) if ref is not None]
    for index, ref in enumerate(refs):
        if index:
            print()
        try:
            result = inject(ref.as_pod(), settings, ref.namespace)
        except SpecError as error:
            rejected = True
            print(f"{ref.label} (namespace {ref.namespace}): rejected")
            for each in error.errors:
                print(f"  {each}")
            continue
        print("\n".join(explain(ref, result)))
    if not refs:
        print("no pods or pod templates in the input")
    return 1 if rejected else 0


def explain(ref: PodRef, result: Injection) -> list[str]:
    """Lines describing one pod's injection."""
    header = f"{ref.label} (namespace {ref.namespace})"
    if result.spec is None:
        return [f"{header}: not injected: {result.reason}"]
    spec = result.spec
    lines = [f"{header}: injected, mode {spec.mode}", f"  why: {result.reason}; {MODE_STORY[spec.mode]}"]
    lines += _connection(spec)
    lines += _added(ref.as_pod(), result.pod)
    lines.append("  secrets:" if spec.secrets else "  secrets: none (the agent only logs in)")
    lines += [f"    {line}" for secret in spec.secrets for line in _secret(secret)]
    if spec.inject_token:
        lines.append(f"    the Vault token -> {spec.token_file}")
    lines += [f"  warning: {warning}" for warning in result.warnings]
    return lines


def _connection(spec: InjectionSpec) -> list[str]:
    auth = spec.auth
    role = f", role {auth.role}" if auth.role else ""
    lines = [f"  vault: {spec.vault.address}, {auth.type} auth at {auth.path}{role}"]
    if auth.vault_namespace:
        lines.append(f"  vault namespace: {auth.vault_namespace}")
    return lines


def _added(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    def names(pod: dict[str, Any], key: str) -> list[str]:
        return [item["name"] for item in pod.get("spec", {}).get(key) or []]

    lines = []
    for key, label in (
        ("initContainers", "init containers"),
        ("containers", "containers"),
        ("volumes", "volumes"),
    ):
        added = [name for name in names(after, key) if name not in names(before, key)]
        if added:
            lines.append(f"  {label} added: {', '.join(added)}")
    mounted = [
        c["name"]
        for c in after["spec"].get("initContainers", []) + after["spec"].get("containers", [])
        if any(m.get("name") == "vault-secrets" for m in c.get("volumeMounts") or [])
        and c["name"] not in {"vault-agent", "vault-agent-init"}
    ]
    lines.append(f"  secrets mounted in: {', '.join(mounted) if mounted else 'no app container'}")
    return lines


def _secret(secret: SecretSpec) -> list[str]:
    if secret.template is not None:
        source = f"inline template ({secret.template_annotation})"
    elif secret.template_file is not None:
        source = f"template file {secret.template_file}"
    else:
        source = f"default {secret.default_template} template"
    mode = f"{secret.perms:04o}" if secret.perms is not None else "0644"
    lines = [f"{secret.name} -> {secret.destination} (mode {mode})"]
    if secret.vault_path:
        lines.append(f"  vault path: {secret.vault_path}")
    lines.append(f"  template: {source}")
    if secret.command:
        lines.append(f"  after each change: {secret.command}")
    return lines

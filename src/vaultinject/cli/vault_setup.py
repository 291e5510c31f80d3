"""`vaultinject vault-setup`: configure Vault's Kubernetes auth for injection the robust way, idempotently."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from vaultinject.cli.connect import (
    ConnectionOptionError,
    VaultSettings,
    add_kube_options,
    add_vault_options,
    vault_settings,
)
from vaultinject.setup.healer_access import HealerAccess
from vaultinject.setup.plan import (
    IN_CLUSTER,
    Options,
    Plan,
    PolicyRequest,
    RoleRequest,
    make_plan,
    plan_json,
    read_only_policy,
)
from vaultinject.vault.client import VaultClient

DESCRIPTION = """\
Configure Vault for injection the robust way, idempotently. It prints the plan first, then applies it
(--dry-run prints only). A second run plans nothing.

- Enable the Kubernetes auth method at auth/<mount>/ if it is absent.
- Vault in the cluster: write auth/<mount>/config with kubernetes_host only. No reviewer token and no
  CA are stored: Vault reads its own pod's token (re-read every minute) and CA. A stored pod token dies
  with its pod, and then every login fails with 403 permission denied. The write sends the whole
  config, keeping issuer, disable_iss_validation, pem_keys and use_annotations_as_alias_metadata as
  they are. Needs Vault >= 1.9.3, whose local token reload this relies on.
- Vault outside the cluster: create a reviewer service account bound to system:auth-delegator and a
  kubernetes.io/service-account-token Secret for it. Then store that long-lived token, the kubeconfig's
  server and the cluster CA in the config. The token is bound to the Secret, not to a pod.
- Either way, the identity that reviews tokens must be allowed to create TokenReviews (checked with a
  SubjectAccessReview). For Vault's own service account, vault-setup refuses with the kubectl command
  that fixes it, or creates the binding itself with --grant-auth-delegator.
- The access of `heal`, the healer and doctor's canary (--no-healer-access leaves it out): policy
  vaultinject-healer (read and rewrite auth/<mount>/config, token_reviewer_jwt denied); a JWT auth
  mount (auth/vaultinject-jwt/) holding the cluster's service-account signing keys, with role
  vaultinject-healer for the healer's service account, so the healer logs in without the mount it
  repairs; role vaultinject-canary on auth/<mount>/ with no policy, and its service account.
- Optionally, write a role (--role) and its policies (--policy-file, or --secret-path for a read-only
  policy).
"""

EPILOG = """\
Where Vault runs: --vault-in-cluster or --vault-outside-cluster; otherwise it is detected. Vault is
taken to be in the cluster when pods labelled app.kubernetes.io/name=vault (as vault-helm labels them)
run as --vault-service-account in --vault-namespace, or when Vault's address is a cluster Service name
(*.svc). Otherwise it is outside the cluster, the choice that stays safe when detection is wrong. The
plan says which choice it made and why.

Vault permissions: the token needs these, never root.
  sys/capabilities-self       update (the default policy grants it; used to check the rest first)
  sys/auth                    read
  sys/auth/<mount>            update, sudo   (only when the mount is absent)
  auth/<mount>/config         read, update
  auth/<mount>/role/<role>    read, create/update   (with --role)
  sys/policies/acl/<policy>   read, create/update   (with --policy-file or --secret-path)
  sys/policies/acl/vaultinject-healer, auth/vaultinject-jwt/config, auth/vaultinject-jwt/role/
  vaultinject-healer, auth/<mount>/role/vaultinject-canary: read, create/update; sys/auth/vaultinject-jwt
  update, sudo (only when absent)   (all but with --no-healer-access)
Kubernetes permissions: create subjectaccessreviews; get /openid/v1/jwks and
/.well-known/openid-configuration, get namespaces and serviceaccounts in --healer-namespace, and create
them when absent (all but with --no-healer-access). Without --vault-in-cluster or
--vault-outside-cluster, also list pods in --vault-namespace. With --grant-auth-delegator, create
clusterrolebindings. Outside the cluster, also get/create namespaces, serviceaccounts, secrets and
clusterrolebindings.

Exit codes: 0 done or nothing to do; 1 refused or failed (the message names the cause and the fix);
2 bad usage. No token is ever printed.

Example:
  vaultinject vault-setup --role app --service-account app --namespace shop \\
      --policy app-read --secret-path 'secret/data/shop/*'
"""

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")
DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaultinject vault-setup",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--mount", default="kubernetes", help="the Kubernetes auth mount (kubernetes)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--vault-in-cluster",
        dest="vault_in_cluster",
        action="store_true",
        default=None,
        help="Vault runs as pods of this cluster (default: detected, see below)",
    )
    where.add_argument("--vault-outside-cluster", dest="vault_in_cluster", action="store_false",
                       help="Vault runs outside this cluster")  # fmt: skip
    add("--vault-namespace", default="vault", metavar="NS", help="the namespace of Vault's pods (vault)")
    add(
        "--vault-service-account",
        default="vault",
        metavar="SA",
        help="the service account of Vault's pods (vault)",
    )
    add(
        "--kubernetes-host",
        help="the API server address Vault dials (in the cluster: https://kubernetes.default.svc; outside: "
        "the kubeconfig's server; an existing config's host is kept)",
    )
    add("--kubernetes-ca-file", help="outside the cluster: the CA Vault trusts the API server with "
        "(default: the kubeconfig's)")  # fmt: skip
    add(
        "--grant-auth-delegator",
        action="store_true",
        help="bind Vault's service account to system:auth-delegator when it lacks it, instead of refusing",
    )
    add("--reviewer-namespace", help="outside the cluster: the reviewer's namespace (--vault-namespace)")
    add("--reviewer-service-account", default="vault-token-reviewer",
        help="outside the cluster: the reviewer service account (vault-token-reviewer; its token Secret "
        "is <name>-token)")  # fmt: skip
    healer = parser.add_argument_group("the healer's access")
    healer.add_argument(
        "--no-healer-access",
        action="store_true",
        help="leave out the healer's policy, JWT mount and role, and the canary's role and service account",
    )
    healer.add_argument(
        "--healer-namespace",
        default="vaultinject",
        metavar="NS",
        help="the namespace of the healer's and the canary's service accounts (vaultinject: install's)",
    )
    roles = parser.add_argument_group("role and policies (optional)")
    roles.add_argument("--role", help="write this Kubernetes auth role")
    roles.add_argument(
        "--service-account",
        action="append",
        default=[],
        metavar="SA",
        help="service account the role admits (repeatable)",
    )
    roles.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="namespace the role admits (repeatable)",
    )
    roles.add_argument(
        "--policy", action="append", default=[], help="policy the role's tokens get (repeatable)"
    )
    roles.add_argument(
        "--policy-file",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="write policy NAME from an HCL file (repeatable)",
    )
    roles.add_argument(
        "--secret-path",
        action="append",
        default=[],
        metavar="PATH",
        help="generate the role's one --policy to read this Vault API path, e.g. "
        "'secret/data/shop/*' (repeatable)",
    )
    roles.add_argument("--ttl", help="the role's token TTL, e.g. 1h (default: the mount's)")
    roles.add_argument("--audience", help="the audience the role requires in pod tokens")  # fmt: skip
    add("--dry-run", action="store_true", help="print the plan and change nothing")
    add("-o", "--output", choices=("text", "json"), default="text", help="text (default) or json")
    add_vault_options(parser)
    add_kube_options(parser)
    return parser


def options_from(arguments: argparse.Namespace) -> Options:
    """The planner's options from the flags; raises UsageError naming the flag."""
    for flag in ("mount", "vault_namespace", "vault_service_account", "reviewer_service_account"):
        _name(getattr(arguments, flag), flag)
    policies = tuple(_policy_file(item) for item in arguments.policy_file)
    roles: tuple[RoleRequest, ...] = ()
    if arguments.role:
        _name(arguments.role, "role")
        if not arguments.service_account or not arguments.namespace:
            raise UsageError("--role needs at least one --service-account and one --namespace")
        for value in (*arguments.service_account, *arguments.namespace, *arguments.policy):
            _name(value, "service-account/namespace/policy", allow_glob=True)
        roles = (
            RoleRequest(
                arguments.role,
                tuple(arguments.service_account),
                tuple(arguments.namespace),
                tuple(arguments.policy),
                _duration(arguments.ttl) if arguments.ttl else None,
                arguments.audience,
            ),
        )
    elif arguments.service_account or arguments.namespace or arguments.policy or arguments.ttl:
        raise UsageError("--service-account, --namespace, --policy and --ttl belong to a --role")
    if arguments.secret_path:
        if len(arguments.policy) != 1 or not arguments.role:
            raise UsageError(
                "--secret-path needs a --role with exactly one --policy: the policy it generates"
            )
        name = arguments.policy[0]
        if any(policy.name == name for policy in policies):
            raise UsageError(f"policy {name} comes from both --policy-file and --secret-path; choose one")
        text = read_only_policy(arguments.role, tuple(arguments.secret_path))
        policies += (PolicyRequest(name, text, "read-only, generated from --secret-path"),)
    return Options(
        mount=arguments.mount.strip("/"),
        vault_in_cluster=arguments.vault_in_cluster,
        vault_namespace=arguments.vault_namespace,
        vault_service_account=arguments.vault_service_account,
        kubernetes_host=arguments.kubernetes_host,
        kubernetes_ca_pem=_read(arguments.kubernetes_ca_file, "--kubernetes-ca-file")
        if arguments.kubernetes_ca_file
        else None,
        grant_auth_delegator=arguments.grant_auth_delegator,
        reviewer_namespace=arguments.reviewer_namespace or arguments.vault_namespace,
        reviewer_service_account=arguments.reviewer_service_account,
        roles=roles,
        policies=policies,
        healer=None if arguments.no_healer_access else HealerAccess(namespace=arguments.healer_namespace),
    )


def _name(value: str, flag: str, allow_glob: bool = False) -> None:
    text = value.strip("/") if flag == "mount" else value
    if allow_glob and text == "*":
        return
    if not NAME.fullmatch(text.replace("/", "-") if flag == "mount" else text):
        raise UsageError(f"--{flag.replace('_', '-')} {value!r} is not a valid name")


def _duration(text: str) -> int:
    if text.isdigit():
        return int(text)
    match = DURATION.fullmatch(text)
    if not text or match is None:
        raise UsageError(f"--ttl {text!r} is not a duration (e.g. 3600, 1h, 30m, 1h30m)")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _policy_file(item: str) -> PolicyRequest:
    name, sep, path = item.partition("=")
    if not sep or not name or not path:
        raise UsageError(f"--policy-file {item!r} must be NAME=FILE")
    _name(name, "policy-file")
    return PolicyRequest(name, _read(path, "--policy-file"), f"from {path}")


def _read(path: str, flag: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(
            f"{flag} {path}: cannot read it ({getattr(error, 'strerror', None) or error})"
        ) from None


# -- output ---------------------------------------------------------------------------------------


def render_text(plan: Plan, version: str, address: str, mount: str) -> str:
    where = "in the cluster" if plan.mode == IN_CLUSTER else "outside the cluster"
    lines = [
        f"Vault {version or '?'} at {address}, Kubernetes auth at auth/{mount}/",
        f"Vault runs {where}: {plan.mode_reason}",
    ]
    if plan.steps:
        lines.append("plan:")
        for number, step in enumerate(plan.steps, 1):
            lines.append(f"  {number}. {step.description}: {step.why}")
            lines.append(f"     {step.action.describe()}")
    for note in plan.notes:
        lines.append(f"note: {note}")
    if plan.refusals:
        lines.append("refused:")
        for refusal in plan.refusals:
            lines += [f"  - {refusal.cause}", f"    fix: {refusal.fix}"]
    elif not plan.steps:
        lines.append("nothing to do")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Plan, print and apply; 0 done or nothing to do, 1 refused or failed, 2 bad usage."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        options = options_from(arguments)
        settings = vault_settings(arguments)
        client = settings.client()
    except (UsageError, ConnectionOptionError) as error:
        print(f"vaultinject vault-setup: error: {error}", file=sys.stderr)
        return 2
    from vaultinject.kube import KubeConfigError, load_config

    try:
        config = load_config(arguments.kubeconfig, arguments.context)
    except KubeConfigError as error:
        client.close()
        print(f"vaultinject vault-setup: error: {error}", file=sys.stderr)
        return 1
    return asyncio.run(_run(arguments, options, settings, client, config))


async def _run(
    arguments: argparse.Namespace, options: Options, settings: VaultSettings, client: VaultClient, config: Any
) -> int:
    from vaultinject import kube as k8s
    from vaultinject.setup import shell

    secrets = shell.Secrets(settings.token)
    json_output = arguments.output == "json"
    out: TextIO = sys.stdout

    def say(text: str, stream: TextIO = sys.stdout) -> None:
        stream.write(secrets.scrub(text))
        stream.flush()

    def progress(line: str) -> None:
        say(line + "\n", sys.stderr if json_output else out)

    vault = shell.VaultSide(client)
    document: dict[str, Any] = {"vault": {"address": settings.address}, "mount": options.mount}
    try:
        async with k8s.Kube(config) as kube:
            try:
                evidence = await shell.gather(vault, kube, options)
                plan = shell.check_permissions(vault, make_plan(options, evidence))
                document["vault"]["version"] = evidence.vault_version
                document.update(plan_json(plan))
                if not json_output:
                    say(render_text(plan, evidence.vault_version, settings.address, options.mount))
                if plan.refusals or arguments.dry_run or not plan.steps:
                    document["applied"] = False
                    if json_output:
                        say(json.dumps(document, indent=2) + "\n")
                    elif arguments.dry_run and plan.steps and not plan.refusals:
                        say("dry run: nothing was changed\n")
                    return 1 if plan.refusals else 0
                await shell.apply(plan, vault, kube, secrets, progress)
            except shell.SetupError as error:
                document["refusals"] = [{"cause": r.cause, "fix": r.fix} for r in error.refusals]
                document["applied"] = False
                if json_output:
                    say(json.dumps(document, indent=2) + "\n")
                else:
                    for refusal in error.refusals:
                        say(f"error: {refusal.cause}\n  fix: {refusal.fix}\n", sys.stderr)
                return 1
            except k8s.KubeError as error:
                say(f"error: Kubernetes: {error.message}\n", sys.stderr)
                return 1
    finally:
        client.close()
    document["applied"] = True
    if json_output:
        say(json.dumps(document, indent=2) + "\n")
    else:
        say(f"done: {len(plan.steps)} step{'s' if len(plan.steps) != 1 else ''} applied\n")
    return 0

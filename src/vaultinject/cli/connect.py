"""How commands reach Vault and Kubernetes: the `vault` CLI's variables and kubectl's configuration.

Vault: `VAULT_ADDR`, `VAULT_TOKEN` (else `~/.vault-token`, as the `vault` CLI), `VAULT_CACERT` and
`VAULT_NAMESPACE`; the flags override them. A token is read from a file (`--vault-token-file`), never
taken on the command line, where any user could read it in the process list.
Kubernetes: `--kubeconfig`, else `KUBECONFIG`, else the in-cluster service account, else ~/.kube/config.
"""

from __future__ import annotations

import argparse
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from vaultinject.vault.client import TLSConfig, VaultClient

DEFAULT_VAULT_ADDR = "https://127.0.0.1:8200"  # the `vault` CLI's default


class ConnectionOptionError(Exception):
    """A missing or unreadable connection setting; the message names it and the fix."""


@dataclass(frozen=True)
class VaultSettings:
    address: str
    token: str
    ca_file: str | None
    namespace: str | None

    def client(self) -> VaultClient:
        """A client with this token; raises ConnectionOptionError for a CA file that holds no CA."""
        tls = TLSConfig(ca_file=self.ca_file) if self.ca_file else None
        try:
            client = VaultClient(self.address, tls=tls, namespace=self.namespace, timeout=30.0)
        except (ssl.SSLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            raise ConnectionOptionError(
                f"cannot load the Vault CA file {self.ca_file} (--vault-cacert / VAULT_CACERT): {reason}"
            ) from None
        client.token = self.token
        return client


def add_vault_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Vault (flags override the VAULT_* variables)")
    group.add_argument(
        "--vault-addr", metavar="URL", help=f"Vault's address [VAULT_ADDR, else {DEFAULT_VAULT_ADDR}]"
    )
    group.add_argument(
        "--vault-token-file",
        metavar="FILE",
        help="file holding the Vault token [VAULT_TOKEN, else ~/.vault-token]",
    )
    group.add_argument("--vault-cacert", metavar="FILE", help="CA bundle to trust Vault with [VAULT_CACERT]")
    group.add_argument(
        "--vault-enterprise-namespace", metavar="NS", help="Vault Enterprise namespace [VAULT_NAMESPACE]"
    )


def add_kube_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Kubernetes (as kubectl)")
    group.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig [KUBECONFIG, else the in-cluster service account, else ~/.kube/config]",
    )
    group.add_argument("--context", help="kubeconfig context (default: its current context)")


def vault_settings(
    arguments: argparse.Namespace, environ: dict[str, str] | None = None, *, token_required: bool = True
) -> VaultSettings:
    """The Vault connection from flags, then the environment; raises ConnectionOptionError. Without
    `token_required`, no token at all gives an empty one (a file that cannot be read is still an error)."""
    env = dict(os.environ if environ is None else environ)
    address = arguments.vault_addr or env.get("VAULT_ADDR") or DEFAULT_VAULT_ADDR
    if not address.startswith(("http://", "https://")):
        raise ConnectionOptionError(f"Vault address {address!r} must start with http:// or https://")
    ca_file = arguments.vault_cacert or env.get("VAULT_CACERT") or None
    if ca_file and not Path(ca_file).is_file():
        raise ConnectionOptionError(f"Vault CA file {ca_file} does not exist (--vault-cacert / VAULT_CACERT)")
    namespace = arguments.vault_enterprise_namespace or env.get("VAULT_NAMESPACE") or None
    return VaultSettings(address, _token(arguments.vault_token_file, env, token_required), ca_file, namespace)


def _token(token_file: str | None, env: dict[str, str], required: bool = True) -> str:
    if token_file:
        return _read_token(Path(token_file), "--vault-token-file")
    if env.get("VAULT_TOKEN"):
        return env["VAULT_TOKEN"].strip()
    default = Path(env.get("HOME", "~")).expanduser() / ".vault-token"
    if default.is_file():
        return _read_token(default, "~/.vault-token")
    if not required:
        return ""
    raise ConnectionOptionError(
        "no Vault token: set VAULT_TOKEN, pass --vault-token-file FILE, or log in with `vault login` "
        "(~/.vault-token)"
    )


def _read_token(path: Path, where: str) -> str:
    try:
        token = path.read_text().strip()
    except OSError as error:
        raise ConnectionOptionError(
            f"cannot read the Vault token from {path} ({where}): {error.strerror}"
        ) from None
    if not token:
        raise ConnectionOptionError(f"the Vault token file {path} ({where}) is empty")
    return token

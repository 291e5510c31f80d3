"""Logging in to Vault with the pod's identity: Kubernetes, JWT or AppRole auth."""

from __future__ import annotations

from collections.abc import Callable

from vaultinject.spec import AuthSpec
from vaultinject.vault import Auth, VaultClient


class CredentialError(Exception):
    """The agent's own credential (token file, role id) cannot be read."""


def login(client: VaultClient, auth: AuthSpec, remember: Callable[[object], None] | None = None) -> Auth:
    """Log in; the token file is read on every attempt because the kubelet rotates it.

    `remember` is given the credentials read (the logger's scrubber), before they are sent.
    """
    if auth.type == "approle":
        body = {"role_id": _read(auth.config["role_id_file_path"], "role id")}
        secret_id_file = auth.config.get("secret_id_file_path")
        if secret_id_file:
            body["secret_id"] = _read(secret_id_file, "secret id")
    else:
        body = {"role": auth.role or "", "jwt": _read(auth.token_path, "service-account token")}
    if remember is not None:
        remember(list(body.values()))
    return client.login(auth.path, body)


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            value = stream.read().strip()
    except OSError as exc:
        raise CredentialError(f"cannot read the {what} from {path}: {exc.strerror}") from None
    if not value:
        raise CredentialError(f"the {what} file {path} is empty")
    return value

"""Shared test helpers: raw HTTP exchanges and hvac clients for a lab Vault."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import hvac

from vaultinject.lab.vault.harness import LabVault


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def raw(
    vault: LabVault,
    method: str,
    path: str,
    body: bytes | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """One plain-HTTP exchange with exact control over method, headers and body."""
    url = urlsplit(vault.url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    payload = json.dumps(body).encode() if isinstance(body, dict) else body
    try:
        connection.request(method, path, body=payload, headers=headers or {})
        response = connection.getresponse()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def client_for(vault: LabVault, token: str | None = None) -> hvac.Client:
    """hvac with the given token (or none)."""
    return hvac.Client(url=vault.url, token=token)


def token_with_policy(client: hvac.Client, name: str, policy: str, **create: Any) -> str:
    """Write a policy and return a token that has it (and `default`)."""
    client.sys.create_or_update_policy(name=name, policy=policy)
    return str(client.auth.token.create(policies=[name], **create)["auth"]["client_token"])

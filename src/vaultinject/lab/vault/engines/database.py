"""A dynamic-credentials engine shaped like Vault's `database` engine, with no database behind it.

`creds/<role>` issues a unique username/password under a lease (`database/creds/<role>/<id>`). Renewal extends
the lease up to the role's `max_ttl`; revocation or expiry deletes the credential. The set of credentials that
are still valid is what a real database would accept, and is exposed (lab-only) by `valid_credentials()` and
`GET sys/lab/database/credentials`.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from vaultinject.lab.vault import fields, ids, responses
from vaultinject.lab.vault.acl import glob_list_contains
from vaultinject.lab.vault.backend import Backend, MountContext
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.envelope import (
    LeaseRequest,
    Response,
    VaultError,
    bad_request,
    multierror,
    not_found,
)
from vaultinject.lab.vault.leases import LeaseEntry
from vaultinject.lab.vault.request import CREATE, Request
from vaultinject.lab.vault.ttl import TTLLimits, calculate_ttl

PASSWORD_LENGTH = 20
_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-"


class DatabaseBackend(Backend):
    type_name = "database"

    def __init__(self, context: MountContext) -> None:
        super().__init__(context)
        self.clock = context.services.clock
        add = self.router.add
        add(r"config/?", list=self.list_connections)
        add(
            r"config/(?P<name>[^/]+)",
            read=self.read_connection,
            update=self.write_connection,
            delete=self.delete_connection,
            exists=lambda _r, m: self.storage.get(f"config/{m['name']}") is not None,
        )
        add(r"reset/(?P<name>[^/]+)", update=lambda _r, _m: responses.no_content())
        add(r"rotate-root/(?P<name>[^/]+)", update=lambda _r, _m: responses.no_content())
        add(r"roles/?", list=self.list_roles)
        add(
            r"roles/(?P<name>[^/]+)",
            read=self.read_role,
            update=self.write_role,
            delete=self.delete_role,
            exists=lambda _r, m: self.storage.get(f"role/{m['name']}") is not None,
        )
        add(r"creds/(?P<name>[^/]+)", read=self.issue)

    # -- connections --------------------------------------------------------------------------------

    def write_connection(self, request: Request, match: re.Match[str]) -> Response:
        data = request.data
        existing = self.storage.get(f"config/{match['name']}") or {}
        plugin = fields.string(data, "plugin_name", existing.get("plugin_name", ""))
        if not plugin:
            raise bad_request("empty plugin name")
        connection = {
            "plugin_name": plugin,
            "connection_url": fields.string(data, "connection_url", existing.get("connection_url", "")),
            "username": fields.string(data, "username", existing.get("username", "")),
            "allowed_roles": fields.string_list(data, "allowed_roles", existing.get("allowed_roles", [])),
            "password_policy": fields.string(data, "password_policy", existing.get("password_policy", "")),
            "verify_connection": fields.boolean(data, "verify_connection", True),
            "root_rotation_statements": fields.string_list(data, "root_rotation_statements"),
        }
        self.storage.put(f"config/{match['name']}", connection)
        return responses.no_content()

    def read_connection(self, _request: Request, match: re.Match[str]) -> Response:
        connection = self.storage.get(f"config/{match['name']}")
        if connection is None:
            raise not_found()
        return responses.data(
            {
                "plugin_name": connection["plugin_name"],
                "connection_details": {
                    "connection_url": connection["connection_url"],
                    "username": connection["username"],
                },
                "allowed_roles": connection["allowed_roles"],
                "root_credentials_rotate_statements": connection["root_rotation_statements"],
                "password_policy": connection["password_policy"],
                "plugin_version": "",
                "verify_connection": connection["verify_connection"],
            }
        )

    def list_connections(self, _request: Request, _match: re.Match[str]) -> Response:
        return responses.keys(self.storage.children("config/"))

    def delete_connection(self, _request: Request, match: re.Match[str]) -> Response:
        self.storage.delete(f"config/{match['name']}")
        return responses.no_content()

    # -- roles --------------------------------------------------------------------------------------

    def write_role(self, request: Request, match: re.Match[str]) -> Response:
        data = request.data
        existing = {} if request.operation == CREATE else (self.storage.get(f"role/{match['name']}") or {})
        role: dict[str, Any] = {
            "db_name": fields.string(data, "db_name", existing.get("db_name", "")),
            "creation_statements": _statements(data, "creation_statements", existing),
            "revocation_statements": _statements(data, "revocation_statements", existing),
            "rollback_statements": _statements(data, "rollback_statements", existing),
            "renew_statements": _statements(data, "renew_statements", existing),
            "default_ttl": fields.duration(data, "default_ttl", existing.get("default_ttl", 0)),
            "max_ttl": fields.duration(data, "max_ttl", existing.get("max_ttl", 0)),
            "credential_type": fields.string(
                data, "credential_type", existing.get("credential_type", "password")
            ),
        }
        if not role["db_name"]:
            raise bad_request("empty database name attribute")
        if role["max_ttl"] and role["default_ttl"] > role["max_ttl"]:
            raise bad_request("ttl cannot be greater than max_ttl")
        self.storage.put(f"role/{match['name']}", role)
        return responses.no_content()

    def read_role(self, _request: Request, match: re.Match[str]) -> Response:
        role = self.storage.get(f"role/{match['name']}")
        if role is None:
            raise not_found()
        return responses.data({**role, "credential_config": {}})

    def delete_role(self, _request: Request, match: re.Match[str]) -> Response:
        self.storage.delete(f"role/{match['name']}")
        return responses.no_content()

    # -- credentials --------------------------------------------------------------------------------

    def issue(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"]
        role = self.storage.get(f"role/{name}")
        if role is None:
            raise bad_request(f"unknown role: {name}")
        connection = self.storage.get(f"config/{role['db_name']}")
        if connection is None:
            raise VaultError(
                500, multierror(f'failed to find entry for connection with name: "{role["db_name"]}"')
            )
        allowed = connection["allowed_roles"]
        if "*" not in allowed and not glob_list_contains(allowed, name):
            raise VaultError(500, multierror(f'"{name}" is not an allowed role'))
        display = request.token.display_name if request.token is not None else "token"
        username = f"v-{display[:8]}-{name[:8]}-{ids.base62(20)}-{self.clock.now_int()}"
        password = generate_password()
        self.storage.put(
            f"creds/{username}",
            {
                "username": username,
                "password": password,
                "role": name,
                "db_name": role["db_name"],
                "created": rfc3339(self.clock.now()),
            },
        )
        return Response(
            data={"username": username, "password": password},
            lease=LeaseRequest(
                ttl=int(role["default_ttl"]),
                max_ttl=int(role["max_ttl"]),
                renewable=True,
                internal={"username": username, "role": name, "db_name": role["db_name"]},
            ),
        )

    def revoke_secret(self, lease: LeaseEntry) -> None:
        """The credential stops working: a real engine would `DROP ROLE` it."""
        self.storage.delete(f"creds/{lease.internal.get('username', '')}")

    def renew_secret(
        self, lease: LeaseEntry, increment: int, limits: TTLLimits, now: int
    ) -> tuple[int, list[str]]:
        role_name = str(lease.internal.get("role", ""))
        role = self.storage.get(f"role/{role_name}")
        if role is None:
            raise bad_request(f'error during renew: could not find role with name "{role_name}"')
        if self.storage.get(f"creds/{lease.internal.get('username', '')}") is None:
            raise bad_request("lease not found or lease is not renewable")
        return calculate_ttl(
            limits,
            now,
            increment=increment,
            backend_ttl=int(role["default_ttl"]),
            backend_max_ttl=int(role["max_ttl"]),
            start=int(lease.issue_time),
        )

    def valid_credentials(self) -> list[dict[str, Any]]:
        """Every credential that has been issued and not revoked or expired."""
        credentials = []
        for key in self.storage.keys("creds/"):
            stored = self.storage.get(key)
            if stored is not None:
                credentials.append({"mount": self.context.mount.path, **stored})
        return credentials


def generate_password() -> str:
    """20 characters with a lower, an upper, a digit and a dash, like Vault's default password policy."""
    while True:
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))
        classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "-")
        if all(any(char in group for char in password) for group in classes):
            return password


def _statements(data: dict[str, Any], name: str, existing: dict[str, Any]) -> list[str]:
    if name not in data or data[name] is None:
        return list(existing.get(name, []))
    value = data[name]
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [str(item) for item in value]
    raise bad_request(f'error converting input for field "{name}": expected a list of statements')

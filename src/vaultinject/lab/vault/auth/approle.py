"""The AppRole auth method: roles, role IDs, secret IDs and login."""

from __future__ import annotations

import re
from typing import Any

from vaultinject.lab.vault import fields, ids, responses
from vaultinject.lab.vault.auth import tokenfields
from vaultinject.lab.vault.backend import Backend, LoginRenewal, MountContext
from vaultinject.lab.vault.cidr import address_allowed
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.envelope import Response, bad_request, not_found
from vaultinject.lab.vault.request import CREATE, Request
from vaultinject.lab.vault.tokens import TokenEntry

INVALID = "invalid role or secret ID"
_ROLE = r"role/(?P<name>[^/]+)"


class AppRoleBackend(Backend):
    type_name = "approle"
    unauthenticated_paths = ("login",)

    def __init__(self, context: MountContext) -> None:
        super().__init__(context)
        self.clock = context.services.clock
        add = self.router.add
        add(r"role/?", list=self.list_roles)
        add(
            _ROLE,
            read=self.read_role,
            update=self.write_role,
            delete=self.delete_role,
            exists=lambda _request, match: self.stored_role(match["name"]) is not None,
        )
        add(_ROLE + r"/role-id", read=self.read_role_id, update=self.write_role_id)
        add(_ROLE + r"/secret-id/?", update=self.generate_secret_id, list=self.list_accessors)
        add(_ROLE + r"/custom-secret-id", update=self.custom_secret_id)
        add(_ROLE + r"/secret-id/lookup", update=self.lookup_secret_id)
        add(_ROLE + r"/secret-id/destroy", update=self.destroy_secret_id, delete=self.destroy_secret_id)
        add(_ROLE + r"/secret-id-accessor/lookup", update=self.lookup_accessor)
        add(
            _ROLE + r"/secret-id-accessor/destroy", update=self.destroy_accessor, delete=self.destroy_accessor
        )
        add(r"login", update=self.login)

    # -- roles --------------------------------------------------------------------------------------

    def _existing_role(self, name: str) -> dict[str, Any]:
        role = self.stored_role(name)
        if role is None:
            raise bad_request(f'role "{name}" does not exist')
        return role

    def write_role(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"].lower()
        data = request.data
        role = (None if request.operation == CREATE else self.stored_role(name)) or {
            "bind_secret_id": True,
            "secret_id_bound_cidrs": [],
            "secret_id_num_uses": 0,
            "secret_id_ttl": 0,
            "local_secret_ids": False,
            "role_id": "",
            "token": {},
        }
        role["token"] = tokenfields.parse(data, role["token"])
        if fields.has(data, "bind_secret_id"):
            role["bind_secret_id"] = fields.boolean(data, "bind_secret_id")
        if fields.has(data, "secret_id_bound_cidrs"):
            role["secret_id_bound_cidrs"] = fields.string_list(data, "secret_id_bound_cidrs")
        if fields.has(data, "secret_id_num_uses"):
            role["secret_id_num_uses"] = fields.integer(data, "secret_id_num_uses")
        if role["secret_id_num_uses"] < 0:
            raise bad_request("secret_id_num_uses cannot be negative")
        if fields.has(data, "secret_id_ttl"):
            role["secret_id_ttl"] = fields.duration(data, "secret_id_ttl")
        if fields.has(data, "local_secret_ids") and request.operation == CREATE:
            role["local_secret_ids"] = fields.boolean(data, "local_secret_ids")
        if (
            not role["bind_secret_id"]
            and not role["secret_id_bound_cidrs"]
            and not role["token"]["token_bound_cidrs"]
        ):
            raise bad_request("at least one constraint should be enabled on the role")
        new_id = fields.string(data, "role_id") if request.operation == CREATE else ""
        with self.storage.transaction():
            if new_id or not role["role_id"]:
                self._set_role_id(name, role, new_id or ids.new_uuid())
            self.storage.put(f"role/{name}", role)
        return responses.no_content()

    def _set_role_id(self, name: str, role: dict[str, Any], role_id: str) -> None:
        owner = self.storage.get(f"roleid/{role_id}")
        if owner is not None and owner != name:
            raise bad_request("role_id already in use")
        if role["role_id"]:
            self.storage.delete(f"roleid/{role['role_id']}")
        role["role_id"] = role_id
        self.storage.put(f"roleid/{role_id}", name)

    def read_role(self, _request: Request, match: re.Match[str]) -> Response:
        role = self.stored_role(match["name"])
        if role is None:
            raise not_found()
        view = {key: value for key, value in role.items() if key not in ("token", "role_id")}
        view.update(tokenfields.view(role["token"]))
        return responses.data(view)

    def delete_role(self, _request: Request, match: re.Match[str]) -> Response:
        name = match["name"].lower()
        role = self.stored_role(name)
        if role is not None:
            with self.storage.transaction():
                self.storage.delete(f"roleid/{role['role_id']}")
                self.storage.delete_prefix(f"secretid/{name}/")
                self.storage.delete(f"role/{name}")
        return responses.no_content()

    def read_role_id(self, _request: Request, match: re.Match[str]) -> Response:
        return responses.data({"role_id": self._existing_role(match["name"])["role_id"]})

    def write_role_id(self, request: Request, match: re.Match[str]) -> Response:
        role = self._existing_role(match["name"])
        role_id = fields.string(request.data, "role_id")
        if not role_id:
            raise bad_request("missing role_id")
        with self.storage.transaction():
            self._set_role_id(match["name"].lower(), role, role_id)
            self.storage.put(f"role/{match['name'].lower()}", role)
        return responses.no_content()

    # -- secret IDs ---------------------------------------------------------------------------------

    def generate_secret_id(self, request: Request, match: re.Match[str]) -> Response:
        return self._store_secret_id(request, match["name"], ids.new_uuid())

    def custom_secret_id(self, request: Request, match: re.Match[str]) -> Response:
        secret_id = fields.string(request.data, "secret_id")
        if not secret_id:
            raise bad_request("missing secret_id")
        return self._store_secret_id(request, match["name"], secret_id)

    def _store_secret_id(self, request: Request, role_name: str, secret_id: str) -> Response:
        role = self._existing_role(role_name)
        name = role_name.lower()
        data = request.data
        ttl = fields.duration(data, "ttl") or int(role["secret_id_ttl"])
        if role["secret_id_ttl"] and ttl > role["secret_id_ttl"]:
            ttl = int(role["secret_id_ttl"])
        uses = fields.integer(data, "num_uses", int(role["secret_id_num_uses"]))
        now = self.clock.now()
        metadata = _metadata(data)
        entry = {
            "secret_id": secret_id,
            "secret_id_accessor": ids.new_uuid(),
            "secret_id_num_uses": uses,
            "secret_id_ttl": ttl,
            "cidr_list": fields.string_list(data, "cidr_list"),
            "token_bound_cidrs": fields.string_list(data, "token_bound_cidrs"),
            "metadata": metadata,
            "creation_time": now,
            "expiration_time": now + ttl if ttl else 0,
            "last_updated_time": now,
        }
        with self.storage.transaction():
            if self.storage.get(f"secretid/{name}/{secret_id}") is not None:
                raise bad_request("secret_id is already registered")
            self.storage.put(f"secretid/{name}/{secret_id}", entry)
            self.storage.put(
                f"accessor/{entry['secret_id_accessor']}", {"role": name, "secret_id": secret_id}
            )
        return responses.data(
            {
                "secret_id": secret_id,
                "secret_id_accessor": entry["secret_id_accessor"],
                "secret_id_num_uses": uses,
                "secret_id_ttl": ttl,
            }
        )

    def _secret_entry(self, name: str, secret_id: str) -> dict[str, Any] | None:
        entry = self.storage.get(f"secretid/{name.lower()}/{secret_id}")
        if entry is None:
            return None
        if entry["expiration_time"] and entry["expiration_time"] <= self.clock.now():
            self._destroy(name.lower(), secret_id, entry)
            return None
        return dict(entry)

    def _destroy(self, name: str, secret_id: str, entry: dict[str, Any]) -> None:
        with self.storage.transaction():
            self.storage.delete(f"secretid/{name}/{secret_id}")
            self.storage.delete(f"accessor/{entry['secret_id_accessor']}")

    def _lookup_view(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {
            "cidr_list": entry["cidr_list"],
            "creation_time": rfc3339(entry["creation_time"]),
            "expiration_time": rfc3339(entry["expiration_time"])
            if entry["expiration_time"]
            else "0001-01-01T00:00:00Z",
            "last_updated_time": rfc3339(entry["last_updated_time"]),
            "metadata": entry["metadata"],
            "secret_id_accessor": entry["secret_id_accessor"],
            "secret_id_num_uses": entry["secret_id_num_uses"],
            "secret_id_ttl": entry["secret_id_ttl"],
            "token_bound_cidrs": entry["token_bound_cidrs"],
        }

    def lookup_secret_id(self, request: Request, match: re.Match[str]) -> Response:
        self._existing_role(match["name"])
        entry = self._secret_entry(match["name"], fields.string(request.data, "secret_id"))
        if entry is None:
            raise not_found()
        return responses.data(self._lookup_view(entry))

    def destroy_secret_id(self, request: Request, match: re.Match[str]) -> Response:
        name, secret_id = match["name"].lower(), fields.string(request.data, "secret_id")
        entry = self.storage.get(f"secretid/{name}/{secret_id}")
        if entry is not None:
            self._destroy(name, secret_id, entry)
        return responses.no_content()

    def _by_accessor(self, request: Request, role_name: str) -> tuple[str, dict[str, Any]] | None:
        link = self.storage.get(f"accessor/{fields.string(request.data, 'secret_id_accessor')}")
        if link is None or link["role"] != role_name.lower():
            return None
        entry = self._secret_entry(link["role"], link["secret_id"])
        return None if entry is None else (link["secret_id"], entry)

    def lookup_accessor(self, request: Request, match: re.Match[str]) -> Response:
        self._existing_role(match["name"])
        found = self._by_accessor(request, match["name"])
        if found is None:
            raise bad_request("failed to find accessor entry for secret_id_accessor")
        return responses.data(self._lookup_view(found[1]))

    def destroy_accessor(self, request: Request, match: re.Match[str]) -> Response:
        found = self._by_accessor(request, match["name"])
        if found is not None:
            self._destroy(match["name"].lower(), found[0], found[1])
        return responses.no_content()

    def list_accessors(self, _request: Request, match: re.Match[str]) -> Response:
        self._existing_role(match["name"])
        accessors = []
        for key in self.storage.keys(f"secretid/{match['name'].lower()}/"):
            entry = self.storage.get(key)
            if entry is not None:
                accessors.append(entry["secret_id_accessor"])
        return responses.keys(sorted(accessors))

    # -- login --------------------------------------------------------------------------------------

    def login(self, request: Request, _match: re.Match[str]) -> Response:
        role_id = fields.string(request.data, "role_id")
        if not role_id:
            raise bad_request("missing role_id")
        name = self.storage.get(f"roleid/{role_id}")
        role = self.stored_role(str(name)) if name is not None else None
        if role is None:
            raise bad_request(INVALID)
        metadata: dict[str, str] = {}
        bound_cidrs = list(role["token"]["token_bound_cidrs"])
        if role["bind_secret_id"]:
            secret_id = fields.string(request.data, "secret_id")
            if not secret_id:
                raise bad_request("missing secret_id")
            entry = self._use_secret_id(str(name), secret_id, request.remote_addr, role)
            metadata = dict(entry["metadata"])
            bound_cidrs = entry["token_bound_cidrs"] or bound_cidrs
        elif role["secret_id_bound_cidrs"] and not address_allowed(
            request.remote_addr, role["secret_id_bound_cidrs"]
        ):
            raise bad_request(
                f"source address {request.remote_addr!r} unauthorized through CIDR restrictions on the role"
            )
        grant = tokenfields.grant(
            {**role["token"], "token_bound_cidrs": bound_cidrs},
            metadata={**metadata, "role_name": str(name)},
            display_name="",
            alias_name=role_id,
            internal={"role_name": str(name)},
        )
        return Response(login=grant)

    def _use_secret_id(self, name: str, secret_id: str, remote: str, role: dict[str, Any]) -> dict[str, Any]:
        with self.storage.transaction():
            entry = self._secret_entry(name, secret_id)
            if entry is None:
                raise bad_request(INVALID)
            cidrs = entry["cidr_list"] or role["secret_id_bound_cidrs"]
            if cidrs and not address_allowed(remote, cidrs):
                raise bad_request(
                    f"source address {remote!r} unauthorized through CIDR restrictions on the secret ID"
                )
            if entry["secret_id_num_uses"] == 1:
                self._destroy(name, secret_id, entry)
            elif entry["secret_id_num_uses"] > 1:
                entry["secret_id_num_uses"] -= 1
                entry["last_updated_time"] = self.clock.now()
                self.storage.put(f"secretid/{name}/{secret_id}", entry)
        return entry

    def renew_login(self, token: TokenEntry) -> LoginRenewal:
        name = str(token.internal.get("role_name", ""))
        role = self.stored_role(name) if name else None
        if role is None:
            raise bad_request(f'role "{name}" does not exist during renewal')
        params = role["token"]
        return LoginRenewal(
            int(params["token_ttl"]), int(params["token_max_ttl"]), int(params["token_period"])
        )


def _metadata(data: dict[str, Any]) -> dict[str, str]:
    """Secret-ID metadata arrives as a JSON string (hvac) or an object."""
    return fields.string_map(data, "metadata")

"""The token auth method (`auth/token/`): create, look up, renew and revoke tokens, and token roles."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from vaultinject.lab.vault import fields, ids, responses
from vaultinject.lab.vault.backend import Backend, MountContext
from vaultinject.lab.vault.core import auth_block
from vaultinject.lab.vault.envelope import Response, VaultError, bad_request
from vaultinject.lab.vault.request import Request
from vaultinject.lab.vault.tokens import TokenEntry
from vaultinject.lab.vault.ttl import calculate_ttl

if TYPE_CHECKING:
    from vaultinject.lab.vault.core import Core

_ROLE_FIELDS = (
    "allowed_policies",
    "disallowed_policies",
    "orphan",
    "renewable",
    "path_suffix",
    "token_period",
    "token_explicit_max_ttl",
    "token_ttl",
    "token_max_ttl",
    "token_type",
    "allowed_entity_aliases",
    "token_bound_cidrs",
    "token_no_default_policy",
    "token_num_uses",
)


class TokenBackend(Backend):
    """Token operations; every token, whichever method issued it, lives in the core's token store."""

    type_name = "token"
    sudo_paths = ("revoke-orphan/*", "accessors*")

    def __init__(self, context: MountContext, core: Core) -> None:
        super().__init__(context)
        self.core = core
        add = self.router.add
        add(r"create", update=self.create)
        add(r"create-orphan", update=lambda request, match: self.create(request, match, orphan=True))
        add(r"create/(?P<role>[^/]+)", update=self.create_with_role)
        add(r"lookup", update=self.lookup, read=self.lookup)
        add(r"lookup/(?P<token>.+)", read=self.lookup)
        add(r"lookup-self", read=self.lookup_self, update=self.lookup_self)
        add(r"lookup-accessor", update=self.lookup_accessor)
        add(r"renew", update=self.renew)
        add(r"renew/(?P<token>.+)", update=self.renew)
        add(r"renew-self", update=self.renew_self)
        add(r"renew-accessor", update=self.renew_accessor)
        add(r"revoke", update=self.revoke)
        add(r"revoke/(?P<token>.+)", update=self.revoke)
        add(r"revoke-self", update=self.revoke_self)
        add(r"revoke-accessor", update=self.revoke_accessor)
        add(r"revoke-orphan", update=self.revoke_orphan)
        add(r"accessors/?", list=self.list_accessors)
        add(r"roles/?", list=self.list_roles)
        add(
            r"roles/(?P<role>[^/]+)",
            read=self.read_role,
            update=self.write_role,
            delete=self.delete_role,
            exists=lambda _request, match: self.storage.get(f"role/{match['role'].lower()}") is not None,
        )
        add(r"tidy", update=lambda _request, _match: responses.no_content())

    # -- creation -----------------------------------------------------------------------------------

    def create_with_role(self, request: Request, match: re.Match[str]) -> Response:
        role = self.storage.get(f"role/{match['role'].lower()}")
        if role is None:
            raise bad_request(f"unknown role {match['role']}")
        return self.create(request, match, role=role)

    def create(
        self,
        request: Request,
        _match: re.Match[str],
        orphan: bool = False,
        role: dict[str, Any] | None = None,
    ) -> Response:
        parent = request.token
        assert parent is not None
        data = request.data
        acl = self.core.acl(parent)
        privileged = parent.is_root or acl.has_sudo(request.path)
        token_id = fields.string(data, "id")
        if token_id and not privileged:
            raise bad_request("root or sudo privileges required to specify token id")
        if "." in token_id:
            raise bad_request("token IDs can not contain periods")
        if token_id and self.core.tokens.get(token_id) is not None:
            raise bad_request("cannot create a token with a duplicate ID")
        no_parent = fields.boolean(data, "no_parent")
        if no_parent and not orphan and role is None and not privileged:
            raise bad_request("root or sudo privileges required to create orphan token")
        num_uses = fields.integer(data, "num_uses")
        if num_uses < 0:
            raise bad_request("number of uses cannot be negative")
        token_type = fields.string(data, "type", "service") or "service"
        if token_type not in ("service", "default"):
            raise bad_request(
                f'unsupported token type "{token_type}": the lab server issues service tokens only'
            )
        policies = self._policies(parent, data, role)
        warnings = [
            f'Policy "{name}" does not exist'
            for name in policies
            if name not in ("root", "default") and self.core.policies.get(name) is None
        ]
        period = fields.duration(data, "period") or int((role or {}).get("token_period", 0))
        explicit = fields.duration(data, "explicit_max_ttl") or int(
            (role or {}).get("token_explicit_max_ttl", 0)
        )
        renewable = fields.boolean(data, "renewable", True) and bool((role or {}).get("renewable", True))
        ttl, ttl_warnings = self._ttl(
            parent,
            policies=policies,
            ttl=fields.duration(data, "ttl"),
            period=period,
            explicit=explicit,
            role=role,
        )
        warnings.extend(ttl_warnings)
        is_orphan = orphan or no_parent or bool((role or {}).get("orphan", False))
        now = self.core.clock.now_int()
        display = fields.string(data, "display_name")
        entry = TokenEntry(
            id=token_id or ids.service_token(),
            accessor=ids.accessor(),
            policies=policies,
            path=request.path,
            mount_path="auth/token/",
            display_name=f"token-{display.lower()}" if display and display != "token" else "token",
            meta=fields.string_map(data, "meta") or None,
            num_uses=num_uses,
            creation_time=float(now),
            creation_ttl=ttl,
            ttl=ttl,
            expire_time=float(now + ttl) if ttl else 0.0,
            explicit_max_ttl=explicit,
            period=period,
            renewable=renewable and ttl > 0,
            orphan=is_orphan,
            parent="" if is_orphan else parent.id,
            role=str((role or {}).get("name", "")),
        )
        self.core.tokens.put(entry)
        return Response(auth=auth_block(entry), warnings=warnings)

    def _policies(self, parent: TokenEntry, data: dict[str, Any], role: dict[str, Any] | None) -> list[str]:
        requested = fields.parse_policies(data.get("policies"))
        no_default = fields.boolean(data, "no_default_policy")
        if role is not None:
            allowed = role.get("allowed_policies") or []
            disallowed = set(role.get("disallowed_policies") or [])
            if not requested:
                requested = list(allowed) or [p for p in parent.policies if p != "root"]
            bad = [
                p for p in requested if (allowed and p not in allowed and p != "default") or p in disallowed
            ]
            if bad:
                raise bad_request("token policies must be subset of the role's allowed policies")
        elif not requested:
            requested = list(parent.policies)
        elif not parent.is_root:
            parent_set = set(parent.policies) | {"default"}
            if not set(requested) <= parent_set:
                raise bad_request("child policies must be subset of parent")
        return fields.sanitize_policies(requested, add_default=not no_default)

    def _ttl(
        self,
        parent: TokenEntry,
        *,
        policies: list[str],
        ttl: int,
        period: int,
        explicit: int,
        role: dict[str, Any] | None,
    ) -> tuple[int, list[str]]:
        if ttl == 0 and period == 0 and policies == ["root"] and explicit == 0:
            if parent.expire_time:
                raise bad_request("expiring root tokens cannot create non-expiring root tokens")
            return 0, []
        role = role or {}
        return calculate_ttl(
            self.context.limits,
            self.core.clock.now_int(),
            backend_ttl=ttl or int(role.get("token_ttl", 0)),
            period=period,
            backend_max_ttl=int(role.get("token_max_ttl", 0)),
            explicit_max_ttl=explicit,
        )

    # -- lookup -------------------------------------------------------------------------------------

    def _target(self, request: Request, match: re.Match[str]) -> str:
        token = match.groupdict().get("token") or fields.string(request.data, "token")
        if not token:
            raise bad_request("missing token")
        return token

    def lookup(self, request: Request, match: re.Match[str]) -> Response:
        entry = self.core.tokens.lookup(self._target(request, match))
        if entry is None:
            raise VaultError(403, "bad token")
        return responses.data(entry.lookup_data(self.core.clock.now()))

    def lookup_self(self, request: Request, _match: re.Match[str]) -> Response:
        assert request.token is not None
        entry = self.core.tokens.get(request.token.id) or request.token
        return responses.data(entry.lookup_data(self.core.clock.now()))

    def _by_accessor(self, request: Request) -> TokenEntry:
        entry = self.core.tokens.by_accessor(fields.string(request.data, "accessor"))
        if entry is None:
            raise bad_request("invalid accessor")
        return entry

    def lookup_accessor(self, request: Request, _match: re.Match[str]) -> Response:
        data = self._by_accessor(request).lookup_data(self.core.clock.now())
        data["id"] = ""
        return responses.data(data)

    # -- renewal ------------------------------------------------------------------------------------

    def _renew(self, entry: TokenEntry, request: Request) -> Response:
        renewed, warnings = self.core.renew_token(entry, fields.duration(request.data, "increment"))
        return Response(auth=auth_block(renewed), warnings=warnings)

    def renew(self, request: Request, match: re.Match[str]) -> Response:
        entry = self.core.tokens.lookup(self._target(request, match))
        if entry is None:
            raise bad_request("token not found")
        return self._renew(entry, request)

    def renew_self(self, request: Request, _match: re.Match[str]) -> Response:
        assert request.token is not None
        return self._renew(self.core.tokens.get(request.token.id) or request.token, request)

    def renew_accessor(self, request: Request, _match: re.Match[str]) -> Response:
        return self._renew(self._by_accessor(request), request)

    # -- revocation ---------------------------------------------------------------------------------

    def revoke(self, request: Request, match: re.Match[str]) -> Response:
        self.core.tokens.revoke(self._target(request, match))
        return responses.no_content()

    def revoke_self(self, request: Request, _match: re.Match[str]) -> Response:
        assert request.token is not None
        self.core.tokens.revoke(request.token.id)
        return responses.no_content()

    def revoke_accessor(self, request: Request, _match: re.Match[str]) -> Response:
        self.core.tokens.revoke(self._by_accessor(request).id)
        return responses.no_content()

    def revoke_orphan(self, request: Request, match: re.Match[str]) -> Response:
        assert request.token is not None
        if not (request.token.is_root or self.core.acl(request.token).has_sudo(request.path)):
            raise bad_request("root or sudo privileges required to revoke and orphan")
        self.core.tokens.revoke_orphan(self._target(request, match))
        return responses.no_content()

    def list_accessors(self, _request: Request, _match: re.Match[str]) -> Response:
        return responses.keys(self.core.tokens.accessors())

    # -- roles --------------------------------------------------------------------------------------

    def read_role(self, _request: Request, match: re.Match[str]) -> Response:
        role = self.storage.get(f"role/{match['role'].lower()}")
        if role is None:
            raise VaultError(404)
        return responses.data(role)

    def write_role(self, request: Request, match: re.Match[str]) -> Response:
        name = match["role"].lower()
        data = request.data
        role: dict[str, Any] = self.storage.get(f"role/{name}") or {"name": name}
        for key in _ROLE_FIELDS:
            if key not in data:
                role.setdefault(key, _role_default(key))
                continue
            if key in ("allowed_policies", "disallowed_policies"):
                role[key] = fields.parse_policies(data[key])
            elif key in ("orphan", "renewable", "token_no_default_policy"):
                role[key] = fields.boolean(data, key)
            elif key in ("token_period", "token_explicit_max_ttl", "token_ttl", "token_max_ttl"):
                role[key] = fields.duration(data, key)
            elif key == "token_num_uses":
                role[key] = fields.integer(data, key)
            elif key in ("allowed_entity_aliases", "token_bound_cidrs"):
                role[key] = fields.string_list(data, key)
            else:
                role[key] = fields.string(data, key)
        self.storage.put(f"role/{name}", role)
        return responses.no_content()

    def delete_role(self, _request: Request, match: re.Match[str]) -> Response:
        self.storage.delete(f"role/{match['role'].lower()}")
        return responses.no_content()


def _role_default(key: str) -> Any:
    if key in ("allowed_policies", "disallowed_policies", "allowed_entity_aliases", "token_bound_cidrs"):
        return []
    if key == "renewable":
        return True
    if key in ("orphan", "token_no_default_policy"):
        return False
    if key in ("path_suffix", "token_type"):
        return "" if key == "path_suffix" else "default-service"
    return 0

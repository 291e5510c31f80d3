"""The `token_*` fields every role-based auth method shares (Vault SDK `tokenutil`), with the deprecated
aliases (`policies`, `ttl`, `max_ttl`, `period`, `num_uses`, `bound_cidrs`) hvac still sends."""

from __future__ import annotations

import ipaddress
from typing import Any

from vaultinject.lab.vault import fields
from vaultinject.lab.vault.envelope import LoginGrant, bad_request

LEGACY = {
    "policies": "token_policies",
    "ttl": "token_ttl",
    "max_ttl": "token_max_ttl",
    "period": "token_period",
    "num_uses": "token_num_uses",
    "bound_cidrs": "token_bound_cidrs",
}
TOKEN_TYPES = ("default", "service", "batch", "default-service", "default-batch")
DEFAULTS: dict[str, Any] = {
    "token_policies": [],
    "token_ttl": 0,
    "token_max_ttl": 0,
    "token_period": 0,
    "token_explicit_max_ttl": 0,
    "token_num_uses": 0,
    "token_no_default_policy": False,
    "token_bound_cidrs": [],
    "token_type": "default",
}


def parse(data: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """Merge request fields into stored token params; unspecified fields keep their stored values."""
    params = dict(DEFAULTS)
    params["legacy"] = []
    if existing:
        params.update({key: existing[key] for key in (*DEFAULTS, "legacy") if key in existing})
    for name in DEFAULTS:
        if name in data and data[name] is not None:
            params[name] = _parse_field(data, name)
    legacy = set(params["legacy"])
    for old, new in LEGACY.items():
        if new in data and data[new] is not None:
            if old in data and data[old] is not None:
                raise bad_request(f'Cannot specify both "{new}" and "{old}"')
            legacy.discard(old)
        elif old in data and data[old] is not None:
            params[new] = _parse_field(data, new, source=old)
            legacy.add(old)
    params["legacy"] = sorted(legacy)
    if params["token_num_uses"] < 0:
        raise bad_request("'token_num_uses' cannot be negative")
    if params["token_type"] not in TOKEN_TYPES:
        raise bad_request(f"invalid 'token_type' value {params['token_type']!r}")
    return params


def _parse_field(data: dict[str, Any], name: str, source: str | None = None) -> Any:
    key = source or name
    if name == "token_policies":
        return fields.parse_policies(data[key])
    if name == "token_bound_cidrs":
        cidrs = fields.string_list(data, key)
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as error:
                raise bad_request(f"error parsing {name}: {error}") from None
        return cidrs
    if name == "token_no_default_policy":
        return fields.boolean(data, key)
    if name == "token_num_uses":
        return fields.integer(data, key)
    if name == "token_type":
        return fields.string(data, key)
    return fields.duration(data, key)


def view(params: dict[str, Any]) -> dict[str, Any]:
    """The token fields of a role read, plus the deprecated ones the role was written with."""
    result = {name: params.get(name, default) for name, default in DEFAULTS.items()}
    for old in params.get("legacy", []):
        value = result[LEGACY[old]]
        if value:
            result[old] = value
    return result


def grant(params: dict[str, Any], **identity: Any) -> LoginGrant:
    """A LoginGrant carrying the role's token settings; `identity` fills display name, metadata, alias."""
    return LoginGrant(
        policies=list(params["token_policies"]),
        ttl=int(params["token_ttl"]),
        max_ttl=int(params["token_max_ttl"]),
        period=int(params["token_period"]),
        explicit_max_ttl=int(params["token_explicit_max_ttl"]),
        num_uses=int(params["token_num_uses"]),
        no_default_policy=bool(params["token_no_default_policy"]),
        bound_cidrs=list(params["token_bound_cidrs"]),
        token_type=str(params["token_type"]),
        **identity,
    )
